"""Options and helpers shared by the ``haechi`` commands."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from haechi.config import SETTINGS_FILE, Settings
from haechi.engine import Engine
from haechi.errors import ConfigurationError

__all__ = [
    "DEFAULT_DATA",
    "DataOption",
    "DatabaseOption",
    "load_settings",
    "open_engine",
    "opened",
    "require_initialised",
]

DEFAULT_DATA = Path("haechi-data")
DataOption = Annotated[
    Path | None,
    typer.Option(
        "--data", "-d", help="Data directory (default ./haechi-data).", show_default=False
    ),
]
DatabaseOption = Annotated[
    str | None,
    typer.Option(
        "--database",
        help="Database URL (sqlite:///… or postgresql://…); default: SQLite in the data directory.",
        show_default=False,
    ),
]


def load_settings(data: Path | None, database: str | None = None) -> Settings:
    """Settings for a data directory, with ``--database`` on top."""
    overrides: dict[str, Any] = {}
    if database:
        overrides["database"] = {"url": database}
    try:
        return Settings.load(data, **overrides)
    except ValidationError as exc:
        # One line naming each bad setting, never its value (it may be a password).
        raise ConfigurationError(
            "invalid settings: " + "; ".join(_setting_problem(error) for error in exc.errors())
        ) from None


def _setting_problem(error: Any) -> str:
    location = ".".join(str(part) for part in error["loc"])
    message = str(error["msg"]).removeprefix("Value error, ")
    return message if message.startswith(location) else f"{location}: {message}"


def require_initialised(settings: Settings) -> Settings:
    """``settings``, if their data directory is initialised; else say how to create it."""
    if not (settings.data_dir / SETTINGS_FILE).is_file():
        raise ConfigurationError(
            f"{settings.data_dir} is not a Haechi data directory; "
            f"run `haechi init {settings.data_dir}`"
        )
    return settings


def open_engine(data: Path | None, database: str | None = None) -> Engine:
    """Open an initialised data directory's engine, or say how to create one."""
    return Engine.open(require_initialised(load_settings(data, database)))


@contextmanager
def opened(data: Path | None, database: str | None = None) -> Iterator[Engine]:
    """An initialised data directory's engine, closed when the block ends."""
    engine = open_engine(data, database)
    try:
        yield engine
    finally:
        engine.close()
