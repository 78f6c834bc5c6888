"""The dashboard's timeline of active preservations: pure geometry for a server-rendered SVG.

Each request is one row: a bar from its start (sending, or the provider's confirmation; never
before the window opens) to its expiry, clipped to the window (default: now .. now + 90 days).
The colour class says how urgent it is: lapsed, under 7 days, under 30 days, later; a request
held until the MLA decision has no expiry and is drawn across the window as "held"."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

#: Statuses whose data are (or were, for lapsed) under preservation.
ACTIVE = ("sent", "preserved", "extension_requested", "mla_sent")
SHOWN = (*ACTIVE, "lapsed")

WIDTH = 960
LABEL_WIDTH = 190
ROW_HEIGHT = 26
BAR_HEIGHT = 16
AXIS_HEIGHT = 30
#: Room under the rows for the "now", "7 d" and "30 d" marks.
FOOT_HEIGHT = 22
PLOT_WIDTH = WIDTH - LABEL_WIDTH - 10


@dataclass(frozen=True, kw_only=True)
class Bar:
    request_id: int
    label: str
    title: str
    #: lapsed | week | month | later | held
    urgency: str
    x: float
    y: float
    width: float
    text_y: float
    #: The bar runs past the window's end.
    beyond: bool


@dataclass(frozen=True, kw_only=True)
class Tick:
    x: float
    label: str
    #: Week lines are light; the 7- and 30-day lines are marked.
    major: bool


@dataclass(frozen=True, kw_only=True)
class Timeline:
    width: int
    height: int
    plot_left: int
    plot_width: int
    axis_y: int
    #: Where the rows end and the marks below them begin.
    rows_bottom: int
    bars: list[Bar]
    ticks: list[Tick]


def urgency(expires_at: datetime | None, *, status: str, now: datetime) -> str:
    if status == "lapsed" or (expires_at is not None and expires_at <= now):
        return "lapsed"
    if expires_at is None:
        return "held"
    left = expires_at - now
    if left < timedelta(days=7):
        return "week"
    if left < timedelta(days=30):
        return "month"
    return "later"


URGENCY_ORDER = {"lapsed": 0, "week": 1, "month": 2, "later": 3, "held": 4}
URGENCY_LABELS = {
    "lapsed": "lapsed",
    "week": "under 7 days",
    "month": "under 30 days",
    "later": "30 days or more",
    "held": "held until the MLA decision",
}


def build(
    items: Iterable[Any],
    *,
    now: datetime,
    days: int = 90,
    label_of: Any = None,
    day_label: Any = None,
) -> Timeline:
    """Bars for `items` (objects with id, reference, status, expires_at, submitted_at and,
    optionally, provider/country), ordered by urgency then expiry. `day_label(datetime)` formats
    a tick ("24 Nov"); `label_of(item)` the row's label."""
    end = now + timedelta(days=days)
    span = (end - now).total_seconds()

    def x_of(at: datetime) -> float:
        clipped = min(max(at, now), end)
        return LABEL_WIDTH + PLOT_WIDTH * (clipped - now).total_seconds() / span

    rows = []
    for item in items:
        if item.status not in SHOWN:
            continue
        level = urgency(item.expires_at, status=item.status, now=now)
        if level == "held" and item.status == "lapsed":
            level = "lapsed"
        rows.append((URGENCY_ORDER[level], item.expires_at or end, item.id, item, level))
    rows.sort(key=lambda r: r[:3])

    bars = []
    for index, (_, _, _, item, level) in enumerate(rows):
        y = AXIS_HEIGHT + index * ROW_HEIGHT + (ROW_HEIGHT - BAR_HEIGHT) / 2
        expires = item.expires_at
        if level == "lapsed":
            x0, x1 = LABEL_WIDTH, LABEL_WIDTH + 6  # a stub at "now": it is over
        else:
            x0 = x_of(now)
            x1 = x_of(expires) if expires is not None else LABEL_WIDTH + PLOT_WIDTH
        label = label_of(item) if label_of else item.reference
        when = (
            f"expires {day_label(expires) if day_label else expires.isoformat()}"
            if expires is not None
            else "no expiry: held until the MLA decision"
        )
        bars.append(
            Bar(
                request_id=item.id,
                label=label,
                title=f"{item.reference} ({item.status}), {when}: {URGENCY_LABELS[level]}",
                urgency=level,
                x=round(x0, 1),
                y=round(y, 1),
                width=round(max(x1 - x0, 4), 1),
                text_y=round(y + BAR_HEIGHT - 4, 1),
                beyond=expires is None or expires > end,
            )
        )
    ticks = []
    for day in range(0, days + 1, 7):
        at = now + timedelta(days=day)
        ticks.append(
            Tick(
                x=round(x_of(at), 1),
                label=day_label(at) if day_label else at.date().isoformat(),
                major=False,
            )
        )
    for day in (7, 30):
        if day <= days:
            ticks.append(
                Tick(x=round(x_of(now + timedelta(days=day)), 1), label=f"{day} d", major=True)
            )
    rows_bottom = AXIS_HEIGHT + max(len(bars), 1) * ROW_HEIGHT
    return Timeline(
        width=WIDTH,
        height=rows_bottom + FOOT_HEIGHT,
        plot_left=LABEL_WIDTH,
        plot_width=PLOT_WIDTH,
        axis_y=AXIS_HEIGHT - 4,
        rows_bottom=rows_bottom,
        bars=bars,
        ticks=ticks,
    )
