"""``haechi requests``: the queue of people's requests with due dates, and each step.

The local operator acts as privacy officer, recorded under ``--by``. An answer that
goes by mail is stored in the outbox with the step, then sent through the settings'
SMTP server; without one it waits there for ``haechi serve`` to send it once one is
set (or give ``--delivery post`` or ``fax`` and send it yourself).
"""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from haechi.cli.common import DatabaseOption, DataOption, opened
from haechi.cli.retention import _moment
from haechi.cli.staff import ByOption, operator
from haechi.engine import Engine
from haechi.mail import SmtpNotifier
from haechi.mail.requests import AnswerQueue
from haechi.rights.models import RequestInfo
from haechi.web import export_renderer

__all__ = ["requests_app"]

requests_app = typer.Typer(
    help="People's requests: access, correction, deletion, suspension, withdrawal.",
    no_args_is_help=True,
)
out = Console()
err = Console(stderr=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
NoteOption = Annotated[
    str | None, typer.Option("--note", help="A note, kept sealed.", show_default=False)
]


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")


def _show(info: RequestInfo, as_json: bool) -> None:
    if as_json:
        _print_json(info.to_json())
        return
    out.print(f"request {info.id}: {info.kind} ({info.channel}), {info.state}", markup=False)
    out.print(f"requester {info.requester}, due {info.due_at:%Y-%m-%d %H:%M} UTC", markup=False)
    if info.history:
        table = Table("event", "step", "when (UTC)", "by", "outcome")
        for step in info.history:
            table.add_row(
                str(step.event_id),
                step.step,
                f"{step.occurred_at:%Y-%m-%d %H:%M}",
                step.actor,
                step.outcome + (f" {step.code}" if step.code else ""),
            )
        out.print(table)


def _answers(engine: Engine) -> AnswerQueue:
    """The outbox queue a step stores its answer to, in the step's own transaction."""
    return AnswerQueue(engine, export_renderer(lambda: engine.policy.policy))


def _send(queue: AnswerQueue) -> None:
    """Mail now what the step queued, if a mail server is set; else it waits in the outbox."""
    if not queue.queued:
        return
    settings = queue.engine.settings.mail
    if not settings.smtp_host:
        err.print("warning: no mail server is set; the answer waits in the outbox", markup=False)
    elif not queue.send(SmtpNotifier(settings)):
        err.print(
            "warning: the answer could not be mailed yet; it waits in the outbox", markup=False
        )


@requests_app.command("list")
def list_requests(
    data: DataOption = None,
    database: DatabaseOption = None,
    state: Annotated[str | None, typer.Option(help="Only this state.")] = None,
    kind: Annotated[str | None, typer.Option(help="Only this kind.")] = None,
    due_before: Annotated[
        str | None, typer.Option("--due-before", help="Due before this ISO time.")
    ] = None,
    by: ByOption = None,
    as_json: JsonOption = False,
) -> None:
    """List requests by due date."""
    moment = _moment(due_before, "due_before")
    with opened(data, database) as engine:
        found = engine.requests(actor=operator(by), state=state, kind=kind, due_before=moment)
    if as_json:
        _print_json([info.to_json() for info in found])
        return
    table = Table("id", "kind", "channel", "state", "due (UTC)", "received (UTC)")
    for info in found:
        table.add_row(
            info.id,
            info.kind,
            info.channel,
            info.state,
            f"{info.due_at:%Y-%m-%d %H:%M}",
            f"{info.received_at:%Y-%m-%d %H:%M}",
        )
    out.print(table)


@requests_app.command("show")
def show(
    request_id: str,
    data: DataOption = None,
    database: DatabaseOption = None,
    by: ByOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show a request, its documents (never their contents) and its history."""
    with opened(data, database) as engine:
        _show(engine.request(request_id, actor=operator(by)), as_json)


@requests_app.command("verify")
def verify(
    request_id: str,
    method: Annotated[str, typer.Option(help="id_document, callback, reply_from_address…")],
    data: DataOption = None,
    database: DatabaseOption = None,
    by: ByOption = None,
    as_json: JsonOption = False,
) -> None:
    """Record how the requester of a staff-entered request was confirmed."""
    with opened(data, database) as engine:
        _show(engine.verify_request(request_id, method=method, actor=operator(by)), as_json)


@requests_app.command("complete")
def complete(
    request_id: str,
    delivery: Annotated[str, typer.Option(help="mail, post or fax.")] = "mail",
    data: DataOption = None,
    database: DatabaseOption = None,
    by: ByOption = None,
    as_json: JsonOption = False,
) -> None:
    """Carry a verified request out and answer it."""
    actor = operator(by)
    with opened(data, database) as engine:
        queue = _answers(engine)
        engine.complete_request(request_id, delivery=delivery, actor=actor, queue=queue)
        _send(queue)
        _show(engine.request(request_id, actor=actor), as_json)


@requests_app.command("refuse")
def refuse(
    request_id: str,
    reason: Annotated[str, typer.Option(help="LAW_REQUIRES, OTHERS_LIFE_OR_PROPERTY…")],
    note: NoteOption = None,
    data: DataOption = None,
    database: DatabaseOption = None,
    by: ByOption = None,
    as_json: JsonOption = False,
) -> None:
    """Refuse a request with its reason; the answer says how to object."""
    actor = operator(by)
    with opened(data, database) as engine:
        queue = _answers(engine)
        engine.refuse_request(request_id, reason=reason, note=note, actor=actor, queue=queue)
        _send(queue)
        _show(engine.request(request_id, actor=actor), as_json)


@requests_app.command("postpone")
def postpone(
    request_id: str,
    reason: Annotated[str, typer.Option(help="JUSTIFIED_GROUNDS, LARGE_VOLUME…")],
    due: Annotated[str, typer.Option("--due", help="The new due date, ISO with offset.")],
    note: NoteOption = None,
    data: DataOption = None,
    database: DatabaseOption = None,
    by: ByOption = None,
    as_json: JsonOption = False,
) -> None:
    """Postpone the answer once, within the original deadline, telling the person."""
    actor = operator(by)
    moment = _moment(due, "due")
    assert moment is not None
    with opened(data, database) as engine:
        queue = _answers(engine)
        engine.postpone_request(
            request_id, reason=reason, due_at=moment, note=note, actor=actor, queue=queue
        )
        _send(queue)
        _show(engine.request(request_id, actor=actor), as_json)
