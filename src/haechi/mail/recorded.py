"""What the outbox records once a message of each kind went (the outbox job's hooks)."""

from __future__ import annotations

from haechi.mail import complaints, requests
from haechi.mail.outbox import OnSent

__all__ = ["ON_SENT"]

ON_SENT: dict[str, OnSent] = {**requests.ON_SENT, **complaints.ON_SENT}
"""A request's answer and a complaint's result are recorded as delivered once sent."""
