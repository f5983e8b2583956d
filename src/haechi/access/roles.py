"""Staff roles, and the check that an actor holds one.

- ``privacy_officer``: serves every purpose; the only role that creates accounts,
  grants purposes, changes roles, unlocks and resets passwords.
- ``handler``: serves exactly the purposes granted to it.
- ``auditor``: reads logs, reports, accounts and grant history; no personal data.
- ``admin``: runs the system (settings, keys, tokens); reads accounts and grant history
  and may *revoke* access (a leaver's account, a grant), but never grants it and never
  reads personal data: an admin cannot widen anyone's access, its own included.
"""

from __future__ import annotations

from enum import StrEnum

from haechi.access.decision import Actor
from haechi.errors import PermissionDenied

__all__ = ["Role", "require_role"]


class Role(StrEnum):
    """What a staff member may do."""

    PRIVACY_OFFICER = "privacy_officer"
    HANDLER = "handler"
    AUDITOR = "auditor"
    ADMIN = "admin"


def require_role(actor: Actor, *roles: Role) -> None:
    """Refuse ``actor`` unless it holds one of ``roles`` (the system holds them all)."""
    if actor.kind == "system" or actor.role in roles:
        return
    names = " or ".join(role.value for role in roles)
    raise PermissionDenied(f"this needs the role {names}", code="ROLE_REQUIRED")
