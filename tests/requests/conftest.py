"""Fixtures shared by the request tests: the unit profile and small directory of
test_requests_api (`ready`), for the tests of records of what was sent elsewhere."""

from __future__ import annotations

from tests.requests.test_requests_api import ready  # noqa: F401 - a fixture, found by name
