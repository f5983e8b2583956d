"""Outgoing mail: alerts to the privacy officer (SMTP, or any :class:`Notifier`)."""

from __future__ import annotations

import smtplib
from collections.abc import Sequence
from email.message import EmailMessage
from typing import Protocol

from haechi.audit.monitor import Alert
from haechi.config import MailSettings
from haechi.engine import Engine

__all__ = ["Notifier", "SmtpNotifier", "alert_message", "mail_alerts"]


class Notifier(Protocol):
    """Something that delivers a message to an address."""

    def send(self, message: EmailMessage) -> None:
        """Deliver ``message``."""


class SmtpNotifier:
    """Delivers through an SMTP server."""

    def __init__(self, settings: MailSettings):
        if not settings.smtp_host:
            raise ValueError("SmtpNotifier needs mail.smtp_host")
        self.settings = settings

    def send(self, message: EmailMessage) -> None:
        """Open a connection, deliver, close."""
        settings = self.settings
        assert settings.smtp_host is not None
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=30) as smtp:
            if settings.starttls:
                smtp.starttls()
            if settings.username and settings.password:
                smtp.login(settings.username, settings.password)
            smtp.send_message(message)


_RULES = {
    "mass_access": "one account read unusually many people's data within an hour",
    "download": "personal data was downloaded or exported",
    "off_hours": "personal data was read outside working hours",
    "denied_burst": "one account was refused many times in a few minutes",
    "failed_logins": "many failed logins for one account",
    "request_due_soon": "a person's request is due within two days",
    "request_overdue": "a person's request is past its due date",
    "incident_deadline": "an incident's 72-hour deadline is less than a day away, notices unsent",
}


def alert_message(alerts: Sequence[Alert], *, sender: str, recipient: str) -> EmailMessage:
    """One message listing ``alerts`` (ids, rules, actors and counts; never values)."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = f"[Haechi] {len(alerts)} access-log alert(s)"
    lines = ["Haechi raised these alerts on the access log:", ""]
    for alert in alerts:
        lines.append(
            f"#{alert.id} {alert.rule} — {_RULES.get(alert.rule, alert.rule)}\n"
            f"    actor {alert.actor}, {alert.window_start:%Y-%m-%d %H:%M} – "
            f"{alert.window_end:%Y-%m-%d %H:%M} UTC, detail {alert.detail}"
        )
    lines += ["", "Review them with `haechi alerts list` and `haechi audit review`."]
    message.set_content("\n".join(lines))
    return message


def mail_alerts(engine: Engine, notifier: Notifier) -> int:
    """Mail every alert not mailed yet to the privacy officer; return how many."""
    pending = engine.alerts(unmailed=True)
    if not pending:
        return 0
    recipient = engine.policy.policy.privacy_officer.email
    notifier.send(alert_message(pending, sender=engine.settings.mail.sender, recipient=recipient))
    engine.mark_mailed([alert.id for alert in pending])
    return len(pending)
