"""The outbound URL rule at the moment of sending (domain/urls.py has the rule itself).

A name that resolved to a public address when a supervisor saved it may resolve to 127.0.0.1
or 169.254.169.254 when the message goes (DNS rebinding). So the host is resolved here, every
address it resolves to is checked, and the request is sent to the checked address itself (the
URL's host stays in the Host header and in TLS's server name): the HTTP client does not
resolve the name a second time. Redirects are not followed."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from yarl import URL

from preservation.domain.urls import (
    AllowedHosts,
    OutboundUrl,
    address_problem,
    check_outbound_url,
)

#: host, port -> the addresses it resolves to (tests give their own).
Resolver = Callable[[str, int], Awaitable[list[str]]]


class OutboundRefused(Exception):
    """The service may not send to this URL (a rule, not a transient failure)."""


class ResolutionFailed(Exception):
    """The host name did not resolve (perhaps for now)."""


async def system_resolve(host: str, port: int) -> list[str]:
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise ResolutionFailed(f"{host} does not resolve: {exc}") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True, kw_only=True)
class Destination:
    """Where to connect: the checked address, and the URL with that address as its host."""

    target: OutboundUrl
    address: str
    pinned_url: URL
    #: The Host header (the URL's own host and port).
    host_header: str
    #: TLS's server name (None for plain http).
    server_hostname: str | None


def check_url(url: str, allowed: AllowedHosts) -> OutboundUrl:
    try:
        return check_outbound_url(url, allowed=allowed)
    except ValueError as exc:
        raise OutboundRefused(f"the URL {exc}") from None


async def resolve_checked(
    url: str, *, allowed: AllowedHosts, resolve: Resolver | None = None
) -> Destination:
    """Check `url` and the addresses its host resolves to now; OutboundRefused when the rule
    forbids any of them, ResolutionFailed when the name does not resolve."""
    target = check_url(url, allowed)
    if target.address is not None:
        addresses = [str(target.address)]
    else:
        addresses = await (resolve or system_resolve)(target.host, target.port)
        if not addresses:
            raise ResolutionFailed(f"{target.host} resolves to no address")
    by_name = allowed.allows_name(target.host)
    for text in addresses:
        address = ipaddress.ip_address(text.split("%", 1)[0])
        if by_name or allowed.allows_address(address):
            continue
        why = address_problem(address)
        if why is not None:
            raise OutboundRefused(
                f"{target.host} resolves to {why} ({address}): refused, unless the operator allows"
                " the host (setting outbound_allowed_hosts)"
            )
    chosen = addresses[0]
    url_obj = URL(url)
    pinned = url_obj.with_host(chosen)
    default = 443 if target.scheme == "https" else 80
    host_header = target.host if ":" not in target.host else f"[{target.host}]"
    if url_obj.explicit_port is not None and url_obj.explicit_port != default:
        host_header = f"{host_header}:{target.port}"
    return Destination(
        target=target,
        address=chosen,
        pinned_url=pinned,
        host_header=host_header,
        server_hostname=target.host if target.scheme == "https" else None,
    )


async def check_reachable(
    url: str, *, allowed: AllowedHosts, resolve: Resolver | None = None
) -> None:
    """The check made when a URL is saved: the rule, and the addresses the name resolves to
    now. A name that does not resolve (yet) is accepted: it is checked again at each sending."""
    try:
        await resolve_checked(url, allowed=allowed, resolve=resolve)
    except ResolutionFailed:
        return
