"""Behind a trusted reverse proxy, the failed-authentication limit counts per real client."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import make_mocked_request

from preservation.errors import SettingsError
from preservation.settings import load_settings
from preservation.web.auth import client_address
from preservation.web.keys import SETTINGS


def _request(trusted: str, peer: str, forwarded: str | None):  # type: ignore[no-untyped-def]
    from aiohttp import web

    app = web.Application()
    app[SETTINGS] = load_settings(environ={}, trusted_proxies=trusted)
    headers = {"X-Forwarded-For": forwarded} if forwarded is not None else {}
    req = make_mocked_request("GET", "/api/v1/me", headers=headers, app=app)
    # make_mocked_request has no peer: give it one the way aiohttp reads it.
    return req.clone(remote=peer)


@pytest.mark.parametrize(
    ("trusted", "peer", "forwarded", "expected"),
    [
        ("", "10.0.0.5", "203.0.113.9", "10.0.0.5"),  # no trusted proxy: the header is ignored
        ("10.0.0.5", "10.0.0.5", "203.0.113.9", "203.0.113.9"),
        (
            "10.0.0.0/24",
            "10.0.0.5",
            "198.51.100.1, 203.0.113.9, 10.0.0.7",
            "203.0.113.9",
        ),  # spoofed left hop ignored
        (
            "10.0.0.5",
            "192.0.2.1",
            "203.0.113.9",
            "192.0.2.1",
        ),  # an untrusted peer cannot claim an address
        ("10.0.0.5", "10.0.0.5", None, "10.0.0.5"),
        ("10.0.0.5", "10.0.0.5", "not-an-ip", "not-an-ip"),
    ],
)
def test_client_address(trusted: str, peer: str, forwarded: str | None, expected: str) -> None:
    assert client_address(_request(trusted, peer, forwarded)) == expected


def test_bad_trusted_proxy_setting_is_named() -> None:
    with pytest.raises(SettingsError, match="PRESERVATION_TRUSTED_PROXIES"):
        load_settings(environ={"PRESERVATION_TRUSTED_PROXIES": "10.0.0.1,nonsense"})
