"""Address headers (From, To, Reply-To) of the mail we send, written so that any RFC 5322 reader
gets back exactly the names and addresses we meant: "National Crime Agency, National Cyber Crime
Unit" is one mailbox, not two, whatever its length or script.

Values are `email.headerregistry.Address` objects; the header text is written here rather than by
the email package's folder, because Python 3.11's folder drops the quotes of a long display name
that holds a comma (the header then names several mailboxes without a domain) and writes an
internationalised domain as an encoded-word (which no reader accepts). Here:

- an ASCII name is a quoted-string unless it is plain words; a long one is folded at its spaces
  (folding white space is allowed inside a quoted-string);
- a name with other characters is a phrase of plain words and RFC 2047 encoded-words (UTF-8, Q or
  B, whichever is shorter), each at most 75 characters and holding whole words where it can:
  the space between two encoded-words is written inside the second one, so a reader that follows
  RFC 2047 (mail clients) shows the name exactly; Python's own parser shows one extra space there;
- the domain is written in its ASCII (IDNA) form; a non-ASCII local part cannot be written without
  SMTPUTF8 and is refused (ValueError, naming the address);
- control characters (CR, LF, TAB ...) in a name become spaces: a name can never start a header.

Lines are folded before 78 characters where the words allow it (never beyond the 998 of RFC 5322:
an encoded-word is at most 75)."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Sequence
from email.headerregistry import Address
from email.utils import parseaddr

#: atext of RFC 5322 (a word made of these needs no quoting in a phrase).
_ATEXT = re.compile(r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+")
_DOT_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+(\.[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+)*")
#: Characters an encoded-word in a phrase may carry as themselves (RFC 2047 section 5(3)).
_Q_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!*+-/")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]")
MAX_ENCODED_WORD = 75
_PREFIX_Q, _PREFIX_B, _SUFFIX = "=?utf-8?q?", "=?utf-8?b?", "?="
LINE = 78


def ascii_domain(domain: str) -> str:
    """The domain in its ASCII (IDNA) form; ValueError when it has none."""
    domain = domain.strip().rstrip(".")
    if domain.isascii():
        return domain.lower()
    try:
        return domain.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise ValueError(f"{domain!r} is not a valid internationalised domain name") from None


def mailbox(addr_spec: str, name: str = "") -> Address:
    """An Address for `addr_spec` ("a@b.example", or "Name <a@b.example>" whose name is used
    when `name` is empty), with its domain in IDNA form. ValueError for an address that cannot
    be written in a header without SMTPUTF8 (no domain, a non-ASCII local part)."""
    parsed_name, parsed = parseaddr(addr_spec)
    parsed = parsed or addr_spec.strip()
    local, at, domain = parsed.rpartition("@")
    if not at or not local or not domain:
        raise ValueError(f"{addr_spec!r} is not an e-mail address")
    if not local.isascii():
        raise ValueError(
            f"{addr_spec!r}: a non-ASCII local part needs SMTPUTF8, which this service does not use"
        )
    return Address(
        display_name=clean_name(name or parsed_name), username=local, domain=ascii_domain(domain)
    )


def clean_name(name: str) -> str:
    """A display name on one line: control characters become spaces, runs of spaces one."""
    return " ".join(_CONTROL.sub(" ", name or "").split())


def _addr_spec(address: Address) -> str:
    local = address.username
    if not _DOT_ATOM.fullmatch(local):
        local = '"' + local.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"{local}@{address.domain}"


def _q_word(text: str) -> str:
    out = []
    for byte in text.encode("utf-8"):
        if byte == 0x20:
            out.append("_")
        elif byte in _Q_SAFE:
            out.append(chr(byte))
        else:
            out.append(f"={byte:02X}")
    return _PREFIX_Q + "".join(out) + _SUFFIX


def _b_word(text: str) -> str:
    return _PREFIX_B + base64.b64encode(text.encode("utf-8")).decode("ascii") + _SUFFIX


def _encoded_word(text: str) -> str:
    q, b = _q_word(text), _b_word(text)
    return q if len(q) <= len(b) else b


def _fits(text: str) -> bool:
    return len(_encoded_word(text)) <= MAX_ENCODED_WORD


def _split_long(text: str) -> list[str]:
    """A text too long for one encoded-word, cut between characters (never inside one)."""
    pieces: list[str] = []
    current = ""
    for char in text:
        if current and not _fits(current + char):
            pieces.append(current)
            current = ""
        current += char
    if current:
        pieces.append(current)
    return pieces


def _encode_run(words: Sequence[str]) -> list[str]:
    """Encoded-words for consecutive words that cannot be atoms. Whole words per encoded-word
    where they fit; the space between two encoded-words goes inside the second one."""
    chunks: list[str] = []
    current = ""
    for index, word in enumerate(words):
        piece = word if index == 0 else " " + word
        if current and _fits(current + piece):
            current += piece
            continue
        if current:
            chunks.append(current)
        if _fits(piece):
            current = piece
        else:
            *done, current = _split_long(piece)
            chunks.extend(done)
    if current:
        chunks.append(current)
    return [_encoded_word(c) for c in chunks]


def _phrase_tokens(name: str) -> list[str]:
    """The display name as the tokens of a phrase (folded later at the spaces between them)."""
    words = name.split(" ")
    if name.isascii():
        if all(_ATEXT.fullmatch(w) for w in words):
            return words
        # One quoted-string; its spaces are folding points (FWS inside a quoted-string).
        quoted = [w.replace("\\", "\\\\").replace('"', '\\"') for w in words]
        quoted[0] = '"' + quoted[0]
        quoted[-1] = quoted[-1] + '"'
        return quoted
    tokens: list[str] = []
    run: list[str] = []
    for word in words:
        if _ATEXT.fullmatch(word):
            if run:
                tokens.extend(_encode_run(run))
                run = []
            tokens.append(word)
        else:
            run.append(word)
    if run:
        tokens.extend(_encode_run(run))
    return tokens


def _mailbox_tokens(address: Address) -> list[str]:
    spec = _addr_spec(address)
    name = clean_name(address.display_name)
    if not name:
        return [spec]
    return [*_phrase_tokens(name), f"<{spec}>"]


def _fold(name: str, groups: Iterable[list[str]]) -> str:
    """`groups` (one token list per mailbox) joined by commas, folded before LINE columns; the
    value without "Name: "."""
    lines: list[str] = []
    line = f"{name}:"
    fresh = True  # nothing on this line yet but the field name or the folding space
    for tokens in groups:
        for t_index, token in enumerate(tokens):
            text = token + ("," if t_index == len(tokens) - 1 else "")
            if not fresh and len(line) + 1 + len(text) > LINE:
                lines.append(line)
                line = ""
            line += " " + text
            fresh = False
    lines.append(line.removesuffix(","))
    return "\r\n".join(lines)[len(name) + 2 :]


def header_value(name: str, addresses: Sequence[Address]) -> str:
    """The folded value of the address header `name` (lines joined by CRLF and a space), for
    EmailMessage.set_raw or a header written by hand."""
    if not addresses:
        raise ValueError(f"{name}: no address")
    return _fold(name, (_mailbox_tokens(a) for a in addresses))
