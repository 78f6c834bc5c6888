"""Issue 16, dependencies: the floors in pyproject.toml admit no version with a published
advisory we know of, and what CI installs is pinned: constraints.txt names the exact version of
every package (direct and transitive), CI, the test command and the run command install from
it, and the command that refreshes it is documented."""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]

#: The first release without the advisories below (name -> (version, advisories it fixes)).
#: Raise a floor here and in pyproject.toml when an advisory is published.
SAFE_FROM = {
    "aiohttp": ("3.14.3", "CVE-2025-53643, CVE-2026-34513..34525, CVE-2026-54273..54280, "
                "CVE-2026-59881, CVE-2026-69243, CVE-2026-69244"),
    "jinja2": ("3.1.6", "CVE-2024-56201, CVE-2024-56326, CVE-2025-27516"),
    "idna": ("3.18", "CVE-2024-3651, CVE-2026-45409, PYSEC-2026-215"),
    "authlib": ("1.6.12", "CVE-2025-59420, CVE-2025-62706, CVE-2026-27962"),
    "joserfc": ("1.7.4", "CVE-2026-48990, CVE-2026-49852, GHSA-5jhw-7jv7-qcqq"),
    "aiosmtpd": ("1.4.6", "CVE-2024-27305, CVE-2024-34083"),
    "pydantic": ("2.4.0", "CVE-2024-3772"),
    "setuptools": ("78.1.1", "CVE-2024-6345, CVE-2025-47273"),
}  # fmt: skip


def _project() -> dict:  # type: ignore[type-arg]
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _requirements() -> list[Requirement]:
    project = _project()
    lines = list(project["project"]["dependencies"])
    for extra in project["project"].get("optional-dependencies", {}).values():
        lines += extra
    lines += project["build-system"]["requires"]
    return [Requirement(line) for line in lines]


def _pins() -> dict[str, Version]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"constraints.txt: {line!r} is not an exact pin (name==version)"
            pins[canonicalize_name(name)] = Version(version)
    return pins


def test_floors_admit_no_version_with_a_known_advisory() -> None:
    floors = {}
    for req in _requirements():
        for spec in req.specifier:
            if spec.operator in (">=", "==", "~=", ">"):
                floors[canonicalize_name(req.name)] = Version(spec.version)
    for name, (safe, advisories) in SAFE_FROM.items():
        floor = floors.get(canonicalize_name(name))
        assert floor is not None, f"{name} has no floor in pyproject.toml"
        assert floor >= Version(safe), f"{name}>={floor} admits versions with {advisories}"


def test_every_dependency_is_pinned_in_constraints_within_its_floor() -> None:
    pins = _pins()
    build = {canonicalize_name(Requirement(r).name) for r in _project()["build-system"]["requires"]}
    for req in _requirements():
        name = canonicalize_name(req.name)
        if name in build and name not in pins:
            continue  # the build backend is fetched by pip's isolated build, by its floor
        assert name in pins, (
            f"{req.name} is not in constraints.txt: run `bash scripts/lock.sh` (docs/operations.md)"
        )
        assert req.specifier.contains(pins[name], prereleases=True), (
            f"constraints.txt pins {req.name}=={pins[name]}, outside {req}: run scripts/lock.sh"
        )
    for name, (safe, advisories) in SAFE_FROM.items():
        pinned = pins.get(canonicalize_name(name))
        assert pinned is None or pinned >= Version(safe), f"{name}=={pinned}: {advisories}"


def test_ci_the_test_and_the_run_command_install_from_the_constraints() -> None:
    for script in (".ci/run", "scripts/test.sh", "scripts/run.sh"):
        text = (ROOT / script).read_text()
        installs = [line for line in text.splitlines() if "pip install" in line and " -e " in line]
        assert installs, script
        assert all("-c constraints.txt" in line for line in installs), (script, installs)


def test_the_refresh_command_is_documented() -> None:
    assert (ROOT / "scripts/lock.sh").exists()
    operations = (ROOT / "docs/operations.md").read_text()
    assert "bash scripts/lock.sh" in operations
    assert "constraints.txt" in (ROOT / "README.md").read_text()
