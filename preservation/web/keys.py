"""Typed application state (aiohttp AppKey)."""

from __future__ import annotations

from aiohttp import web

from ..clock import Clock
from ..db import Database
from ..settings import Settings

SETTINGS = web.AppKey("settings", Settings)
DB = web.AppKey("db", Database)
CLOCK = web.AppKey("clock", Clock)

from ..scheduler import Scheduler  # noqa: E402

SCHEDULER = web.AppKey("scheduler", Scheduler)
