"""URLs the service sends to (a unit's webhook): what may be named, checked without I/O.

A webhook URL is chosen by a supervisor, and the node then POSTs signed requests to it from
inside the police network. Without a check it is a server-side request forgery: the node can be
pointed at itself (loopback), at the cloud's metadata service (169.254.169.254), or at any host
of the internal network. So an outbound URL is refused when:

- it is not http(s), carries a user name or password ("https://user:pw@host": it would be shown
  to every officer of the unit), or holds a space or a control character;
- its host is an address that is not globally routable: loopback, private, link-local,
  unspecified, multicast, reserved, shared (carrier-grade NAT), including the same addresses
  written inside IPv6 (``::ffff:127.0.0.1``, 6to4, NAT64);
- its host is an address written in a form other than the usual one (``2130706433``,
  ``0x7f000001``, ``0177.0.0.1``, ``127.1``: every one of them is 127.0.0.1 to a resolver);
- its host is a name that only makes sense inside a network (``localhost``, ``*.localhost``,
  ``*.local``, ``*.internal``, ``*.home.arpa``, a name without a dot, the metadata services'
  names);

unless the operator allowed that host (``outbound_allowed_hosts``: names, addresses, networks).
A name is checked again, on the addresses it resolves to, when the message is sent
(``preservation/dispatch/outbound.py``): the DNS may answer differently by then."""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from preservation.domain.text import control_problem

__all__ = [
    "AllowedHosts",
    "OutboundUrl",
    "address_problem",
    "check_outbound_url",
    "parse_allowed_hosts",
    "strip_credentials",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Digits, hex and dots only: what a resolver may read as an IPv4 address in a legacy form.
_NUMERIC_HOST = re.compile(r"^(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+)){0,3}\.?$", re.I)
_INTERNAL_SUFFIXES = (".localhost", ".local", ".internal", ".home.arpa", ".localdomain", ".lan")
_INTERNAL_NAMES = frozenset(
    {"localhost", "metadata", "metadata.google.internal", "instance-data", "kubernetes.default"}
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_SHARED = ipaddress.ip_network("100.64.0.0/10")


@dataclass(frozen=True, kw_only=True)
class AllowedHosts:
    """Hosts the operator allows although they are internal: names, and address networks."""

    names: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = ()

    def allows_name(self, host: str) -> bool:
        return _plain(host) in self.names

    def allows_address(self, address: IPAddress) -> bool:
        return any(address.version == n.version and address in n for n in self.networks)


def parse_allowed_hosts(value: str) -> AllowedHosts:
    """ "hooks.internal.example, 10.0.0.5, 192.168.10.0/24" -> AllowedHosts; ValueError naming a
    malformed entry."""
    names: set[str] = set()
    networks: list[IPNetwork] = []
    for part in (p.strip() for p in value.split(",")):
        if not part:
            continue
        try:
            networks.append(ipaddress.ip_network(part.strip("[]"), strict=False))
            continue
        except ValueError:
            pass
        name = _plain(part)
        if not re.fullmatch(r"[a-z0-9_]([a-z0-9_.-]*[a-z0-9_])?", name):
            raise ValueError(f"{part!r} is not a host name, an address or a network")
        names.add(name)
    return AllowedHosts(names=frozenset(names), networks=tuple(networks))


@dataclass(frozen=True, kw_only=True)
class OutboundUrl:
    url: str
    scheme: str
    #: Lower case, without brackets or a trailing dot.
    host: str
    port: int
    #: The host as an address when it is one.
    address: IPAddress | None


def _plain(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


def address_problem(address: IPAddress) -> str | None:
    """Why the service may not send to `address` (None for a globally routable unicast one)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is None and address.teredo is not None:
            embedded = address.teredo[1]
        if embedded is not None:
            inner = address_problem(embedded)
            if inner is not None:
                return f"{inner} (written as IPv6 {address})"
        if address.scope_id:
            return "an address with a zone index (link-local)"
    if address.is_unspecified:
        return "the unspecified address"
    if address.is_loopback:
        return "a loopback address (this machine)"
    if address.is_link_local:
        return "a link-local address (cloud metadata services answer there)"
    if address.is_multicast:
        return "a multicast address"
    if isinstance(address, ipaddress.IPv4Address) and address in _SHARED:
        return "a shared address (carrier-grade NAT)"
    if address.is_reserved:
        return "a reserved address (not globally routable)"
    if address.is_private:
        return "a private address (an internal network)"
    if not address.is_global:
        return "an address that is not globally routable"
    return None


def _name_problem(host: str) -> str | None:
    if host in _INTERNAL_NAMES or host.endswith(_INTERNAL_SUFFIXES):
        return "names a host of the local machine or network"
    if "." not in host:
        return "names a host without a domain (resolved inside the local network)"
    return None


def check_outbound_url(url: str, *, allowed: AllowedHosts = AllowedHosts()) -> OutboundUrl:
    """`url` as a value, or ValueError saying why the service may not send to it."""
    if not isinstance(url, str) or not url:
        raise ValueError("must be an http:// or https:// URL")
    problem = control_problem(url)
    if problem is not None:
        raise ValueError(problem)
    if any(ch.isspace() for ch in url):
        raise ValueError("must not contain spaces")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"is not a valid URL ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise ValueError("must be an http:// or https:// URL")
    if "@" in parts.netloc or parts.username is not None or parts.password is not None:
        raise ValueError(
            "must not carry a user name or password (anyone who reads the unit's profile would"
            " see them): the request is signed with the webhook secret instead"
        )
    raw_host = parts.hostname or ""
    host = _plain(raw_host)
    if not host:
        raise ValueError("must name a host")
    if port is None:
        port = 443 if scheme == "https" else 80
    address = _literal_address(host)
    target = OutboundUrl(url=url, scheme=scheme, host=host, port=port, address=address)
    if allowed.allows_name(host):
        return target
    if address is not None:
        if allowed.allows_address(address):
            return target
        why = address_problem(address)
        if why is not None:
            raise ValueError(
                f"names {why}: the service sends only to public addresses, unless the operator"
                " allows the host (setting outbound_allowed_hosts)"
            )
        return target
    why = _name_problem(host)
    if why is not None:
        raise ValueError(
            f"{why}: the service sends only to public hosts, unless the operator allows the host"
            " (setting outbound_allowed_hosts)"
        )
    return target


def _literal_address(host: str) -> IPAddress | None:
    """The address `host` is, or None for a name; ValueError for an address in a legacy form."""
    if "%" in host:
        raise ValueError("must not name an address with a zone index")
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if _NUMERIC_HOST.match(host):
        try:
            legacy = ipaddress.IPv4Address(socket.inet_aton(host.rstrip(".")))
        except OSError:
            raise ValueError(f"{host!r} is neither a host name nor an address") from None
        raise ValueError(
            f"writes an address in an unusual form ({host!r} is {legacy}): write it in the usual"
            " dotted form"
        )
    return None


def strip_credentials(url: str) -> str:
    """`url` without a user name or password (for showing a URL stored before they were refused)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rpartition("@")[2]
    return parts._replace(netloc=host).geturl()
