"""The text rule (domain/text.py): single-line text refuses every control character, multi-line
text keeps line breaks and tabs only; bidirectional controls and mixed-script domains are
warned about, not refused."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from preservation.domain.text import (
    MultiLine,
    SingleLine,
    bidi_warning,
    check_single_line,
    control_problem,
    mixed_script_warning,
)
from preservation.errors import InvalidInput


class Form(BaseModel):
    reference: SingleLine = ""
    note: MultiLine = ""


@pytest.mark.parametrize(
    "ch", ["\r", "\n", "\t", "\x00", "\x1b", "\x7f", "\x85", "\x9b", "\u2028", "\u2029"]
)
def test_single_line_refuses_every_control_character(ch: str) -> None:
    with pytest.raises(ValidationError) as info:
        Form(reference=f"CY-2026{ch}0042")
    (error,) = info.value.errors()
    assert error["loc"] == ("reference",)
    assert "single line" in error["msg"] and "position 8" in error["msg"]
    with pytest.raises(InvalidInput) as refused:
        check_single_line(f"a{ch}", field="subject")
    assert refused.value.field == "subject"


def test_multi_line_keeps_line_breaks_and_tabs_only() -> None:
    assert Form(note="one\r\ntwo\tthree").note == "one\r\ntwo\tthree"
    for ch in ("\x00", "\x07", "\x1b", "\x7f", "\x9b", "\u2028"):
        with pytest.raises(ValidationError):
            Form(note=f"one{ch}two")


def test_ordinary_text_passes_unchanged() -> None:
    for text in ("CY-2026-0042", "Müller & Søn", "Ελληνική Αστυνομία", "شرطة", "警察庁", "a b"):
        assert control_problem(text) is None
        assert Form(reference=text).reference == text


def test_bidirectional_controls_are_warned_about() -> None:
    assert bidi_warning("plain.handle") is None
    warning = bidi_warning("user\u202egnp.exe", what="identifiers[0].value")
    assert warning and "RIGHT-TO-LEFT OVERRIDE" in warning and "identifiers[0].value" in warning
    # Not refused: a name in Arabic or Hebrew may carry a mark.
    assert control_problem("name\u200f") is None


def test_mixed_script_domains_are_warned_about() -> None:
    assert mixed_script_warning("google.com") is None
    assert mixed_script_warning("почта.рф") is None  # all Cyrillic: a real domain
    assert mixed_script_warning("bücher.de") is None
    cyrillic_o = "g\u043e\u043egle.com"
    warning = mixed_script_warning(cyrillic_o)
    assert warning and "Cyrillic and Latin" in warning
    # The same in its IDNA form.
    import idna

    assert mixed_script_warning(idna.encode(cyrillic_o).decode()) is not None
