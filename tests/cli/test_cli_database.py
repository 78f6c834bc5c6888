"""The CLI names its database, creates one only with `db upgrade` or `serve`, makes a new unit
only with --create-unit, has --version, and says an error in one line (issue 21)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from preservation.cli import main


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder with no database, the default relative database URL, and no other setting."""
    for name in list(__import__("os").environ):
        if name.startswith("PRESERVATION_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("PRESERVATION_LOAD_DEMO", "false")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_a_command_refuses_to_create_a_database(elsewhere: Path, capsys: Any) -> None:
    code = main(["token", "create", "--unit", "Cyber Unit", "--role", "officer"])
    err = capsys.readouterr().err
    assert code == 1
    assert not (elsewhere / "preservation.db").exists()
    assert err.count("\n") == 1
    assert f"no database at {elsewhere / 'preservation.db'}" in err
    assert "preservation db upgrade" in err
    for command in (["request", "list", "--unit", "x"], ["deadlines"], ["audit", "verify"]):
        assert main(command) == 1
        assert not (elsewhere / "preservation.db").exists()


def test_db_upgrade_creates_and_every_command_names_it(elsewhere: Path, capsys: Any) -> None:
    assert main(["db", "upgrade"]) == 0
    path = elsewhere / "preservation.db"
    assert path.exists()
    assert f"preservation: database {path}" in capsys.readouterr().err

    assert main(["token", "create", "--unit", "Cyber Unit", "--role", "officer"]) == 2
    out = capsys.readouterr()
    assert out.out == ""
    assert out.err.splitlines() == [
        f"preservation: database {path}",
        "preservation: unit: no unit is named 'Cyber Unit' (units: none yet); add "
        "--create-unit to create it",
    ]

    assert (
        main(["token", "create", "--create-unit", "--unit", "Cyber Unit", "--role", "officer"]) == 0
    )
    token = capsys.readouterr().out.strip()
    assert token and "\n" not in token

    # A typo: refused, naming the units there are; no second unit.
    assert (
        main(["token", "create", "--unit", "Cyber Unti", "--role", "officer", "--user", "b"]) == 2
    )
    assert "(units: 'Cyber Unit')" in capsys.readouterr().err
    assert (
        main(["token", "create", "--unit", "Cyber Unit", "--role", "officer", "--user", "b"]) == 0
    )


def test_version(capsys: Any) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.startswith("preservation ")
