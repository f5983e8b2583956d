"""``haechi complaints``: the complaints queue, threads, replies and closing.

The local operator acts as the privacy officer (recorded as ``--by`` or the OS user).
Texts are printed to the terminal that asked for them, never to a log.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, replace
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from haechi.access.decision import Actor
from haechi.cli.common import DatabaseOption, DataOption, opened
from haechi.cli.staff import ByOption, operator
from haechi.engine import Engine
from haechi.errors import ConfigurationError
from haechi.mail import SmtpNotifier
from haechi.mail.complaints import ResultQueue
from haechi.rights.complaints import ComplaintInfo

__all__ = ["complaints_app"]

complaints_app = typer.Typer(
    help="Complaints (민원): queue, threads, replies, closing.", no_args_is_help=True
)
out = Console()
err = Console(stderr=True)
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _officer(by: str | None) -> Actor:
    # The privacy officer serves every purpose, as its staff session does.
    return replace(operator(by), all_purposes=True)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value.value if hasattr(value, "value") else value


def _json(value: Any) -> None:
    sys.stdout.write(json.dumps(_plain(value), ensure_ascii=False, indent=2) + "\n")


def _results(engine: Engine) -> ResultQueue | None:
    """The outbox queue a step stores the result mail in; None without a mail server."""
    return ResultQueue(engine) if engine.settings.mail.smtp_host else None


def _send(queue: ResultQueue | None) -> None:
    """Mail now what the step queued; what the server does not take waits in the outbox.

    The complaint shows ``delivered_at`` once the server took it (not in what was printed
    for the step, which ran before).
    """
    if queue is not None and not queue.send(SmtpNotifier(queue.engine.settings.mail)):
        err.print(
            "warning: the result could not be mailed yet; it waits in the outbox "
            "and `haechi serve` sends it",
            markup=False,
        )


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else ""


@complaints_app.command("list")
def complaints_list(
    state: Annotated[
        str | None, typer.Option(help="received, assigned or closed.", show_default=False)
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 100,
    by: ByOption = None,
    data: DataOption = None,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """The complaints queue, oldest first (metadata only)."""
    with opened(data, database) as engine:
        found = engine.complaints(actor=_officer(by), state=state, limit=limit)
    if as_json:
        _json([asdict(info) for info in found])
        return
    table = Table("id", "state", "received", "assigned to", "delivery", "collection")
    for info in found:
        table.add_row(
            info.id,
            info.state.value,
            _when(info.received_at),
            info.assigned_to or "",
            info.delivery or "",
            info.collection_state,
        )
    out.print(table)


@complaints_app.command("show")
def complaints_show(
    complaint_id: Annotated[str, typer.Argument(help="The complaint's id.")],
    by: ByOption = None,
    data: DataOption = None,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """A complaint and its thread."""
    with opened(data, database) as engine:
        info, thread = engine.complaint(complaint_id, actor=_officer(by))
    if as_json:
        _json({**asdict(info), "messages": [asdict(message) for message in thread]})
        return
    _print_info(info)
    for message in thread:
        out.print(
            f"#{message.seq} {message.kind} · {message.author} · {_when(message.written_at)}",
            markup=False,
        )
        out.print(message.text if message.text is not None else "(withheld)", markup=False)


def _print_info(info: ComplaintInfo) -> None:
    out.print(f"complaint {info.id}: {info.state.value}", markup=False)
    out.print(
        f"collection {info.collection_id} ({info.collection_state}), "
        f"received {_when(info.received_at)}, assigned to {info.assigned_to or '-'}, "
        f"delivery {info.delivery or '-'}",
        markup=False,
    )


@complaints_app.command("assign")
def complaints_assign(
    complaint_id: Annotated[str, typer.Argument(help="The complaint's id.")],
    to: Annotated[str, typer.Option("--to", help="A handler granted complaints.")],
    by: ByOption = None,
    data: DataOption = None,
    database: DatabaseOption = None,
) -> None:
    """Assign a complaint to a handler granted complaints (or a privacy officer)."""
    with opened(data, database) as engine:
        engine.assign_complaint(complaint_id, to=to, actor=_officer(by))
    out.print(f"complaint {complaint_id} assigned", markup=False)


@complaints_app.command("verify")
def complaints_verify(
    complaint_id: Annotated[str, typer.Argument(help="The complaint's id.")],
    method: Annotated[str, typer.Option(help="phone, document, in_person or reply_mail.")],
    by: ByOption = None,
    data: DataOption = None,
    database: DatabaseOption = None,
) -> None:
    """Record that the petitioner's email was confirmed, and how."""
    with opened(data, database) as engine:
        engine.verify_complaint_contact(complaint_id, method=method, actor=_officer(by))
    out.print(f"complaint {complaint_id}: contact confirmed", markup=False)


@complaints_app.command("reply")
def complaints_reply(
    complaint_id: Annotated[str, typer.Argument(help="The complaint's id.")],
    text: Annotated[str, typer.Option("--text", help="The reply; '-' reads standard input.")],
    note: Annotated[bool, typer.Option("--note", help="An internal note.")] = False,
    by: ByOption = None,
    data: DataOption = None,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Add a sealed reply (or an internal note) to the thread."""
    message = sys.stdin.read() if text == "-" else text
    with opened(data, database) as engine:
        seq = engine.reply_complaint(complaint_id, text=message, note=note, actor=_officer(by))
    if as_json:
        _json({"complaint_id": complaint_id, "seq": seq})
        return
    out.print(f"complaint {complaint_id}: message #{seq} added", markup=False)


@complaints_app.command("close")
def complaints_close(
    complaint_id: Annotated[str, typer.Argument(help="The complaint's id.")],
    result: Annotated[str, typer.Option("--result", help="The result; '-' reads standard input.")],
    delivery: Annotated[
        str, typer.Option(help="mail (to a confirmed address), post, phone, fax or in_person.")
    ] = "mail",
    by: ByOption = None,
    data: DataOption = None,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Close a complaint with its result and deliver it."""
    text = sys.stdin.read() if result == "-" else result
    with opened(data, database) as engine:
        queue = _results(engine)
        info = engine.close_complaint(
            complaint_id, result=text, delivery=delivery, actor=_officer(by), queue=queue
        )
        _send(queue)
    if as_json:
        _json(asdict(info))
        return
    _print_info(info)


@complaints_app.command("deliver")
def complaints_deliver(
    complaint_id: Annotated[str, typer.Argument(help="The complaint's id.")],
    by: ByOption = None,
    data: DataOption = None,
    database: DatabaseOption = None,
) -> None:
    """Queue again a closed complaint's result mail that was not delivered, and send it."""
    with opened(data, database) as engine:
        queue = _results(engine)
        if queue is None:
            raise ConfigurationError("mail is not configured: set [mail] smtp_host")
        info = engine.deliver_complaint_result(complaint_id, actor=_officer(by), queue=queue)
        _send(queue)
    _print_info(info)
