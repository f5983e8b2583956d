"""Options and helpers shared by the ``haechi`` commands."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from haechi.config import SETTINGS_FILE, Settings
from haechi.engine import Engine
from haechi.errors import ConfigurationError

__all__ = [
    "DEFAULT_DATA",
    "DataOption",
    "DatabaseOption",
    "load_settings",
    "log_jobs",
    "open_engine",
    "opened",
    "progress_bar",
    "require_initialised",
    "stage_counter",
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


def log_jobs() -> None:
    """Send the ``haechi`` loggers (jobs taken, rounds failed) to stderr, one line each."""
    logger = logging.getLogger("haechi")
    if not any(getattr(handler, "_haechi", False) for handler in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s:     %(name)s: %(message)s"))
        handler._haechi = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)


@contextmanager
def progress_bar(
    console: Console, *, disable: bool = False
) -> Iterator[Callable[[str, int, int], None]]:
    """A Rich progress bar on ``console``, a task per stage; yields ``progress(stage, n, of)``.

    ``disable`` draws nothing (a command answering in JSON).
    """
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True, disable=disable) as bar:
        tasks: dict[str, Any] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=max(total, done))

        yield progress


def stage_counter(
    progress: Callable[[str, int, int], None], stage: str
) -> tuple[Callable[[int], None], Callable[[], None]]:
    """``started(total)`` and ``advanced()`` for work that counts one at a time, on ``stage``."""
    count = {"done": 0, "total": 0}

    def started(total: int) -> None:
        count["total"] = total
        progress(stage, count["done"], total)

    def advanced() -> None:
        count["done"] += 1
        progress(stage, count["done"], count["total"])

    return started, advanced
