"""What every use case needs besides its session (`Context`: settings, the clock, the regimes,
and a way to wake the scheduler after a commit that made rows due), and what a background job is
handed when the node starts (`Runtime`: the database, the settings, the clock, the scheduler)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from preservation.domain.clock import Clock
from preservation.runtime.scheduler import Scheduler
from preservation.settings import Settings
from preservation.storage.db import Database


def _nothing() -> None:
    return None


@dataclass(frozen=True, kw_only=True)
class Context:
    settings: Settings
    clock: Clock
    #: Legal regimes by key (preservation.domain.regimes.load_regimes).
    regimes: dict[str, Any] = field(default_factory=dict)
    #: Called after a commit that created due outbox or reminder rows.
    wake: Callable[[], None] = _nothing
    #: This node's directory snapshot (preservation.directory.snapshot.DirectoryCache), when it keeps
    #: one: a request created while it is current is routed without reading the directory.
    directory: Any = None


@dataclass(frozen=True, kw_only=True)
class Runtime:
    """The node's shared parts, handed to the background jobs (outbox, reminders) at start-up:
    they never reach into the web application for them."""

    db: Database
    settings: Settings
    clock: Clock
    scheduler: Scheduler
