"""Passwords: argon2id hashes (argon2-cffi, RFC 9106's recommended low-memory profile), a
length rule and nothing else (NIST SP 800-63B: no composition rules, no forced rotation).

Hashing costs about 50 ms and 64 MiB: callers on the event loop run it in a thread
(`asyncio.to_thread`)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from preservation.errors import InvalidInput

#: Longest password accepted: long enough for any passphrase, short enough to hash cheaply.
MAX_LENGTH = 1000

_HASHER = PasswordHasher()
#: Checked against when the name is unknown, so a wrong name costs as long as a wrong password.
_DUMMY = _HASHER.hash("not a password of anyone")


def check_policy(password: str, *, min_length: int, name: str = "") -> None:
    """InvalidInput("password", ...) unless the password may be used."""
    if len(password) < min_length:
        raise InvalidInput("password", f"must be at least {min_length} characters")
    if len(password) > MAX_LENGTH:
        raise InvalidInput("password", f"must be at most {MAX_LENGTH} characters")
    if name and password.strip().casefold() == name.strip().casefold():
        raise InvalidInput("password", "must not be your name")


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(stored: str, password: str) -> bool:
    """True when `password` matches the stored hash; an empty hash matches nothing (but costs
    the same time)."""
    if not stored or len(password) > MAX_LENGTH:
        _verify(_DUMMY, password[:MAX_LENGTH])
        return False
    return _verify(stored, password)


def needs_rehash(stored: str) -> bool:
    """True when the hash was made with weaker parameters than today's."""
    try:
        return _HASHER.check_needs_rehash(stored)
    except InvalidHashError:
        return True


def _verify(stored: str, password: str) -> bool:
    try:
        return _HASHER.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
