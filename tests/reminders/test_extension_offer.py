"""The extension request is offered in time (issue 18), with the frozen clock: for each
instrument that allows an extension (18 U.S.C. § 2703(f)(2); a provider's published policy with
extensions and a lead time), every reminder that falls due by the last day for it carries the
absolute link to the extension request drafted from the record, and the reminder at the expiry
does not; without an extension (Budapest Art. 29) the reminders offer a new request naming the
previous one, before the expiry; an EPOC-PR offers none (Annex VI). Both engines."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from preservation.domain.extension import FRESH, RENEWAL, extension_offer, offered_by
from preservation.reminders import delivery as rd
from preservation.requests.reminder_plan import deadline_input
from preservation.storage.models import PreservationRequest, Reminder
from providers.models import Provider
from tests.conftest import T0
from tests.reminder_support import SmtpSink, context, make_request, make_unit

DAY = timedelta(days=1)
BASE = "https://preservation.police.example"


@pytest.fixture
def sink(clock):  # type: ignore[no-untyped-def]
    with SmtpSink(clock=clock) as s:
        yield s


@pytest.fixture
def ctx(settings, clock, sink):  # type: ignore[no-untyped-def]
    return context(settings, clock, smtp_port=sink.port, smtp_host="127.0.0.1", public_url=BASE)


async def _provider_with_extensions(db) -> None:  # type: ignore[no-untyped-def]
    """A provider whose published policy gives 90 days, one 90-day extension, asked at least
    7 days before the expiry (X's practice)."""
    async with db.write() as s:
        s.add(
            Provider(
                slug="xcorp",
                name="X Corp",
                country="US",
                le_email="legal@x.test",
                accepts_foreign_direct=True,
                preservation_days=90,
                extension_days=90,
                max_extensions=1,
                extension_lead_days=7,
                verified_on=T0.date(),
            )
        )


async def _run(db, ctx, clock, sink, rid: int):  # type: ignore[no-untyped-def]
    """Move the clock to each of the request's reminders in turn and deliver it; returns
    (offer, [(reminder, message)])."""
    async with db.read() as s:
        req = await s.get(PreservationRequest, rid)
        offer = extension_offer(await deadline_input(s, req, ctx=ctx))
        rows = list(
            (
                await s.execute(
                    select(Reminder).where(Reminder.request_id == rid).order_by(Reminder.due_at)
                )
            ).scalars()
        )
    seen = []
    for row in rows:
        if row.due_at > (offer.expires_at if offer else row.due_at):
            break
        clock.set(max(clock.now(), row.due_at))
        while await rd.deliver_due(db, ctx=ctx):
            pass
        got = [m for m in sink.received if m.key.endswith(row.key)]
        assert len(got) == 1, row.kind
        seen.append((row, got[0]))
    return offer, seen


@pytest.mark.parametrize(
    ("regime", "provider", "kind", "lead_days"),
    [
        ("us-2703f", None, RENEWAL, 0),
        ("provider-policy", "xcorp", RENEWAL, 7),
        ("budapest-art29", None, FRESH, 0),
    ],
)
async def test_the_extension_request_is_offered_in_time(  # type: ignore[no-untyped-def]
    db, ctx, clock, sink, regime, provider, kind, lead_days
) -> None:
    await _provider_with_extensions(db)
    unit_id, user_id = await make_unit(db, now=T0)
    rid = await make_request(
        db,
        ctx,
        unit_id=unit_id,
        user_id=user_id,
        regime=regime,
        status="preserved",
        sent_at=T0,
        preserved_at=T0,
        provider=provider,
    )
    offer, seen = await _run(db, ctx, clock, sink, rid)
    assert offer is not None and offer.kind == kind
    assert offer.last_day == offer.expires_at - lead_days * DAY
    link = f"{BASE}/api/v1/requests/{rid}/extension-request?format=docx"
    offered = []
    for row, message in seen:
        body = message.body
        # Absolute links to the request and its documents in every reminder.
        assert f"Open: {BASE}/requests/{rid}" in body
        assert f"{BASE}/api/v1/requests/{rid}/mla-request?format=docx" in body
        if offered_by(offer, row.due_at):
            assert link in body, row.kind
            offered.append(row)
        else:
            assert link not in body, row.kind
    # Offered by the reminders before the last day, the first a month ahead; never at expiry.
    assert offered and all(r.due_at <= offer.last_day for r in offered)
    assert offered[0].due_at <= offer.last_day - 20 * DAY
    assert "expiry" not in [r.kind for r in offered]
    assert any(r.kind == "expiry" for r, _ in seen)
    if lead_days:
        # The reminder at the provider's lead time offers it too: the last day is still in time.
        assert "extension_lead" in [r.kind for r in offered]
    wording = "New preservation request" if kind == FRESH else "Extension request"
    assert wording in next(m.body for r, m in seen if r in offered)


async def test_an_epoc_pr_is_extended_by_annex_vi_not_by_a_letter(db, ctx, clock) -> None:  # type: ignore[no-untyped-def]
    unit_id, user_id = await make_unit(db, now=T0)
    rid = await make_request(
        db,
        ctx,
        unit_id=unit_id,
        user_id=user_id,
        regime="eu-epoc-pr",
        status="sent",
        sent_at=T0,
    )
    async with db.read() as s:
        req = await s.get(PreservationRequest, rid)
        assert extension_offer(await deadline_input(s, req, ctx=ctx)) is None
