"""Local time + zone -> UTC: ISO and log formats, DST gaps and overlaps, offsets, ranges."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import pytz
from hypothesis import given, settings
from hypothesis import strategies as st

from preservation.domain.timing import LocalInstant, resolve_local, resolve_range, validate_zone
from preservation.errors import AmbiguousLocalTime, InvalidInput

NOW = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)
FIELD = "identifiers[0].at"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def field_of(exc: pytest.ExceptionInfo[InvalidInput]) -> str | None:
    return exc.value.field


# --- plain conversions ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tz", "expected", "offset", "abbreviation", "zone"),
    [
        (
            "2026-11-20T14:03:11",
            "Europe/Berlin",
            utc(2026, 11, 20, 13, 3, 11),
            "+01:00",
            "CET",
            "Europe/Berlin",
        ),
        (
            "2026-07-20T14:03:11",
            "Europe/Berlin",
            utc(2026, 7, 20, 12, 3, 11),
            "+02:00",
            "CEST",
            "Europe/Berlin",
        ),
        (
            "2026-11-20 14:03",
            "America/New_York",
            utc(2026, 11, 20, 19, 3),
            "-05:00",
            "EST",
            "America/New_York",
        ),
        (
            "2026-11-20T14:03:11",
            "Asia/Kathmandu",
            utc(2026, 11, 20, 8, 18, 11),
            "+05:45",
            "+0545",
            "Asia/Kathmandu",
        ),
        (
            "2026-11-20T14:03:11",
            "Asia/Kolkata",
            utc(2026, 11, 20, 8, 33, 11),
            "+05:30",
            "IST",
            "Asia/Kolkata",
        ),
        (
            "2026-11-20T14:03:11",
            "America/St_Johns",
            utc(2026, 11, 20, 17, 33, 11),
            "-03:30",
            "NST",
            "America/St_Johns",
        ),
        (
            "2026-11-20T14:03:11",
            "europe/berlin",
            utc(2026, 11, 20, 13, 3, 11),
            "+01:00",
            "CET",
            "Europe/Berlin",
        ),
        ("2026-11-20T14:03:11", "UTC", utc(2026, 11, 20, 14, 3, 11), "+00:00", "UTC", "UTC"),
        # explicit offsets, no zone
        ("2026-11-20T14:03:11Z", None, utc(2026, 11, 20, 14, 3, 11), "+00:00", "UTC", "UTC"),
        ("2026-11-20t14:03:11z", None, utc(2026, 11, 20, 14, 3, 11), "+00:00", "UTC", "UTC"),
        (
            "2026-11-20T14:03:11+02:00",
            None,
            utc(2026, 11, 20, 12, 3, 11),
            "+02:00",
            "UTC+02:00",
            "UTC+02:00",
        ),
        (
            "2026-11-20T14:03:11-0330",
            None,
            utc(2026, 11, 20, 17, 33, 11),
            "-03:30",
            "UTC-03:30",
            "UTC-03:30",
        ),
        (
            "20261120T140311+0545",
            None,
            utc(2026, 11, 20, 8, 18, 11),
            "+05:45",
            "UTC+05:45",
            "UTC+05:45",
        ),
        # explicit offset that agrees with the zone: the zone is kept for display
        (
            "2026-11-20T14:03:11+01:00",
            "Europe/Berlin",
            utc(2026, 11, 20, 13, 3, 11),
            "+01:00",
            "CET",
            "Europe/Berlin",
        ),
        (
            "2026-11-20T14:03:11+05:45",
            "Asia/Kathmandu",
            utc(2026, 11, 20, 8, 18, 11),
            "+05:45",
            "+0545",
            "Asia/Kathmandu",
        ),
    ],
)
def test_conversions(
    text: str, tz: str | None, expected: datetime, offset: str, abbreviation: str, zone: str
) -> None:
    got = resolve_local(text, tz, field=FIELD, now=NOW)
    assert got == LocalInstant(
        utc=expected, local=text, tz=zone, offset=offset, abbreviation=abbreviation
    )
    assert got.utc.tzinfo is UTC


def test_fractional_seconds_are_kept() -> None:
    got = resolve_local("2026-11-20T14:03:11.250+01:00", None, field=FIELD, now=NOW)
    assert got.utc == utc(2026, 11, 20, 13, 3, 11) + timedelta(milliseconds=250)
    assert got.describe() == "2026-11-20 14:03:11.25 (UTC+01:00), 2026-11-20 13:03:11.25 UTC"
    comma = resolve_local("2026-11-20 14:03:11,123456", "UTC", field=FIELD, now=NOW)
    assert comma.utc.microsecond == 123456


def test_text_as_given_is_kept_and_described() -> None:
    got = resolve_local("  2026-11-20T14:03:11 ", "Europe/Berlin", field=FIELD, now=NOW)
    assert got.local == "2026-11-20T14:03:11"
    assert got.describe() == "2026-11-20 14:03:11 CET (UTC+01:00), 2026-11-20 13:03:11 UTC"
    assert got.local_iso() == "2026-11-20T14:03:11+01:00"
    assert got.utc_iso() == "2026-11-20T13:03:11Z"
    assert got.as_public() == {
        "local": "2026-11-20T14:03:11+01:00",
        "given": "2026-11-20T14:03:11",
        "tz": "Europe/Berlin",
        "offset": "+01:00",
        "abbreviation": "CET",
        "text": "2026-11-20 14:03:11 CET (UTC+01:00), 2026-11-20 13:03:11 UTC",
    }


def test_kathmandu_describe() -> None:
    got = resolve_local("2026-11-20T14:03:11", "Asia/Kathmandu", field=FIELD, now=NOW)
    assert got.describe() == "2026-11-20 14:03:11 +0545 (UTC+05:45), 2026-11-20 08:18:11 UTC"


# --- DST: gaps and overlaps ------------------------------------------------------------------------

# (zone, local text, kind, [candidate for dst=True, candidate for dst=False], offsets, abbreviations)
DST_EDGES = [
    pytest.param(
        "Europe/Berlin",
        "2026-03-29T02:30",
        "does not exist",
        [utc(2026, 3, 29, 0, 30), utc(2026, 3, 29, 1, 30)],
        ("+02:00", "+01:00"),
        ("CEST", "CET"),
        id="berlin-spring-gap",
    ),
    pytest.param(
        "Europe/Berlin",
        "2026-10-25T02:30",
        "happens twice",
        [utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 1, 30)],
        ("+02:00", "+01:00"),
        ("CEST", "CET"),
        id="berlin-autumn-overlap",
    ),
    pytest.param(
        "America/New_York",
        "2026-03-08T02:30",
        "does not exist",
        [utc(2026, 3, 8, 6, 30), utc(2026, 3, 8, 7, 30)],
        ("-04:00", "-05:00"),
        ("EDT", "EST"),
        id="new-york-spring-gap",
    ),
    pytest.param(
        "America/New_York",
        "2026-11-01T01:30",
        "happens twice",
        [utc(2026, 11, 1, 5, 30), utc(2026, 11, 1, 6, 30)],
        ("-04:00", "-05:00"),
        ("EDT", "EST"),
        id="new-york-autumn-overlap",
    ),
    # Lord Howe moves by 30 minutes: first Sunday of April 02:00 back to 01:30 (+11:00 -> +10:30),
    # first Sunday of October 02:00 forward to 02:30.
    pytest.param(
        "Australia/Lord_Howe",
        "2026-04-05T01:45",
        "happens twice",
        [utc(2026, 4, 4, 14, 45), utc(2026, 4, 4, 15, 15)],
        ("+11:00", "+10:30"),
        ("+11", "+1030"),
        id="lord-howe-april-overlap",
    ),
    pytest.param(
        "Australia/Lord_Howe",
        "2026-10-04T02:15",
        "does not exist",
        [utc(2026, 10, 3, 15, 15), utc(2026, 10, 3, 15, 45)],
        ("+11:00", "+10:30"),
        ("+11", "+1030"),
        id="lord-howe-october-gap",
    ),
]


def test_lord_howe_2026_transitions_according_to_pytz() -> None:
    zone = pytz.timezone("Australia/Lord_Howe")
    changes = [
        (t, info[0])
        for t, info in zip(zone._utc_transition_times, zone._transition_info, strict=True)
        if t.year == 2026
    ]
    # 2026-04-05 02:00 +11:00 and 2026-10-04 02:00 +10:30, both Sundays, in UTC:
    assert changes == [
        (datetime(2026, 4, 4, 15, 0), timedelta(hours=10, minutes=30)),
        (datetime(2026, 10, 3, 15, 30), timedelta(hours=11)),
    ]
    assert datetime(2026, 4, 5).weekday() == datetime(2026, 10, 4).weekday() == 6


@pytest.mark.parametrize(
    ("tz", "text", "kind", "candidates", "offsets", "abbreviations"), DST_EDGES
)
def test_dst_edge_refused_with_candidates(
    tz: str,
    text: str,
    kind: str,
    candidates: list[datetime],
    offsets: tuple[str, str],
    abbreviations: tuple[str, str],
) -> None:
    with pytest.raises(AmbiguousLocalTime) as exc:
        resolve_local(text, tz, field=FIELD, now=NOW)
    assert exc.value.field == FIELD
    assert exc.value.candidates == candidates
    assert all(c.tzinfo is UTC for c in exc.value.candidates)
    assert kind in exc.value.errors[0].message
    assert exc.value.status == 422


@pytest.mark.parametrize(
    ("tz", "text", "kind", "candidates", "offsets", "abbreviations"), DST_EDGES
)
@pytest.mark.parametrize("dst", [True, False])
def test_dst_flag_resolves(
    tz: str,
    text: str,
    kind: str,
    candidates: list[datetime],
    offsets: tuple[str, str],
    abbreviations: tuple[str, str],
    dst: bool,
) -> None:
    got = resolve_local(text, tz, field=FIELD, now=NOW, dst=dst)
    i = 0 if dst else 1
    assert got.utc == candidates[i]
    assert got.offset == offsets[i]
    assert got.abbreviation == abbreviations[i]
    # The wall time shown is the one given, read with the chosen offset.
    assert got.wall().replace(tzinfo=None) == datetime.fromisoformat(text)


@pytest.mark.parametrize(
    ("tz", "text", "kind", "candidates", "offsets", "abbreviations"), DST_EDGES
)
def test_explicit_offset_resolves_overlap_and_is_checked_in_gap(
    tz: str,
    text: str,
    kind: str,
    candidates: list[datetime],
    offsets: tuple[str, str],
    abbreviations: tuple[str, str],
) -> None:
    for i, offset in enumerate(offsets):
        if kind == "happens twice":
            got = resolve_local(text + offset, tz, field=FIELD, now=NOW)
            assert got.utc == candidates[i]
            assert got.abbreviation == abbreviations[i]
        else:
            # In a gap the wall time was never shown with either offset in this zone.
            with pytest.raises(InvalidInput) as exc:
                resolve_local(text + offset, tz, field=FIELD, now=NOW)
            assert exc.value.field == FIELD
            assert "does not match" in str(exc.value)


def test_dst_flag_ignored_when_not_needed() -> None:
    a = resolve_local("2026-11-20T14:03:11", "Europe/Berlin", field=FIELD, now=NOW, dst=True)
    b = resolve_local("2026-11-20T14:03:11", "Europe/Berlin", field=FIELD, now=NOW, dst=False)
    assert a == b and a.utc == utc(2026, 11, 20, 13, 3, 11)


def test_offset_contradicting_zone_refused() -> None:
    with pytest.raises(InvalidInput) as exc:
        resolve_local("2026-11-20T14:03:11+02:00", "Europe/Berlin", field=FIELD, now=NOW)
    assert exc.value.errors[0].field == FIELD
    assert exc.value.errors[0].message == (
        "offset +02:00 does not match Europe/Berlin at that time (+01:00)"
    )


# --- refusals ------------------------------------------------------------------------------------


def test_future_refused_strictly() -> None:
    now = utc(2026, 11, 20, 12, 0, 0)
    ok = resolve_local("2026-11-20T13:00:00+01:00", None, field=FIELD, now=now)
    assert ok.utc == now  # exactly now is not the future
    with pytest.raises(InvalidInput) as exc:
        resolve_local("2026-11-20T13:00:00.000001+01:00", None, field=FIELD, now=now)
    assert exc.value.field == FIELD and "is in the future" in str(exc.value)
    with pytest.raises(InvalidInput, match="in the future"):
        resolve_local("2026-11-20T12:30", "Europe/London", field=FIELD, now=now)


def test_naive_now_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        resolve_local("2026-11-20T12:30Z", None, field=FIELD, now=datetime(2026, 12, 1))


@pytest.mark.parametrize(
    ("text", "tz", "field", "fragment"),
    [
        ("2026-11-20T14:03:11", None, FIELD, "without an offset"),
        (
            "2026-11-20T14:03:11",
            "Mars/Olympus",
            "identifiers[0].tz",
            "unknown time zone 'Mars/Olympus'",
        ),
        ("2026-11-20T14:03:11Z", "Mars/Olympus", "identifiers[0].tz", "unknown time zone"),
        ("2026-11-20T14:03:11", "  ", "identifiers[0].tz", "IANA"),
        ("", "UTC", FIELD, "is empty"),
        ("2026-11-20", "UTC", FIELD, "needs a time of day"),
        ("2026-11-20T14", "UTC", FIELD, "needs hours and minutes"),
        ("11/20/2026 2 PM", "UTC", FIELD, "needs hours and minutes"),
        ("Nov 20 14:03:11", "UTC", FIELD, "four-digit year"),  # syslog without a year
        ("20/11/26 14:03", "UTC", FIELD, "four-digit year"),
        ("2026-13-20T14:03", "UTC", FIELD, "month must be in 1..12"),
        ("2026-02-30T14:03", "UTC", FIELD, "not a valid date"),
        ("yesterday", "UTC", FIELD, "not a date and time"),
        ("2026-11-20T14:03 banana", "UTC", FIELD, "not a date and time"),
        ("Fri Nov 20 14:03:11 CET 2026", None, FIELD, "abbreviation 'CET'"),
        ("Nov 20 14:03:11 EST 2026", "America/New_York", FIELD, "abbreviation 'EST'"),
    ],
)
def test_refused(text: str, tz: str | None, field: str, fragment: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        resolve_local(text, tz, field=field.replace(".tz", ".at"), now=NOW)
    assert exc.value.field == field
    assert fragment in exc.value.errors[0].message


def test_zone_field_can_be_named() -> None:
    with pytest.raises(InvalidInput) as exc:
        resolve_local("2026-11-20T14:03", "Nowhere", field="at", now=NOW, tz_field="zone")
    assert exc.value.field == "zone"
    with pytest.raises(InvalidInput) as exc:
        resolve_local("2026-11-20T14:03", "Nowhere", field="at", now=NOW)
    assert exc.value.field == "tz"


# --- log formats and day/month order ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tz", "expected"),
    [
        ("20/Nov/2026:14:03:11 +0100", None, utc(2026, 11, 20, 13, 3, 11)),  # Apache CLF
        ("[20/Nov/2026:14:03:11 -0500]", None, utc(2026, 11, 20, 19, 3, 11)),
        ("20/Nov/2026:14:03:11 +0100", "Europe/Berlin", utc(2026, 11, 20, 13, 3, 11)),
        ("Nov 20 14:03:11 2026", "Europe/Berlin", utc(2026, 11, 20, 13, 3, 11)),  # syslog + year
        ("Fri Nov 20 14:03:11 2026", "America/New_York", utc(2026, 11, 20, 19, 3, 11)),  # ctime
        ("Fri Nov 20 14:03:11 UTC 2026", None, utc(2026, 11, 20, 14, 3, 11)),
        ("Fri, 20 Nov 2026 14:03:11 GMT", None, utc(2026, 11, 20, 14, 3, 11)),  # RFC 7231
        ("Fri, 20 Nov 2026 14:03:11 +0100", None, utc(2026, 11, 20, 13, 3, 11)),  # RFC 5322
        ("20.11.2026 14:03", "Europe/Berlin", utc(2026, 11, 20, 13, 3)),
        ("20.11.2026 14:03:11", "Europe/Berlin", utc(2026, 11, 20, 13, 3, 11)),
        ("11/20/2026 2:03 PM", "America/New_York", utc(2026, 11, 20, 19, 3)),
        ("11/20/2026 02:03:11 AM", "America/New_York", utc(2026, 11, 20, 7, 3, 11)),
        ("2026/11/05 10:00", "UTC", utc(2026, 11, 5, 10, 0)),  # year first: never Y/D/M
        ("2026.11.05 10:00:00", "UTC", utc(2026, 11, 5, 10, 0)),
        ("20 November 2026 14:03", "Europe/Berlin", utc(2026, 11, 20, 13, 3)),
        ("Nov 20 2026 14:03:11 GMT+3", None, utc(2026, 11, 20, 11, 3, 11)),  # east, as people mean
        ("Nov 20 2026 14:03:11 UTC-05:00", None, utc(2026, 11, 20, 19, 3, 11)),
        (
            "2026-11-20 14:03:11,500",
            "UTC",
            utc(2026, 11, 20, 14, 3, 11) + timedelta(milliseconds=500),
        ),
    ],
)
def test_log_formats(text: str, tz: str | None, expected: datetime) -> None:
    got = resolve_local(text, tz, field=FIELD, now=NOW)
    assert got.utc == expected
    assert got.local == text


@pytest.mark.parametrize(
    "text", ["05/06/2026 10:00", "05.06.2026 10:00", "05-06-2026 10:00:00", "12/11/2026 2:03 PM"]
)
def test_day_month_ambiguity_needs_day_first(text: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        resolve_local(text, "Europe/Berlin", field=FIELD, now=NOW)
    assert exc.value.field == FIELD
    assert "ambiguous day and month" in str(exc.value)
    assert "day_first" in str(exc.value)


@pytest.mark.parametrize(
    ("day_first", "expected"),
    [(True, utc(2026, 6, 5, 8, 0)), (False, utc(2026, 5, 6, 8, 0))],
)
def test_day_first_resolves(day_first: bool, expected: datetime) -> None:
    got = resolve_local(
        "05/06/2026 10:00", "Europe/Berlin", field=FIELD, now=NOW, day_first=day_first
    )
    assert got.utc == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("13/06/2026 10:00", utc(2026, 6, 13, 10)),
        ("06/13/2026 10:00", utc(2026, 6, 13, 10)),
        ("06/06/2026 10:00", utc(2026, 6, 6, 10)),  # both readings are the same day
    ],
)
def test_unambiguous_numeric_dates_need_no_day_first(text: str, expected: datetime) -> None:
    assert resolve_local(text, "UTC", field=FIELD, now=NOW).utc == expected


@pytest.mark.parametrize(
    ("text", "day_first"), [("13/06/2026 10:00", False), ("06/13/2026 10:00", True)]
)
def test_day_first_contradicted_by_the_date_is_refused(text: str, day_first: bool) -> None:
    # dateutil would swap day and month silently; the caller said the opposite order.
    with pytest.raises(InvalidInput, match="the month would be 13"):
        resolve_local(text, "UTC", field=FIELD, now=NOW, day_first=day_first)


def test_day_first_agreeing_with_the_date_is_fine() -> None:
    got = resolve_local("13/06/2026 10:00", "UTC", field=FIELD, now=NOW, day_first=True)
    assert got.utc == utc(2026, 6, 13, 10)


# --- zones ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        ("Europe/Berlin", "Europe/Berlin"),
        ("europe/berlin", "Europe/Berlin"),
        (" UTC ", "UTC"),
        ("Australia/Lord_Howe", "Australia/Lord_Howe"),
        ("Asia/Kathmandu", "Asia/Kathmandu"),
    ],
)
def test_validate_zone(name: str, canonical: str) -> None:
    assert validate_zone(name, field="tz") == canonical


@pytest.mark.parametrize("name", ["Mars/Olympus", "", "CEST", "../../etc/passwd", "Europe/Berlín"])
def test_validate_zone_refuses(name: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        validate_zone(name, field="identifiers[3].tz")
    assert exc.value.field == "identifiers[3].tz"


# --- ranges --------------------------------------------------------------------------------------


def test_range() -> None:
    start, end = resolve_range(
        "2026-10-01T00:00",
        "2026-11-20T23:59",
        "Europe/Berlin",
        field_prefix="identifiers[1]",
        now=NOW,
    )
    assert start.utc == utc(2026, 9, 30, 22, 0)  # CEST
    assert end.utc == utc(2026, 11, 20, 22, 59)  # CET


@pytest.mark.parametrize(
    ("from_text", "to_text"),
    [("2026-11-20T10:00", "2026-11-20T10:00"), ("2026-11-20T10:00", "2026-11-20T09:59:59")],
)
def test_range_must_run_forward(from_text: str, to_text: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        resolve_range(from_text, to_text, "UTC", field_prefix="identifiers[1]", now=NOW)
    assert exc.value.field == "identifiers[1].to"
    assert "must be after from" in str(exc.value)


def test_range_across_overlap_compares_instants() -> None:
    # 02:30 CEST then 02:10 CET is forward in time although the wall clock went back.
    start, end = resolve_range(
        "2026-10-25T02:30",
        "2026-10-25T02:10",
        "Europe/Berlin",
        field_prefix="p",
        now=NOW,
        dst_from=True,
        dst_to=False,
    )
    assert start.utc < end.utc


def test_range_reports_both_ends() -> None:
    with pytest.raises(InvalidInput) as exc:
        resolve_range(
            "2026-11-20", "2027-01-01T00:00", "UTC", field_prefix="identifiers[2]", now=NOW
        )
    assert [e.field for e in exc.value.errors] == ["identifiers[2].from", "identifiers[2].to"]


def test_range_single_ambiguous_end_keeps_candidates() -> None:
    with pytest.raises(AmbiguousLocalTime) as exc:
        resolve_range(
            "2026-10-25T02:30",
            "2026-11-01T00:00",
            "Europe/Berlin",
            field_prefix="identifiers[0]",
            now=NOW,
        )
    assert exc.value.field == "identifiers[0].from"
    assert len(exc.value.candidates) == 2


def test_range_bad_zone_reported_once() -> None:
    with pytest.raises(InvalidInput) as exc:
        resolve_range(
            "2026-10-01T00:00",
            "2026-11-01T00:00",
            "Nowhere",
            field_prefix="identifiers[0]",
            now=NOW,
        )
    assert [e.field for e in exc.value.errors] == ["identifiers[0].tz"]


# --- round trip property -------------------------------------------------------------------------

ZONES = [
    "Europe/Berlin",
    "America/New_York",
    "Australia/Lord_Howe",
    "Asia/Kathmandu",
    "America/Sao_Paulo",
    "Pacific/Chatham",
    "America/St_Johns",
    "Australia/Adelaide",
    "UTC",
]


@settings(max_examples=400, deadline=None)
@given(
    instant=st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2026, 11, 30)),
    tz=st.sampled_from(ZONES),
)
def test_round_trip(instant: datetime, tz: str) -> None:
    moment = instant.replace(tzinfo=UTC)
    local = moment.astimezone(pytz.timezone(tz))
    text = local.replace(tzinfo=None).isoformat()
    got = resolve_local(text, tz, field=FIELD, now=NOW, dst=bool(local.dst()))
    assert got.utc == moment
    assert got.wall().replace(tzinfo=None) == local.replace(tzinfo=None)
    assert got.abbreviation == local.tzname()
    # The same wall time with its offset written out needs no dst flag.
    assert resolve_local(local.isoformat(), tz, field=FIELD, now=NOW).utc == moment
