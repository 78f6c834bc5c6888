"""Bearer-token authentication, with failed attempts slowed per client address."""

from __future__ import annotations

import time
from collections import defaultdict, deque

from aiohttp import web

from preservation.access.auth import Principal, hash_token, principal_for_token
from preservation.errors import TooManyRequests, Unauthorized
from preservation.web.keys import CLOCK, DB

PRINCIPAL = web.RequestKey("principal", Principal)


class FailureLimiter:
    """Counts failed authentications per address over a sliding minute (per node)."""

    def __init__(self, per_minute: int):
        self.per_minute = per_minute
        self._failures: dict[str, deque[float]] = defaultdict(deque)

    def _window(self, address: str, now: float) -> deque[float]:
        window = self._failures[address]
        while window and window[0] <= now - 60:
            window.popleft()
        return window

    def check(self, address: str) -> None:
        now = time.monotonic()
        window = self._window(address, now)
        if len(window) >= self.per_minute:
            retry = max(1, int(60 - (now - window[0])) + 1)
            raise TooManyRequests(
                "too many failed authentications from this address", retry_after=retry
            )

    def fail(self, address: str) -> None:
        self._window(address, time.monotonic()).append(time.monotonic())
        if len(self._failures) > 10000:  # bound memory under a scan from many addresses
            self._failures.pop(next(iter(self._failures)))


LIMITER = web.AppKey("limiter", FailureLimiter)


class PrincipalCache:
    """Principals of tokens seen in the last ``ttl_seconds``, by token hash (per node), so a
    burst of requests with one token costs one query. The price: a revoked token, or a changed
    role, takes effect on this node within ``ttl_seconds``. Only valid tokens are kept."""

    def __init__(self, ttl_seconds: float = 2.0, max_entries: int = 10_000):
        self.ttl = ttl_seconds
        self.max_entries = max_entries
        self._entries: dict[str, tuple[Principal, float]] = {}

    def get(self, digest: str) -> Principal | None:
        entry = self._entries.get(digest)
        if entry is None:
            return None
        if time.monotonic() - entry[1] >= self.ttl:
            del self._entries[digest]
            return None
        return entry[0]

    def put(self, digest: str, principal: Principal) -> None:
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[digest] = (principal, time.monotonic())

    def clear(self) -> None:
        self._entries.clear()


PRINCIPALS = web.AppKey("principals", PrincipalCache)


def bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def authenticate(request: web.Request) -> Principal:
    app = request.app
    existing = request.get(PRINCIPAL)
    if existing is not None:
        return existing
    address = client_address(request)
    limiter = app[LIMITER]
    limiter.check(address)
    token = bearer(request)
    principal = None
    if token is not None and len(token) <= 200:
        cache = app.get(PRINCIPALS)
        digest = hash_token(token)
        principal = cache.get(digest) if cache is not None else None
        if principal is None:
            async with app[DB].read() as session:
                principal = await principal_for_token(session, token, now=app[CLOCK].now())
            if principal is not None and cache is not None:
                cache.put(digest, principal)
    if principal is None:
        limiter.fail(address)
        raise Unauthorized("a valid bearer token is required" if token else "missing bearer token")
    request[PRINCIPAL] = principal
    return principal


def client_address(request: web.Request) -> str:
    """The client's address: the peer, or behind a trusted proxy the last untrusted hop of
    X-Forwarded-For (hops a client wrote itself stand to the left and are ignored)."""
    import ipaddress

    from preservation.web.keys import SETTINGS

    remote = request.remote or "unknown"
    trusted = request.app[SETTINGS].trusted_proxy_networks
    if not trusted:
        return remote

    def is_trusted(address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address.strip())
        except ValueError:
            return False
        return any(ip in net for net in trusted)

    if not is_trusted(remote):
        return remote
    hops = [
        h.strip()
        for h in ",".join(request.headers.getall("X-Forwarded-For", [])).split(",")
        if h.strip()
    ]
    for hop in reversed(hops):
        if not is_trusted(hop):
            return hop
    return remote
