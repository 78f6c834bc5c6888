"""The regimes table: the shipped figures, and strict validation of a malformed table."""

from __future__ import annotations

import tomllib
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from preservation.domain.regimes import (
    OnMla,
    PeriodKind,
    RegimeFileError,
    StartEvent,
    get_regime,
    parse_regimes,
)
from preservation.errors import InvalidInput, SettingsError
from preservation.settings import DEFAULT_REGIMES_FILE, Settings, load_regimes


def _valid_table() -> dict[str, Any]:
    return {
        "name": "Test regime",
        "citation": "Test Act s. 1",
        "sources": ["https://example.org/act"],
        "period_days": 60,
        "period_kind": "fixed",
        "starts_from": "sent",
        "extension_days": 30,
        "max_extensions": 1,
        "extension_citation": "Test Act s. 2",
        "extension_lead_days": 0,
        "on_mla": "no_change",
        "mla_citation": "",
    }


def test_default_file_is_the_settings_default() -> None:
    assert DEFAULT_REGIMES_FILE == Settings().regimes_path
    assert DEFAULT_REGIMES_FILE.is_file()


def test_shipped_figures_match_the_texts() -> None:
    regimes = load_regimes()
    assert set(regimes) == {
        "budapest-art29",
        "us-2703f",
        "eu-epoc-pr",
        "domestic",
        "provider-policy",
        "poc-cooperation",
        "cets224-art9",
        "us-2702-emergency",
        "provider-emergency",
        "poc-emergency",
    }

    bud = regimes["budapest-art29"]
    assert (bud.period_days, bud.period_kind, bud.starts_from) == (
        60,
        PeriodKind.MINIMUM,
        StartEvent.PRESERVED,
    )
    assert (bud.extension_days, bud.max_extensions, bud.extendable) == (0, 0, False)
    assert bud.on_mla is OnMla.UNTIL_DECISION and bud.holds_until_decision
    assert "Art. 29(7)" in bud.citation

    us = regimes["us-2703f"]
    assert (us.period_days, us.period_kind, us.starts_from) == (
        90,
        PeriodKind.FIXED,
        StartEvent.PRESERVED,
    )
    assert (us.extension_days, us.max_extensions) == (90, 1)
    assert us.on_mla is OnMla.NO_CHANGE and not us.holds_until_decision
    assert "2703(f)(2)" in us.citation

    eu = regimes["eu-epoc-pr"]
    assert (eu.period_days, eu.period_kind, eu.starts_from) == (
        60,
        PeriodKind.FIXED,
        StartEvent.SENT,
    )
    assert (eu.extension_days, eu.max_extensions) == (30, 1)
    assert eu.on_mla is OnMla.UNTIL_DECISION
    assert "2023/1543" in eu.citation and "Art. 11" in eu.citation
    assert eu.applies_from == date(2026, 8, 18)

    dom = regimes["domestic"]
    assert (dom.period_days, dom.period_kind, dom.template) == (90, PeriodKind.MAXIMUM, True)
    assert "Art. 16(2)" in dom.citation

    for regime in regimes.values():
        assert regime.sources and all(u.startswith("http") for u in regime.sources)


def test_emergency_instruments_have_no_period() -> None:
    regimes = load_regimes()
    emergency = {k for k, r in regimes.items() if r.emergency}
    assert emergency == {"cets224-art9", "us-2702-emergency", "provider-emergency", "poc-emergency"}
    us = regimes["us-2702-emergency"]
    assert "2702(b)(8)" in us.basis and "2702(c)(4)" in us.basis
    assert (us.period_days, us.max_extensions, us.extendable) == (0, 0, False)
    assert not regimes["cets224-art9"].in_force
    # An emergency table may leave the period out; a preservation table may not.
    table = {"name": "E", "citation": "E s. 1", "sources": ["https://example.org"]}
    assert parse_regimes({"e": {**table, "kind": "emergency"}})["e"].emergency
    with pytest.raises(RegimeFileError, match="'period_days'"):
        parse_regimes({"e": table})
    with pytest.raises(RegimeFileError, match="'kind'"):
        parse_regimes({"e": {**_valid_table(), "kind": "rescue"}})


