"""``haechi incidents``: the breach register, from the access log to the regulator's report.

The local operator acts as the privacy officer (recorded as ``--by`` or the OS user).
Times are ISO 8601 with their UTC offset (``2026-03-02T09:00+09:00`` or ``…Z``).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from haechi.cli.common import DatabaseOption, DataOption, opened, progress_bar, stage_counter
from haechi.cli.report import JsonOption, LangOption, OutOption, print_json, write_page
from haechi.cli.staff import ByOption, operator
from haechi.errors import ConfigurationError
from haechi.incidents import CONTAINMENT_KINDS, Incident, parse_time
from haechi.web.i18n import LANGUAGES, check_choice

__all__ = ["incidents_app"]

incidents_app = typer.Typer(
    help="Breach register (PIPA Art. 34): affected people from the log, notices, report.",
    no_args_is_help=True,
)
out = Console()
err = Console(stderr=True)
IncidentArgument = Annotated[str, typer.Argument(help="The incident's id.")]
_MAX_LISTED = 100


def _summary(incident: Incident) -> None:
    table = Table("", "", title=f"Incident {incident.id}", show_header=False)
    table.add_row("state", incident.state)
    table.add_row("aware at", incident.aware_at.isoformat())
    table.add_row("deadline (72 h)", incident.deadline.isoformat())
    table.add_row(
        "window", f"{incident.window_start.isoformat()} – {incident.window_end.isoformat()}"
    )
    table.add_row("people affected", str(incident.affected_count))
    table.add_row("events", f"{incident.event_count} ({incident.sealed_event_count} sealed)")
    table.add_row("by purpose", ", ".join(f"{k}: {v}" for k, v in incident.by_purpose.items()))
    table.add_row("by item", ", ".join(f"{k}: {v}" for k, v in incident.by_item.items()))
    table.add_row("report to regulator", "YES" if incident.report_to_regulator else "no")
    table.add_row("notices", ", ".join(f"{k}: {v}" for k, v in incident.notices.items()))
    out.print(table)


@incidents_app.command("open")
def open_incident(
    title: Annotated[str, typer.Option("--title", help="What happened, in a few words.")],
    aware_at: Annotated[str, typer.Option("--aware-at", help="When you became aware.")],
    start: Annotated[str, typer.Option("--from", help="Start of the window searched.")],
    end: Annotated[str, typer.Option("--to", help="End of the window searched.")],
    actor: Annotated[
        list[str] | None,
        typer.Option("--actor", help="A compromised actor, as the log names it (repeat)."),
    ] = None,
    ip: Annotated[
        list[str] | None,
        typer.Option("--ip", help="A compromised address or network, e.g. 203.0.113.0/24."),
    ] = None,
    circumstances: Annotated[
        str, typer.Option("--circumstances", help="How it happened, for the report.")
    ] = "",
    outside: Annotated[
        bool, typer.Option("--outside", help="Unlawful access from outside the organisation.")
    ] = False,
    by: ByOption = None,
    data: DataOption = None,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Open an incident: whose data was read, which items, and the 72-hour deadline."""
    aware = parse_time(aware_at, "aware_at")
    first = parse_time(start, "from")
    last = parse_time(end, "to")
    with opened(data, database) as engine:
        with err.status("finding the affected people in the access log…"):
            incident = engine.open_incident(
                title=title,
                aware_at=aware,
                start=first,
                end=last,
                actors=actor or [],
                networks=ip or [],
                circumstances=circumstances,
                outside_access=outside,
                actor=operator(by),
            )
        now = engine.clock()
    if as_json:
        print_json(incident.to_json(now=now))
        return
    _summary(incident)


