"""Webhook channel: a JSON POST signed with the unit's webhook secret.

Headers: `X-Preservation-Signature: sha256=<hex HMAC-SHA256 of the exact body bytes>`,
`Idempotency-Key` (stable per outbox row: a receiver drops repeats), `X-Preservation-Reference`.
Any answer outside 2xx, a timeout or a connection failure is a failed attempt. The URL, and every
address its host resolves to at the moment of sending, must be public unless the operator allowed
the host (dispatch/outbound.py): otherwise nothing is sent and the delivery fails at once.
Redirects are not followed."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from datetime import datetime
from typing import Any

import aiohttp

from preservation.dispatch import outbound
from preservation.dispatch.message import DeliveryError, OutgoingMessage
from preservation.domain.urls import AllowedHosts

log = logging.getLogger(__name__)
SIGNATURE_HEADER = "X-Preservation-Signature"
DEFAULT_TIMEOUT_SECONDS = 30.0


def sign(body: bytes, secret: str) -> str:
    """The signature header's value for `body`."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(body: bytes, secret: str, header: str) -> bool:
    """What a receiver does: recompute and compare in constant time."""
    return hmac.compare_digest(sign(body, secret), header or "")


def payload_for(message: OutgoingMessage, *, now: datetime) -> dict[str, Any]:
    return {
        "event": "preservation_request",
        "reference": message.reference,
        "outbox_id": message.outbox_id,
        "idempotency_key": message.idempotency_key,
        "attempt": message.attempt,
        "sent_at": now.isoformat().replace("+00:00", "Z"),
        "role": message.role,
        "urgent": message.urgent,
        "subject": message.subject,
        "text": message.text,
        "letter": message.document,
    }


def encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), default=str).encode()


async def post_json(
    http: aiohttp.ClientSession,
    *,
    url: str,
    payload: dict[str, Any],
    secret: str,
    idempotency_key: str,
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    extra_headers: dict[str, str] | None = None,
    allowed: AllowedHosts = AllowedHosts(),
    resolve: outbound.Resolver | None = None,
) -> int:
    """POST `payload` signed with `secret`; returns the HTTP status (2xx), DeliveryError otherwise.

    `url` is checked, and its host resolved and checked, now (see dispatch/outbound.py); the
    POST goes to the checked address. A URL the rule refuses is a final DeliveryError."""
    if not secret:
        raise DeliveryError(
            "no webhook secret is configured: refusing to send unsigned", permanent=True
        )
    try:
        destination = await outbound.resolve_checked(url, allowed=allowed, resolve=resolve)
    except outbound.OutboundRefused as exc:
        raise DeliveryError(f"webhook refused: {exc}", final=True) from None
    except outbound.ResolutionFailed as exc:
        raise DeliveryError(f"webhook unreachable: {exc}") from None
    body = encode(payload)
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign(body, secret),
        "Idempotency-Key": idempotency_key,
        **(extra_headers or {}),
        "Host": destination.host_header,
    }
    try:
        async with http.post(
            destination.pinned_url,
            data=body,
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=timeout_seconds),
            allow_redirects=False,
            server_hostname=destination.server_hostname,
        ) as resp:
            await resp.read()
            status = resp.status
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        raise DeliveryError(f"webhook unreachable: {type(exc).__name__}: {exc}") from None
    if not 200 <= status < 300:
        raise DeliveryError(f"webhook answered HTTP {status}", permanent=400 <= status < 500)
    return status


async def send_webhook(
    message: OutgoingMessage,
    *,
    http: aiohttp.ClientSession,
    secret: str,
    now: datetime,
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    allowed: AllowedHosts = AllowedHosts(),
    resolve: outbound.Resolver | None = None,
) -> str:
    """Deliver `message` to its URL (message.to); returns the idempotency key as the message id."""
    await post_json(
        http,
        url=message.to,
        payload=payload_for(message, now=now),
        secret=secret,
        idempotency_key=message.idempotency_key,
        timeout_seconds=timeout_seconds,
        extra_headers={"X-Preservation-Reference": message.reference},
        allowed=allowed,
        resolve=resolve,
    )
    log.info(
        "webhook delivered",
        extra={"action": "dispatch.webhook_sent", "outbox_id": message.outbox_id},
    )
    return message.idempotency_key
