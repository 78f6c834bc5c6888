"""Typed settings: defaults from config/preservation.toml, overridden by PRESERVATION_* variables.

An unknown or malformed setting stops start-up with a SettingsError naming it."""

from __future__ import annotations

import functools
import json
import os
import re
import socket
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from preservation.domain.instruments import Treaty, parse_treaties
from preservation.domain.regimes import Regime, RegimeFileError, parse_regimes
from preservation.domain.replies import ReplyPattern, ReplyPatternError, parse_patterns
from preservation.domain.urls import AllowedHosts, parse_allowed_hosts
from preservation.errors import SettingsError

PROJECT_ROOT = Path(__file__).resolve().parents[1]
#: Where a wheel install puts config/ (pyproject's data-files), under an installation prefix.
INSTALLED_CONFIG = Path("share") / "preservation-dispatcher" / "config"


def config_dir(
    *, project_root: Path = PROJECT_ROOT, prefixes: tuple[str, ...] | None = None
) -> Path:
    """config/ of a source checkout or editable install; else the copy a wheel installed under
    its prefix (a virtualenv's, the system's, or the user's with `pip install --user`)."""
    source = project_root / "config"
    if (source / "regimes.toml").exists():
        return source
    if prefixes is None:
        import site
        import sys

        prefixes = (sys.prefix, sys.base_prefix, site.USER_BASE or "")
    for prefix in prefixes:
        installed = Path(prefix) / INSTALLED_CONFIG
        if prefix and (installed / "regimes.toml").exists():
            return installed
    return source


