"""Identifier or request -> provider, country, route (asks providers/ and contacts/).

Interface used by the request service; the directory session implements it (issue 3)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, kw_only=True)
class Recipient:
    #: "provider" (the provider's portal or law-enforcement address), "poc" (the requested
    #: country's 24/7 point of contact as main recipient), or "copy" (that point of contact in copy).
    role: str
    #: "email", "portal" (hand-off task for the officer) or "webhook".
    channel: str
    to: str
    name: str = ""
    contact_id: int | None = None


@dataclass(frozen=True, kw_only=True)
class Route:
    channel: str  # "portal" | "email" | "poc"
    to: str
    copy_to: tuple[int, ...] = ()
    why: str = ""
    recipients: tuple[Recipient, ...] = ()
    provider: dict[str, Any] | None = None
    country: str | None = None
    contacts: tuple[dict[str, Any], ...] = field(default_factory=tuple)

    def as_public(self) -> dict[str, Any]:
        return {"channel": self.channel, "to": self.to, "copy_to": list(self.copy_to), "why": self.why}
