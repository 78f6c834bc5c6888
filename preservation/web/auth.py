"""Bearer-token authentication, with failed attempts slowed per client address and credential.

Failures are counted per address and presented credential (its 10-character prefix), and per
address. A credential that failed too often from an address is refused there without a look-up
(429); past the limit for the whole address, failures answer 429 instead of 401. A valid token
is never refused for others' failures: a shared address (a NAT, a proxy) cannot lock its users
out, and guessing gains nothing (a token is 256 random bits)."""

from __future__ import annotations

import time
from collections import defaultdict, deque

from aiohttp import web

from preservation.access.auth import Principal, hash_token, principal_for_token
from preservation.errors import TooManyRequests, Unauthorized
from preservation.web.keys import CLOCK, DB

PRINCIPAL = web.RequestKey("principal", Principal)


class FailureLimiter:
    """Counts failed authentications over a sliding minute (per node): per client address, and
    per address and credential prefix (`key`)."""

    #: Windows kept at most (a scan from many addresses must not grow memory without bound).
    MAX_WINDOWS = 20000

    def __init__(self, per_minute: int):
        self.per_minute = per_minute
        self._failures: dict[tuple[str, str], deque[float]] = defaultdict(deque)

    def _window(self, address: str, key: str | None, now: float) -> deque[float]:
        window = self._failures[(address, "*" if key is None else f"k:{key}")]
        while window and window[0] <= now - 60:
            window.popleft()
        return window

    def check(self, address: str, key: str | None = None) -> None:
        """429 when `address` is over the limit: all its failures (`key` None), or those with
        the credential `key`."""
        now = time.monotonic()
        window = self._window(address, key, now)
        if len(window) >= self.per_minute:
            retry = max(1, int(60 - (now - window[0])) + 1)
            what = "from this address" if key is None else "with this credential"
            raise TooManyRequests(f"too many failed authentications {what}", retry_after=retry)

    def fail(self, address: str, key: str | None = None) -> None:
        """Count a failure of `address` (and of its credential `key`, when given)."""
        now = time.monotonic()
        self._window(address, None, now).append(now)
        if key is not None:
            self._window(address, key, now).append(now)
        while len(self._failures) > self.MAX_WINDOWS:
            self._failures.pop(next(iter(self._failures)))


def credential_key(credential: str | None) -> str:
    """What failures of a credential are counted under: its display prefix (never the secret
    part: 10 characters, as `token list` shows them)."""
    return (credential or "")[:10]


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
    token = bearer(request)
    key = credential_key(token)
    principal = None
    if token is not None and len(token) <= 200:
        cache = app.get(PRINCIPALS)
        digest = hash_token(token)
        principal = cache.get(digest) if cache is not None else None
        if principal is None:
            # This credential failed here too often: refused without a look-up. Another
            # credential from the same address is not affected.
            limiter.check(address, key)
            async with app[DB].read() as session:
                principal = await principal_for_token(session, token, now=app[CLOCK].now())
            if principal is not None and cache is not None:
                cache.put(digest, principal)
    if principal is None:
        # Past the limit for the address, a failure is 429 (Retry-After) rather than 401.
        limiter.check(address)
        limiter.fail(address, key)
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