CONFIG_DIR = config_dir()
DEFAULTS_FILE = CONFIG_DIR / "preservation.toml"
ENV_PREFIX = "PRESERVATION_"
# Variables with the prefix that are not settings (used by the test suite and tooling).
NOT_SETTINGS = frozenset({"PRESERVATION_TEST_POSTGRES", "PRESERVATION_CONFIG"})


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    database_url: str = "sqlite+aiosqlite:///./preservation.db"
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    node_name: str = ""
    load_demo: bool = True
    regimes_file: str = ""
    parties_file: str = ""
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(25, ge=1, le=65535)
    smtp_security: Literal["none", "starttls", "tls"] = "none"
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_from: str = "preservation-dispatcher@localhost"
    smtp_timeout_seconds: float = Field(30, gt=0)
    mail_domain: str = Field("", max_length=253)
    inbound_host: str = "127.0.0.1"
    inbound_port: int = Field(0, ge=0, le=65535)
    inbound_max_bytes: int = Field(26214400, ge=1024)
    inbound_body_chars: int = Field(100000, ge=1000)
    reply_patterns_file: str = ""
    reminder_offsets_days: tuple[int, ...] = (30, 14, 7, 3, 1)
    ack_timeout_hours: int = Field(48, ge=1)
    mla_followup_days: int = Field(30, ge=1)
    emergency_followup_hours: tuple[int, ...] = (1, 4)
    digest_hour: int = Field(8, ge=0, le=23)
    staleness_days: int = Field(180, ge=1)
    claim_interval_seconds: float = Field(5.0, gt=0)
    lease_seconds: int = Field(120, ge=1)
    max_attempts: int = Field(10, ge=1)
    retry_base_seconds: float = Field(30.0, gt=0)
    retry_max_seconds: float = Field(3600.0, gt=0)
    claim_batch_size: int = Field(50, ge=1, le=10000)
    max_body_bytes: int = Field(1048576, ge=1024)
    max_identifiers: int = Field(50, ge=1)
    auth_failures_per_minute: int = Field(20, ge=1)
    metrics: str = "off"
    trusted_proxies: str = ""
    outbound_allowed_hosts: str = ""
    header_timeout_seconds: float = Field(30.0, gt=0, le=3600)
    body_timeout_seconds: float = Field(60.0, gt=0, le=3600)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    shutdown_timeout_seconds: float = Field(10.0, ge=0)
    # People and sign-in (access/people.py, access/signin.py, access/oidc.py).
    public_url: str = ""
    token_signin: bool = True
    session_idle_minutes: int = Field(30, ge=1, le=1440)
    enrolment_hours: int = Field(72, ge=1, le=720)
    password_min_length: int = Field(12, ge=8, le=128)
    signin_lock_after: int = Field(10, ge=3, le=1000)
    signin_lock_minutes: int = Field(15, ge=1, le=1440)
    api_token_days: int = Field(365, ge=1, le=3650)
    oidc_issuer: str = ""
    oidc_client_id: str = ""
    oidc_client_secret: str = ""
    oidc_scopes: str = "openid profile email"
    oidc_unit_claim: str = "unit"
    oidc_role_claim: str = "role"
    oidc_name_claim: str = "preferred_username"
    oidc_require_mfa: bool = True
    oidc_label: str = "your agency's sign-in"

    @field_validator("reminder_offsets_days")
    @classmethod
    def _offsets(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if any(v <= 0 for v in value):
            raise ValueError("every offset must be a positive number of days")
        return tuple(sorted(set(value), reverse=True))

    @field_validator("emergency_followup_hours")
    @classmethod
    def _emergency_hours(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value or any(v <= 0 for v in value):
            raise ValueError("give at least one follow-up, each a positive number of hours")
        return tuple(sorted(set(value)))

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, value: str) -> str:
        import ipaddress

        for part in (p.strip() for p in value.split(",")):
            if part:
                try:
                    ipaddress.ip_network(part, strict=False)
                except ValueError:
                    raise ValueError(f"{part!r} is not an IP address or network") from None
        return value

    @field_validator("outbound_allowed_hosts")
    @classmethod
    def _outbound(cls, value: str) -> str:
        parse_allowed_hosts(value)
        return value

    @property
    def outbound_allowed(self) -> AllowedHosts:
        """Hosts a webhook may name although they are internal (domain/urls.py)."""
        return parse_allowed_hosts(self.outbound_allowed_hosts)

    @property
    def trusted_proxy_networks(self) -> tuple:  # type: ignore[type-arg]
        import ipaddress

        return tuple(
            ipaddress.ip_network(p.strip(), strict=False)
            for p in self.trusted_proxies.split(",")
            if p.strip()
        )

    @field_validator("mail_domain")
    @classmethod
    def _mail_domain(cls, value: str) -> str:
        value = value.strip().lower().rstrip(".")
        if value and not re.fullmatch(
            r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*", value
        ):
            raise ValueError("must be a domain name in ASCII (IDNA), e.g. mail.police.example")
        return value

    @field_validator("public_url", "oidc_issuer")
    @classmethod
    def _base_url(cls, value: str) -> str:
        if value and not value.startswith(("https://", "http://")):
            raise ValueError("must be an http:// or https:// URL, or empty")
        return value.rstrip("/")

    @property
    def oidc_enabled(self) -> bool:
        return bool(self.oidc_issuer and self.oidc_client_id)

    @field_validator("database_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return value

    @property
    def node(self) -> str:
        return self.node_name or f"{socket.gethostname()}-{os.getpid()}"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def regimes_path(self) -> Path:
        return Path(self.regimes_file) if self.regimes_file else CONFIG_DIR / "regimes.toml"

    @property
    def parties_path(self) -> Path:
        return Path(self.parties_file) if self.parties_file else CONFIG_DIR / "parties.toml"

    @property
    def reply_patterns_path(self) -> Path:
        if self.reply_patterns_file:
            return Path(self.reply_patterns_file)
        return CONFIG_DIR / "reply_patterns.toml"


def _parse_env_value(name: str, raw: str) -> object:
    annotation = Settings.model_fields[name].annotation
    if annotation == tuple[int, ...]:
        raw = raw.strip()
        if raw.startswith("["):
            return json.loads(raw)
        return [part.strip() for part in raw.split(",") if part.strip()]
    return raw


def load_settings(
    *,
    environ: Mapping[str, str] | None = None,
    defaults_file: Path | None = None,
    **overrides: object,
) -> Settings:
    """Read the defaults file, apply PRESERVATION_* variables, then explicit overrides."""
    env = os.environ if environ is None else environ
    path = defaults_file or Path(env.get("PRESERVATION_CONFIG") or DEFAULTS_FILE)
    values: dict[str, object] = {}
    if path.exists():
        try:
            values.update(tomllib.loads(path.read_text(encoding="utf-8")))
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"{path}: not valid TOML: {exc}") from exc
    for key in values:
        if key not in Settings.model_fields:
            raise SettingsError(f"{path}: unknown setting {key!r}")
    for var, raw in env.items():
        if not var.startswith(ENV_PREFIX) or var in NOT_SETTINGS:
            continue
        name = var[len(ENV_PREFIX) :].lower()
        if name not in Settings.model_fields:
            raise SettingsError(f"{var}: unknown setting {name!r}")
        try:
            values[name] = _parse_env_value(name, raw)
        except json.JSONDecodeError as exc:
            raise SettingsError(f"{var}: malformed value: {exc}") from exc
    values.update(overrides)
    try:
        return Settings(**values)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = ".".join(str(p) for p in first["loc"]) or "settings"
        source = f"{ENV_PREFIX}{name.upper()}" if f"{ENV_PREFIX}{name.upper()}" in env else name
        raise SettingsError(f"setting {source}: {first['msg']}") from None


#: The legal regimes shipped with the service: <project root>/config/regimes.toml (the same
#: default as `Settings.regimes_path`).
DEFAULT_REGIMES_FILE = CONFIG_DIR / "regimes.toml"


def load_regimes(path: Path | None = None) -> dict[str, Regime]:
    """Read and validate the regimes table at `path` (default: the shipped config/regimes.toml)."""
    path = DEFAULT_REGIMES_FILE if path is None else Path(path)
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise RegimeFileError(f"{path}: regimes file not found") from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise RegimeFileError(f"{path}: cannot read the regimes file: {exc}") from None
    return parse_regimes(data, source=str(path))


@functools.lru_cache(maxsize=8)
def load_treaties(path: Path | None = None) -> dict[str, Treaty]:
    """Read and validate the treaty Parties at `path` (default: config/parties.toml); read once
    per path (the file changes only with a release or an operator's edit and a restart)."""
    path = CONFIG_DIR / "parties.toml" if path is None else Path(path)
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
        return parse_treaties(data)
    except FileNotFoundError:
        raise SettingsError(f"{path}: parties file not found") from None
    except (OSError, tomllib.TOMLDecodeError, ValueError) as exc:
        raise SettingsError(f"{path}: cannot read the parties file: {exc}") from None


def load_reply_patterns(path: Path | None = None) -> tuple[ReplyPattern, ...]:
    """Read and validate the reply patterns at `path` (default: config/reply_patterns.toml)."""
    path = CONFIG_DIR / "reply_patterns.toml" if path is None else Path(path)
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise SettingsError(f"{path}: reply patterns file not found") from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(f"{path}: cannot read the reply patterns file: {exc}") from None
    try:
        return parse_patterns(data, source=str(path))
    except ReplyPatternError as exc:
        raise SettingsError(f"{path}: {exc}") from None
