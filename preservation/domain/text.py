"""Text from people, checked at the boundary (pure: no I/O).

- Single-line text (references, names, subjects, addresses, URLs): no control character at all.
  A CR or LF in a case reference used to reach the mail's Subject header and fail every delivery
  attempt of an urgent request; a line or paragraph separator (U+2028, U+2029) breaks a line too.
- Multi-line text (a summary, a note, a postal address): line breaks (CR, LF) and tabs are kept;
  every other control character is refused.
- Bidirectional controls (U+202A..U+202E, U+2066..U+2069, U+200E, U+200F, U+061C) are not refused
  (an Arabic or Hebrew name may need them) but warned about: a right-to-left override makes
  "moc.elgoog@" read as a different address than the one stored.
- Mixed-script domain labels ("gооgle.com" with Cyrillic o's) are warned about: a look-alike of
  a real provider's domain sends a request, or a reminder, to someone else.

Errors are `ValueError` (pydantic names the field: 422) or `InvalidInput(field, ...)`.
"""

from __future__ import annotations

import unicodedata
from typing import Annotated

from pydantic import AfterValidator

from preservation.errors import InvalidInput

__all__ = [
    "BIDI_CONTROLS",
    "MultiLine",
    "SingleLine",
    "bidi_warning",
    "check_multi_line",
    "check_single_line",
    "control_problem",
    "mixed_script_warning",
    "scripts_of",
]

#: Kept in multi-line text.
LINE_CONTROLS = frozenset("\n\r\t")
#: Explicit directional formatting characters (Unicode UAX #9) and the implicit marks.
BIDI_CONTROLS = frozenset(
    "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
)
#: Line and paragraph separators: not Cc, but they end a line as LF does.
LINE_SEPARATORS = frozenset("\u2028\u2029\x85")


def _describe(ch: str) -> str:
    name = unicodedata.name(ch, "")
    code = f"U+{ord(ch):04X}"
    return f"{code} {name}" if name else code


def control_problem(value: str, *, multi_line: bool = False) -> str | None:
    """Why `value` is refused (None when it is fine): the first control character and where."""
    for index, ch in enumerate(value):
        if multi_line and ch in LINE_CONTROLS:
            continue
        if ch in LINE_SEPARATORS or unicodedata.category(ch) == "Cc":
            kind = (
                "a line break" if ch in "\r\n" or ch in LINE_SEPARATORS else "a control character"
            )
            rule = (
                "control characters other than line breaks and tabs are not allowed"
                if multi_line
                else "must be a single line without control characters"
            )
            return f"{rule} (found {kind}, {_describe(ch)}, at position {index + 1})"
    return None


def _single(value: str) -> str:
    problem = control_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


def _multi(value: str) -> str:
    problem = control_problem(value, multi_line=True)
    if problem is not None:
        raise ValueError(problem)
    return value


#: A str field of a pydantic model that must be one line (422 naming the field otherwise).
SingleLine = Annotated[str, AfterValidator(_single)]
#: A str field that may hold line breaks and tabs, and no other control character.
MultiLine = Annotated[str, AfterValidator(_multi)]


def check_single_line(value: str, *, field: str) -> str:
    """`value` unchanged, or InvalidInput naming `field`."""
    problem = control_problem(value)
    if problem is not None:
        raise InvalidInput(field, problem)
    return value


def check_multi_line(value: str, *, field: str) -> str:
    problem = control_problem(value, multi_line=True)
    if problem is not None:
        raise InvalidInput(field, problem)
    return value


def bidi_warning(value: str, *, what: str = "the value") -> str | None:
    """A warning when `value` holds bidirectional controls, which make it read differently from
    what is stored (None otherwise)."""
    found = sorted({ch for ch in value if ch in BIDI_CONTROLS})
    if not found:
        return None
    names = ", ".join(_describe(ch) for ch in found)
    return (
        f"{what} holds bidirectional control characters ({names}): it may display in another "
        "order than it is stored and sent; check it character by character"
    )


def _script(ch: str) -> str | None:
    """The script of a letter, from its Unicode name ("CYRILLIC SMALL LETTER O" -> "CYRILLIC");
    None for digits, hyphens and other characters shared by every script."""
    if not ch.isalpha():
        return None
    if ch.isascii():
        return "LATIN"
    name = unicodedata.name(ch, "")
    if not name:
        return None
    first = name.split(" ", 1)[0]
    # CJK: Han, Hiragana and Katakana are written together in Japanese names.
    if first in ("CJK", "HIRAGANA", "KATAKANA", "KATAKANA-HIRAGANA"):
        return "CJK"
    return first


def scripts_of(label: str) -> frozenset[str]:
    """The scripts of the letters of `label`."""
    return frozenset(s for s in (_script(ch) for ch in label) if s is not None)


def _unicode_label(label: str) -> str:
    if label.lower().startswith("xn--"):
        try:
            import idna

            return idna.decode(label)
        except (idna.IDNAError, UnicodeError, ValueError):
            return label
    return label


def mixed_script_warning(domain: str, *, what: str = "the domain") -> str | None:
    """A warning when a label of `domain` (Unicode or IDNA "xn--" form) mixes scripts, as a
    look-alike of a Latin name does ("gооgle" with Cyrillic o's); None otherwise."""
    for raw in domain.strip().rstrip(".").split("."):
        label = _unicode_label(raw)
        scripts = scripts_of(label)
        if len(scripts) > 1:
            names = " and ".join(s.title() for s in sorted(scripts))
            shown = label if label == raw else f"{label} ({raw})"
            return (
                f"{what} mixes {names} letters in {shown!r}: it may be a look-alike of another "
                "name; check that it is the one meant"
            )
    return None