@incidents_app.command("list")
def list_incidents(
    open_only: Annotated[bool, typer.Option("--open", help="Open incidents only.")] = False,
    by: ByOption = None,
    data: DataOption = None,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """The register, newest first."""
    with opened(data, database) as engine:
        found = engine.incidents(actor=operator(by), open_only=open_only)
        now = engine.clock()
    if as_json:
        print_json([incident.to_json(now=now) for incident in found])
        return
    table = Table("id", "state", "deadline", "people", "regulator", "notices pending")
    for incident in found:
        table.add_row(
            incident.id,
            incident.state,
            incident.deadline.isoformat(),
            str(incident.affected_count),
            "yes" if incident.report_to_regulator else "no",
            str(incident.notices["pending"]),
        )
    out.print(table)


@incidents_app.command("show")
def show(
    incident_id: IncidentArgument,
    subjects: Annotated[
        bool, typer.Option("--subjects", help="Also list the people affected (an audit event).")
    ] = False,
    by: ByOption = None,
    data: DataOption = None,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """One incident: its details, counts, containment and notices."""
    with opened(data, database) as engine:
        actor = operator(by)
        found: dict[str, Any] = engine.incident(incident_id, actor=actor)
        if subjects:
            found["subjects"] = [
                {"subject_id": subject, **reads}
                for subject, reads in engine.incident_subjects(incident_id, actor=actor)
            ]
    if as_json:
        print_json(found)
        return
    title = escape(f"Incident {found['id']}: {found['title']}")
    table = Table("", "", title=title, show_header=False)
    for key in ("state", "aware_at", "deadline", "hours_left", "from", "to", "affected_count"):
        table.add_row(key, str(found[key]))
    table.add_row("actors", escape(", ".join(found["actors"])))
    table.add_row("networks", ", ".join(found["networks"]))
    table.add_row("by item", ", ".join(f"{k}: {v}" for k, v in found["by_item"].items()))
    table.add_row("report to regulator", "YES" if found["report_to_regulator"] else "no")
    table.add_row("notices", ", ".join(f"{k}: {v}" for k, v in found["notices"].items()))
    for step in found["containment"]:
        table.add_row(
            "containment", f"{step['kind']} {step['target'] or ''} ({step['recorded_at']})"
        )
    out.print(table, markup=False)
    for one in found.get("subjects", [])[:_MAX_LISTED]:
        out.print(f"{one['subject_id']}  {', '.join(one['items'])}", markup=False)


@incidents_app.command("contain")
def contain(
    incident_id: IncidentArgument,
    kind: Annotated[str, typer.Option("--kind", help=", ".join(CONTAINMENT_KINDS))],
    target: Annotated[
        str | None,
        typer.Option("--target", help="The token or account to revoke.", show_default=False),
    ] = None,
    note: Annotated[str, typer.Option("--note", help="What was done, for the record.")] = "",
    by: ByOption = None,
    data: DataOption = None,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Record containment: a token revoked, an account closed (done here), keys rotated."""
    check_choice(kind, CONTAINMENT_KINDS, "kind")
    with opened(data, database) as engine:
        step = engine.contain(incident_id, kind=kind, target=target, note=note, actor=operator(by))
    if as_json:
        print_json(step.to_json())
        return
    out.print(f"recorded {step.kind} on incident {incident_id} (#{step.id})", markup=False)


@incidents_app.command("notify")
def notify(
    incident_id: IncidentArgument,
    retry: Annotated[
        bool, typer.Option("--retry", help="Also try again the people who had no address.")
    ] = False,
    by: ByOption = None,
    data: DataOption = None,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Mail the affected people their notice; run again to resume after a stop."""
    from haechi.mail import SmtpNotifier
    from haechi.mail.incidents import mail_incident_notices

    with opened(data, database) as engine:
        if not engine.settings.mail.smtp_host:
            raise ConfigurationError("mail is not configured: set mail.smtp_host")
        notifier = SmtpNotifier(engine.settings.mail)
        with progress_bar(err, disable=as_json) as progress:
            started, advanced = stage_counter(progress, "notices")
            tally = mail_incident_notices(
                engine,
                notifier,
                incident_id,
                actor=operator(by),
                retry=retry,
                started=started,
                advanced=advanced,
            )
    if as_json:
        print_json(tally.__dict__)
        return
    out.print(
        f"notices: {tally.sent} sent, {tally.unreachable} without an address, {tally.left} left",
        markup=False,
    )


@incidents_app.command("report")
def report(
    incident_id: IncidentArgument,
    lang: LangOption = "ko",
    out_file: OutOption = None,
    by: ByOption = None,
    data: DataOption = None,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """The report to the regulator: HTML (to --out, or stdout) or, with --json, its fields."""
    from haechi.web.incident_report import render_regulator_report

    check_choice(lang, LANGUAGES, "lang")
    with opened(data, database) as engine:
        fields = engine.regulator_report(incident_id, actor=operator(by))
    if as_json:
        print_json(fields)
        return
    write_page(render_regulator_report(fields, lang=lang), out_file)


@incidents_app.command("prove")
def prove(
    incident_id: IncidentArgument,
    event: Annotated[
        list[int] | None, typer.Option("--event", help="Only these events (repeat).")
    ] = None,
    by: ByOption = None,
    data: DataOption = None,
    database: DatabaseOption = None,
) -> None:
    """Inclusion proofs of the incident's sealed events (JSON), up to 1,000."""
    with opened(data, database) as engine:
        proofs, unsealed = engine.incident_proofs(incident_id, actor=operator(by), event_ids=event)
    print_json(
        {
            "proofs": [{**proof.to_json(), "verified": proof.verify()} for proof in proofs],
            "unsealed": unsealed,
        }
    )


@incidents_app.command("close")
def close(
    incident_id: IncidentArgument,
    by: ByOption = None,
    data: DataOption = None,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Close an incident; its records stay in the register."""
    with opened(data, database) as engine:
        incident = engine.close_incident(incident_id, actor=operator(by))
    if as_json:
        print_json(incident.to_json())
        return
    out.print(f"closed incident {incident.id}", markup=False)
