"""A careless operator: every mistake ends with exit code 2 and one line, never a traceback."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

import pytest

from tests.cli.test_cli import haechi


@pytest.fixture(scope="module")
def initialised(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory made once for the module (the commands below change nothing)."""
    data = tmp_path_factory.mktemp("operator") / "data"
    result = haechi("init", str(data))
    assert result.returncode == 0, result.stderr
    return data


@pytest.fixture
def copy(initialised: Path, tmp_path: Path) -> Path:
    """A private copy of the initialised directory, free to damage."""
    target = tmp_path / "copy"
    shutil.copytree(initialised, target)
    return target


def refused(*args: str, env: dict[str, str] | None = None) -> str:
    """Run ``haechi args``; assert exit 2 with one line on stderr; return that line."""
    result = haechi(*args, env=env)
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_init_on_a_file_or_an_impossible_path(tmp_path: Path) -> None:
    """It refuses a data directory that is a file, or that cannot be created."""
    a_file = tmp_path / "file"
    a_file.write_text("not a directory")
    assert "cannot create" in refused("init", str(a_file))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert "cannot create" in refused("serve", "--data", str(a_file), "--port", str(port))
    assert "cannot create" in refused("init", "/proc/haechi-data")


@pytest.mark.parametrize(
    "args",
    [
        ["audit", "review", "0000-01"],
        ["audit", "review", "9999-12"],
        ["sweep", "--dry-run", "--now", "0001-01-01T00:00:00+00:00"],
        ["audit", "prove", str(2**80)],
        ["audit", "consistency", "1", str(2**80)],
    ],
)
def test_values_beyond_what_the_record_holds(initialised: Path, args: list[str]) -> None:
    """It refuses months, times and ids beyond the record's range in one line."""
    refused(*args, "--data", str(initialised))


def test_migrate_needs_an_initialised_directory(tmp_path: Path) -> None:
    """It refuses to migrate (and so create) a database in a directory never initialised."""
    assert "haechi init" in refused("migrate", "--data", str(tmp_path))
    assert not (tmp_path / "haechi.db").exists()


def test_an_unreachable_or_foreign_database(copy: Path) -> None:
    """It says the database failed, naming neither the URL's password nor a statement."""
    line = refused(
        "staff",
        "list",
        "--data",
        str(copy),
        "--database",
        "postgresql://haechi:SECRETPW@127.0.0.1:1/haechi",
    )
    assert "database" in line
    assert "SECRETPW" not in line
    (copy / "haechi.db").write_bytes(b"not a database at all")
    assert "database" in refused("staff", "list", "--data", str(copy))


@pytest.mark.parametrize(
    "text",
    [
        b"[server\n",
        b"\xff\xfe[server]\n",
        b'[monitor]\ntimezone = "Mars/Olympus"\n',
        b'[monitor]\ntimezone = "/etc/passwd"\n',
        b'[monitor]\nworkday_start = "25:99"\n',
        b"[monitor]\nworkdays = [7]\n",
    ],
)
def test_a_damaged_settings_file(copy: Path, text: bytes) -> None:
    """It refuses malformed TOML, non-UTF-8 text and impossible monitor settings at once."""
    (copy / "haechi.toml").write_bytes(text)
    assert "haechi.toml" in refused("staff", "list", "--data", str(copy))


def test_an_environment_variable_that_is_not_json(initialised: Path) -> None:
    """It refuses a list setting given as something other than JSON, without its value."""
    line = refused(
        "staff",
        "list",
        "--data",
        str(initialised),
        env={"HAECHI__AUTH__TRUSTED_NETWORKS": "SECRETPW"},
    )
    assert "SECRETPW" not in line
