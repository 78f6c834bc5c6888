"""Records of what was sent elsewhere (requests/record.py): a record_only request's deadlines run
from its past dates (frozen clock), nothing is dispatched, the audit trail says it was recorded
after the fact and by whom; future dates and misplaced fields are refused and leave nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from preservation.dispatch.dispatcher import Dispatcher
from preservation.settings import load_regimes
from preservation.storage.models import AuditEvent, OutboxMessage
from preservation.web.keys import DB
from tests.conftest import T0, assert_problem, auth
from tests.requests.test_requests_api import URL, body, counts

SENT = "2026-11-10T09:00:00+01:00"  # ten days before the frozen clock (T0)
PRESERVED = "2026-11-11T10:00:00Z"


def record(**changes):  # type: ignore[no-untyped-def]
    return body(**{"submit": False, "record_only": True, "sent_at": SENT, **changes})


async def test_recorded_request_runs_from_its_past_dates_and_sends_nothing(  # type: ignore[no-untyped-def]
    client, ready, settings, clock
) -> None:
    resp = await client.post(
        URL,
        headers=auth(ready["officer"]),
        json=record(preserved_at=PRESERVED, provider_reference="LE-4411"),
    )
    assert resp.status == 201, await resp.text()
    pub = await resp.json()
    assert pub["record_only"] is True and pub["status"] == "preserved"
    assert pub["recipients"] == []
    assert datetime.fromisoformat(pub["sent_at"]) == datetime(2026, 11, 10, 8, 0, tzinfo=UTC)
    assert datetime.fromisoformat(pub["preserved_at"]) == datetime(2026, 11, 11, 10, tzinfo=UTC)
    assert pub["provider_reference"] == "LE-4411"
    expires = datetime.fromisoformat(pub["expires_at"])
    assert expires < T0 + timedelta(days=120)

    # The same request recorded as preserved a day later expires a day later: the deadlines run
    # from the dates recorded, not from today.
    resp = await client.post(
        URL,
        headers=auth(ready["officer"]),
        json=record(preserved_at="2026-11-12T10:00:00Z", case_reference="CY-2026-0043"),
    )
    later = await resp.json()
    assert datetime.fromisoformat(later["expires_at"]) - expires == timedelta(days=1)

    # Nothing was dispatched, and the dispatcher finds nothing to send.
    db = client.server.app[DB]
    async with db.read() as s:
        assert (await s.execute(select(func.count()).select_from(OutboxMessage))).scalar_one() == 0
    dispatcher = Dispatcher(
        db=db, settings=settings, clock=clock, regimes=load_regimes(settings.regimes_path)
    )
    assert await dispatcher.sweep() == 0

    # The audit trail: created, then recorded after the fact, by whom.
    resp = await client.get(f"{URL}/{pub['id']}/events", headers=auth(ready["officer"]))
    events = (await resp.json())["items"]
    assert [e["action"] for e in events] == ["create", "recorded"]
    recorded = events[1]
    assert recorded["actor"] == "officer-a@alpha"
    assert recorded["detail"]["recorded_after_the_fact"] is True
    assert recorded["detail"]["recorded_by"] == "officer-a@alpha"
    assert recorded["detail"]["to"] == "preserved"


async def test_an_unconfirmed_record_is_reminded_and_confirmed_with_an_earlier_date(  # type: ignore[no-untyped-def]
    client, ready
) -> None:
    resp = await client.post(URL, headers=auth(ready["officer"]), json=record())
    assert resp.status == 201, await resp.text()
    pub = await resp.json()
    assert pub["status"] == "sent"
    # The acknowledgement reminder fell due long ago: it is due now (the latest of its kind).
    kinds = {d["kind"]: datetime.fromisoformat(d["due_at"]) for d in pub["deadlines"]}
    assert kinds["ack_missing"] <= T0
    # The provider's confirmation predates the record (never the sending).
    ack = f"{URL}/{pub['id']}/acknowledge"
    resp = await client.post(
        ack, headers=auth(ready["officer"]), json={"preserved_at": "2026-11-09T12:00:00Z"}
    )
    await assert_problem(resp, 422, field="preserved_at")
    resp = await client.post(
        ack, headers=auth(ready["officer"]), json={"preserved_at": "2026-11-12T12:00:00Z"}
    )
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["status"] == "preserved"


async def test_refusals_name_the_field_and_leave_nothing(client, ready) -> None:  # type: ignore[no-untyped-def]
    before = await counts(client)
    cases = [
        (record(sent_at="2026-11-21T09:00:00Z"), "sent_at"),  # the future
        (record(sent_at="2026-11-30"), "sent_at"),  # a date in the future
        (body(submit=False, record_only=True), "sent_at"),  # missing
        (record(submit=True), "submit"),
        (body(submit=False, sent_at=SENT), "sent_at"),  # not a record
        (record(preserved_at="2026-11-09T12:00:00Z"), "preserved_at"),  # before the sending
        (record(sent_at="2026-11-10T09:00:00", tz="Mars/Olympus"), "tz"),
    ]
    for data, field in cases:
        resp = await client.post(URL, headers=auth(ready["officer"]), json=data)
        await assert_problem(resp, 422, field=field)
    assert await counts(client) == before
    async with client.server.app[DB].read() as s:
        assert (await s.execute(select(func.count()).select_from(AuditEvent))).scalar_one() == 0


async def test_a_date_alone_is_read_on_the_safe_side(client, ready) -> None:  # type: ignore[no-untyped-def]
    resp = await client.post(URL, headers=auth(ready["officer"]), json=record(sent_at="2026-11-10"))
    assert resp.status == 201, await resp.text()
    pub = await resp.json()
    # The earliest instant of that day in the provider's State (the US): 2026-11-10 at UTC-4
    # (Puerto Rico / Virgin Islands) or later zones start later; never after midnight UTC+14.
    sent = datetime.fromisoformat(pub["sent_at"])
    assert datetime(2026, 11, 9, 9, 59, tzinfo=UTC) < sent <= datetime(2026, 11, 10, 12, tzinfo=UTC)
    resp = await client.get(f"{URL}/{pub['id']}/events", headers=auth(ready["officer"]))
    recorded = (await resp.json())["items"][-1]
    assert "sent_at" in recorded["detail"]["dates"]
