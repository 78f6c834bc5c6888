"""docs/operations.md deploys with `pip install .`: a wheel, not this checkout. The wheel must
carry config/ (default settings, legal regimes), and the installed service must find it from
any working directory: built here, installed into a fresh virtualenv (the dependencies lent by
this one), then migrated, given a token and asked for the regimes it knows."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

from preservation.settings import INSTALLED_CONFIG, config_dir

ROOT = Path(__file__).resolve().parents[2]


def test_config_dir_prefers_the_checkout_then_an_installed_copy(tmp_path: Path) -> None:
    checkout, prefix = tmp_path / "checkout", tmp_path / "prefix"
    (checkout / "config").mkdir(parents=True)
    (prefix / INSTALLED_CONFIG).mkdir(parents=True)
    (prefix / INSTALLED_CONFIG / "regimes.toml").write_text("")
    # A site-packages without config/: the installed copy under the prefix.
    assert (
        config_dir(project_root=checkout, prefixes=("", str(prefix))) == prefix / INSTALLED_CONFIG
    )
    (checkout / "config" / "regimes.toml").write_text("")
    assert config_dir(project_root=checkout, prefixes=(str(prefix),)) == checkout / "config"
    # Neither: the checkout's path, so the error names it.
    empty = tmp_path / "empty"
    assert config_dir(project_root=empty, prefixes=(str(tmp_path),)) == empty / "config"


def test_an_installed_wheel_finds_its_config(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
         "--wheel-dir", str(wheels), str(ROOT)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    (wheel,) = wheels.glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for name in ("preservation.toml", "regimes.toml"):
        assert any(n.endswith(f".data/data/{INSTALLED_CONFIG}/{name}") for n in names), name

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True, timeout=60,
    ).stdout.strip()  # fmt: skip
    # The dependencies come from this virtualenv (appended: the wheel's own files come first;
    # the editable install of this checkout is not activated by a plain path line).
    (Path(site) / "lend-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", str(wheel)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    probe = (
        "import preservation, preservation.settings as s;"
        "print(preservation.__file__); print(s.CONFIG_DIR);"
        "print(sorted(k for k, v in s.load_regimes().items() if not v.template))"
    )
    out = subprocess.run(
        [str(python), "-c", probe], cwd=elsewhere, env=env,
        check=True, capture_output=True, text=True, timeout=120,
    ).stdout.splitlines()  # fmt: skip
    assert out[0].startswith(str(venv)), out  # the wheel, not this checkout
    assert out[1] == str(venv / INSTALLED_CONFIG)
    assert "budapest-art29" in out[2] and "us-2703f" in out[2]

    db = f"sqlite+aiosqlite:///{elsewhere / 'p.db'}"
    cli = venv / "bin" / "preservation"
    for args in (
        ["db", "upgrade"],
        [
            "token",
            "create",
            "--create-unit",
            "--unit",
            "Installed",
            "--role",
            "officer",
            "--user",
            "ann",
        ],
    ):
        done = subprocess.run(
            [str(cli), *args], cwd=elsewhere, env={**env, "PRESERVATION_DATABASE_URL": db},
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
