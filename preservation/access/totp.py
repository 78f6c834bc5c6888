"""The second factor: TOTP (RFC 6238: 6 digits, 30-second steps, SHA-1, as every authenticator
app expects), its QR code, and one-time recovery codes.

- A code is accepted for the current step and one step either side (clock drift), and only
  for a step later than the last one accepted: the same code, or an older one, is refused
  (RFC 6238 section 5.2).
- Recovery codes are 80 random bits each, shown once, stored as SHA-256 (their entropy makes a
  slow hash unnecessary), and each works once."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime

import pyotp
import segno

STEP_SECONDS = 30
DIGITS = 6
#: Steps accepted either side of the current one.
WINDOW = 1
RECOVERY_CODES = 10
ISSUER = "Preservation dispatcher"


def new_secret() -> str:
    """A 160-bit secret, base32 (RFC 4226's recommended length)."""
    return pyotp.random_base32(length=32)


def provisioning_uri(secret: str, *, account: str, issuer: str = ISSUER) -> str:
    """The otpauth:// URI an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=issuer)


def qr_svg(uri: str) -> str:
    """The QR code of `uri` as an inline SVG element (no XML declaration, no script)."""
    qr = segno.make(uri, error="m")
    return qr.svg_inline(scale=5, border=2, dark="#000", light="#fff", title="QR code to scan")


def step_of(at: datetime) -> int:
    return int(at.timestamp()) // STEP_SECONDS


def matching_step(secret: str, code: str, *, now: datetime, after: int | None) -> int | None:
    """The time step whose code is `code` (within the window), if it is later than `after`;
    else None. The caller stores the step returned, so the code is never accepted again."""
    code = "".join(code.split())
    if not secret or len(code) != DIGITS or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)
    current = step_of(now)
    found = None
    for step in range(current - WINDOW, current + WINDOW + 1):
        # Every candidate is compared (constant work), in constant time.
        if hmac.compare_digest(totp.generate_otp(step), code):
            found = step
    if found is None or (after is not None and found <= after):
        return None
    return found


def code_at(secret: str, at: datetime) -> str:
    """The code an authenticator shows at `at` (for tests and the loopback provider)."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).at(at)


def new_recovery_codes(count: int = RECOVERY_CODES) -> list[str]:
    """Codes like "k3f7-q2ma-x9ce-4tbd" (16 base32 characters, 80 bits)."""
    codes = []
    for _ in range(count):
        raw = base64.b32encode(secrets.token_bytes(10)).decode("ascii").lower()
        codes.append("-".join(raw[i : i + 4] for i in range(0, 16, 4)))
    return codes


def normalise_recovery_code(code: str) -> str:
    return "".join(ch for ch in code.lower() if ch.isalnum())


def recovery_hash(code: str) -> str:
    return hashlib.sha256(b"recovery:" + normalise_recovery_code(code).encode()).hexdigest()


def looks_like_recovery_code(code: str) -> bool:
    return len(normalise_recovery_code(code)) == 16
