"""What every use case needs besides its session: settings, the clock, the regimes, and a way to
wake the scheduler after a commit that made rows due."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..clock import Clock
from ..settings import Settings


def _nothing() -> None:
    return None


@dataclass(frozen=True, kw_only=True)
class Context:
    settings: Settings
    clock: Clock
    #: Legal regimes by key (preservation.regimes.load_regimes).
    regimes: dict[str, Any] = field(default_factory=dict)
    #: Called after a commit that created due outbox or reminder rows.
    wake: Callable[[], None] = _nothing
    #: This node's directory snapshot (preservation.directory.DirectoryCache), when it keeps
    #: one: a request created while it is current is routed without reading the directory.
    directory: Any = None
