"""``haechi optout``: one-click opt-out links for the company's own mailings.

The local operator acts as the privacy officer (recorded as ``--by`` or the OS user).
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from haechi.cli.common import DatabaseOption, DataOption, opened
from haechi.cli.staff import ByOption, operator
from haechi.engine.optout import MAX_LINK_DAYS

__all__ = ["optout_app"]

optout_app = typer.Typer(help="One-click opt-out links for mailings.", no_args_is_help=True)
out = Console()


@optout_app.command("link")
def link(
    subject_id: Annotated[str, typer.Argument(help="The subject the mail goes to.")],
    purpose: Annotated[str, typer.Option("--purpose", help="A purpose resting on consent.")],
    days: Annotated[
        int, typer.Option("--days", min=1, max=MAX_LINK_DAYS, help="How long it stays valid.")
    ] = 90,
    site: Annotated[
        str, typer.Option("--site", help="The privacy center's address, e.g. https://example.com")
    ] = "",
    by: ByOption = None,
    data: DataOption = None,
    database: DatabaseOption = None,
) -> None:
    """Print the opt-out link for SUBJECT_ID and PURPOSE (and the RFC 8058 headers)."""
    with opened(data, database) as engine:
        token = engine.optout_link(subject_id, purpose=purpose, valid_days=days, actor=operator(by))
    url = f"{site.rstrip('/')}/privacy/optout/{token}"
    out.print(url, soft_wrap=True, highlight=False)
    out.print(f"List-Unsubscribe: <{url}>", soft_wrap=True, highlight=False)
    out.print("List-Unsubscribe-Post: List-Unsubscribe=One-Click", highlight=False)
