"""``haechi staff training``: records of the staff's privacy training (§6②)."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from haechi.cli.common import DatabaseOption, DataOption, opened
from haechi.cli.report import JsonOption, print_json
from haechi.cli.staff import ByOption, operator
from haechi.errors import InvalidInput

__all__ = ["training_app"]

training_app = typer.Typer(help="Staff training records.", no_args_is_help=True)
out = Console()
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _date(text: str) -> date:
    try:
        if _DATE.fullmatch(text):
            return date.fromisoformat(text)
    except ValueError:
        pass
    raise InvalidInput("a date is written YYYY-MM-DD", field="date")


@training_app.command("add")
def training_add(
    username: Annotated[str, typer.Argument(help="The staff account.")],
    course: Annotated[str, typer.Option("--course", help="The course completed.")],
    taken_on: Annotated[str, typer.Option("--date", help="When, YYYY-MM-DD.")],
    by: ByOption = None,
    data: DataOption = None,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Record a completed course (an audit event)."""
    when = _date(taken_on)
    with opened(data, database) as engine:
        found = engine.add_training(username, course=course, taken_on=when, actor=operator(by))
    if as_json:
        print_json(found.__dict__)
        return
    out.print(f"recorded training #{found.id} of {found.username}", markup=False)


@training_app.command("list")
def training_list(
    by: ByOption = None,
    data: DataOption = None,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Every training record, by date."""
    with opened(data, database) as engine:
        found = engine.training(actor=operator(by))
    if as_json:
        print_json([one.__dict__ for one in found])
        return
    table = Table("date", "account", "course", "recorded by", title="Training")
    for one in found:
        table.add_row(one.taken_on.isoformat(), one.username, one.course, one.recorded_by)
    out.print(table)
