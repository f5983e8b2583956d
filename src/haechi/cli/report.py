"""``haechi report``: the quarterly in-house audit and the safeguards register.

The local operator acts as the privacy officer (recorded as ``--by`` or the OS user).
Quarters are written YYYYQn and run in Korean time (Asia/Seoul).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from haechi.cli.common import DatabaseOption, DataOption, opened
from haechi.cli.staff import ByOption, operator
from haechi.errors import InvalidInput
from haechi.reports import QUARTER_MEASURE
from haechi.web.i18n import LANGUAGES, check_choice
from haechi.web.report_document import render_report

__all__ = ["LangOption", "OutOption", "print_json", "report_app", "write_page"]

report_app = typer.Typer(
    help="The quarterly in-house audit (§6) and its safeguards register.", no_args_is_help=True
)
out = Console()
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
QuarterArgument = Annotated[str, typer.Argument(help="The quarter, e.g. 2026Q4 (Korean time).")]


LangOption = Annotated[str, typer.Option("--lang", help="ko or en.")]
OutOption = Annotated[
    Path | None, typer.Option("--out", help="Write the HTML page here.", show_default=False)
]


def write_page(page: str, out_file: Path | None) -> None:
    """An HTML page to ``out_file``, or to stdout without one; an unwritable file is exit 2."""
    if out_file is None:
        sys.stdout.write(page)
        return
    try:
        out_file.write_text(page, encoding="utf-8")
    except OSError as failure:
        raise InvalidInput(f"cannot write --out ({type(failure).__name__})", field="out") from None
    out.print(f"wrote {out_file}", markup=False)


def print_json(value: Any) -> None:
    """``value`` as JSON on stdout (dates as ISO 8601)."""
    sys.stdout.write(json.dumps(value, ensure_ascii=False, indent=2, default=str) + "\n")


@report_app.command("quarterly")
def quarterly(
    quarter: QuarterArgument,
    lang: LangOption = "ko",
    out_file: OutOption = None,
    by: ByOption = None,
    data: DataOption = None,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """The quarter's report: HTML (to --out, or stdout) or, with --json, its figures."""
    check_choice(lang, LANGUAGES, "lang")
    with opened(data, database) as engine:
        figures = engine.quarterly_report(quarter, actor=operator(by))
        if as_json:
            print_json(figures.to_json())
            return
        page = render_report(engine.policy.policy, figures, lang=lang)
    write_page(page, out_file)


@report_app.command("attest")
def attest(
    quarter: QuarterArgument,
    note: Annotated[str, typer.Option("--note", help="What was checked, for the register.")],
    measure: Annotated[
        str | None,
        typer.Option("--measure", help="A measure the policy declares.", show_default=False),
    ] = None,
    whole: Annotated[
        bool, typer.Option("--quarter", help="Attest the whole quarter (once it has ended).")
    ] = False,
    by: ByOption = None,
    data: DataOption = None,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """The privacy officer confirms one measure for the quarter, or (--quarter) the quarter."""
    if whole == (measure is not None):
        raise typer.BadParameter("give either --measure or --quarter")
    with opened(data, database) as engine:
        found = engine.attest(
            quarter, measure=measure or QUARTER_MEASURE, note=note, actor=operator(by)
        )
    if as_json:
        print_json(found.__dict__)
        return
    out.print(f"attested {found.quarter} {found.measure} (#{found.id})", markup=False)


@report_app.command("register")
def register(
    quarter: QuarterArgument,
    by: ByOption = None,
    data: DataOption = None,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """The quarter's safeguards register: each declared measure confirmed or missing."""
    with opened(data, database) as engine:
        found: dict[str, Any] = engine.safeguards_register(quarter, actor=operator(by))
    if as_json:
        print_json(found)
        return
    table = Table("measure", "confirmed", "by", "note", title=f"Safeguards register {quarter}")
    for one in found["measures"]:
        attestation = one["attestation"] or {}
        table.add_row(
            one["kind"],
            "yes" if one["confirmed"] else "MISSING",
            attestation.get("by", ""),
            attestation.get("note", ""),
        )
    out.print(table)
    whole = found["quarter_attested"]
    out.print(
        f"quarter attested by {whole['by']}" if whole else "quarter not attested", markup=False
    )
