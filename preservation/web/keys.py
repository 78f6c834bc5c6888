"""Typed application state (aiohttp AppKey)."""

from __future__ import annotations

from aiohttp import web

from preservation.dispatch.dispatcher import Dispatcher
from preservation.domain.clock import Clock
from preservation.runtime.scheduler import Scheduler
from preservation.settings import Settings
from preservation.storage.db import Database

SETTINGS = web.AppKey("settings", Settings)
DB = web.AppKey("db", Database)
CLOCK = web.AppKey("clock", Clock)

SCHEDULER = web.AppKey("scheduler", Scheduler)
DISPATCHER = web.AppKey("dispatcher", Dispatcher)