def test_load_from_an_explicit_path(tmp_path: Path) -> None:
    path = tmp_path / "r.toml"
    path.write_text(
        '[x-test]\nname = "X"\ncitation = "X s. 1"\nsources = ["https://example.org"]\n'
        'period_days = 10\nperiod_kind = "fixed"\nstarts_from = "sent"\nextension_days = 0\n'
        'max_extensions = 0\nextension_citation = ""\nextension_lead_days = 0\n'
        'on_mla = "no_change"\nmla_citation = ""\n',
        encoding="utf-8",
    )
    regimes = load_regimes(path)
    assert list(regimes) == ["x-test"]
    assert regimes["x-test"].period_days == 10
    assert regimes["x-test"].template is False and regimes["x-test"].applies_from is None


def test_missing_file_and_bad_toml(tmp_path: Path) -> None:
    with pytest.raises(RegimeFileError, match="not found"):
        load_regimes(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[a\n", encoding="utf-8")
    with pytest.raises(RegimeFileError, match="cannot read"):
        load_regimes(bad)
    # A SettingsError, so start-up stops the same way as for any other configuration error.
    assert issubclass(RegimeFileError, SettingsError)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("period_days", -5, "expected a positive integer, got -5"),
        ("period_days", 0, "expected a positive integer, got 0"),
        ("period_days", "60", "expected a positive integer, got '60'"),
        ("period_days", True, "expected a positive integer, got True"),
        ("period_days", 60.0, "expected a positive integer"),
        ("extension_days", -1, "expected a non-negative integer, got -1"),
        ("max_extensions", -1, "expected a non-negative integer"),
        ("extension_lead_days", -7, "expected a non-negative integer"),
        ("period_kind", "about", "expected one of 'minimum', 'fixed', 'maximum'"),
        ("starts_from", "received", "expected one of 'sent', 'preserved'"),
        ("on_mla", "forever", "expected one of 'until_decision', 'no_change'"),
        ("sources", [], "expected a non-empty list of http(s) URLs"),
        ("sources", ["ftp://x"], "expected a non-empty list of http(s) URLs"),
        ("sources", "https://example.org", "expected a non-empty list"),
        ("citation", "  ", "must not be empty"),
        ("name", 5, "expected a string, got 5"),
        ("applies_from", "2026-08-18", "expected a date"),
        ("template", "yes", "expected true or false"),
    ],
)
def test_wrong_value_names_regime_and_key(key: str, value: Any, message: str) -> None:
    table = _valid_table() | {key: value}
    with pytest.raises(RegimeFileError) as info:
        parse_regimes({"t-1": table}, source="f.toml")
    text = str(info.value)
    assert text.startswith(f"f.toml: regime 't-1', key '{key}': ")
    assert message in text


def test_unknown_and_missing_keys() -> None:
    with pytest.raises(RegimeFileError, match="regime 't-1', key 'period': unknown key"):
        parse_regimes({"t-1": _valid_table() | {"period": 60}})
    table = _valid_table()
    del table["on_mla"]
    with pytest.raises(RegimeFileError, match="regime 't-1', key 'on_mla': missing"):
        parse_regimes({"t-1": table})


def test_extensions_need_a_length() -> None:
    with pytest.raises(RegimeFileError, match="key 'extension_days': must be positive"):
        parse_regimes({"t-1": _valid_table() | {"extension_days": 0, "max_extensions": 2}})


def test_top_level_shape() -> None:
    with pytest.raises(RegimeFileError, match="no regime defined"):
        parse_regimes({})
    with pytest.raises(RegimeFileError, match="top-level key 'version' must be a table"):
        parse_regimes({"version": 1})
    with pytest.raises(RegimeFileError, match="regime key 'US_2703'"):
        parse_regimes({"US_2703": _valid_table()})


def test_datetime_is_not_a_date() -> None:
    data = tomllib.loads("[t]\napplies_from = 2026-08-18T00:00:00Z\n")
    with pytest.raises(RegimeFileError, match="key 'applies_from': expected a date"):
        parse_regimes({"t": _valid_table() | data["t"]})


def test_get_regime_names_the_field_and_hides_templates() -> None:
    regimes = load_regimes()
    assert get_regime(regimes, "us-2703f").key == "us-2703f"
    with pytest.raises(InvalidInput) as info:
        get_regime(regimes, "mars-1")
    assert info.value.field == "regime"
    assert "budapest-art29" in info.value.detail and "domestic" not in info.value.detail


def test_regime_is_frozen() -> None:
    regime = load_regimes()["us-2703f"]
    with pytest.raises(AttributeError):
        regime.period_days = 1  # type: ignore[misc]
