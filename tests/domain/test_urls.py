"""The outbound URL rule (domain/urls.py), without I/O."""

from __future__ import annotations

import ipaddress

import pytest

from preservation.domain.urls import (
    address_problem,
    check_outbound_url,
    parse_allowed_hosts,
    strip_credentials,
)


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://127.0.0.1/", "loopback"),
        ("http://[::1]/", "loopback"),
        ("http://[::ffff:127.0.0.1]/", "loopback"),
        ("http://[2002:7f00:1::]/", "loopback"),  # 6to4 of 127.0.0.1
        ("http://[64:ff9b::a9fe:a9fe]/", "link-local"),  # NAT64 of 169.254.169.254
        ("http://169.254.169.254/", "link-local"),
        ("http://0.0.0.0/", "unspecified"),
        ("http://[::]/", "unspecified"),
        ("http://10.1.2.3/", "private"),
        ("http://[fc00::1]/", "private"),
        ("http://100.64.1.1/", "shared"),
        ("http://239.1.1.1/", "multicast"),
        ("http://240.0.0.1/", "reserved"),
        ("http://2130706433/", "unusual form"),
        ("http://0x7f000001/", "unusual form"),
        ("http://0177.0.0.1/", "unusual form"),
        ("http://127.1/", "unusual form"),
        ("http://localhost/", "local machine"),
        ("http://LOCALHOST./", "local machine"),
        ("http://printer.local/", "local machine"),
        ("http://metadata.google.internal/", "local machine"),
        ("http://intranet/", "without a domain"),
        ("http://[fe80::1%25eth0]/", "zone index"),
        ("https://u:p@example.com/", "user name or password"),
        ("https://example.com@evil.example/", "user name or password"),
        ("https://example.com/\r\nX: 1", "single line"),
        ("https://exa mple.com/", "spaces"),
        ("file:///etc/passwd", "http://"),
        ("gopher://example.com/", "http://"),
    ],
)
def test_refused(url: str, why: str) -> None:
    with pytest.raises(ValueError) as info:
        check_outbound_url(url)
    assert why in str(info.value)


def test_public_hosts_pass() -> None:
    for url in (
        "https://hooks.example.org/in?x=1",
        "http://93.184.215.14:8080/",
        "https://[2606:4700::1111]/",
    ):
        target = check_outbound_url(url)
        assert target.url == url
    assert check_outbound_url("https://Hooks.Example.ORG./in").host == "hooks.example.org"


def test_the_operator_allows_hosts_and_networks() -> None:
    allowed = parse_allowed_hosts("hooks.police.internal, 10.20.0.0/16, ::1")
    assert check_outbound_url("https://hooks.police.internal/x", allowed=allowed)
    assert check_outbound_url("http://10.20.9.9/x", allowed=allowed)
    assert check_outbound_url("http://[::1]:9000/x", allowed=allowed)
    with pytest.raises(ValueError):
        check_outbound_url("http://10.21.0.1/x", allowed=allowed)
    with pytest.raises(ValueError):
        check_outbound_url("http://127.0.0.1/x", allowed=allowed)
    with pytest.raises(ValueError):
        parse_allowed_hosts("not a host!")


def test_address_problem_is_none_only_for_global_unicast() -> None:
    assert address_problem(ipaddress.ip_address("93.184.215.14")) is None
    assert address_problem(ipaddress.ip_address("2606:4700::1111")) is None
    assert address_problem(ipaddress.ip_address("192.0.2.1")) is not None  # documentation


def test_credentials_are_stripped_for_display() -> None:
    assert (
        strip_credentials("https://bob:pw@hooks.example.org/in") == "https://hooks.example.org/in"
    )
    assert strip_credentials("https://hooks.example.org/in") == "https://hooks.example.org/in"
