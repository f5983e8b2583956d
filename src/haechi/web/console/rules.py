"""Who may open each part of the console: the same roles the API and the engine check.

The engine still decides what each role sees within a page (a handler's own purposes,
an auditor's metadata without texts); these tuples decide who opens the page at all.
"""

from __future__ import annotations

from haechi.access.roles import Role

__all__ = [
    "ALL_STAFF",
    "COMPLAINT_ACTORS",
    "COMPLAINT_READERS",
    "DESTRUCTION_READERS",
    "INCIDENT_READERS",
    "LOG_READERS",
    "OFFICER",
    "POLICY_READERS",
    "REQUEST_ACTORS",
    "REQUEST_READERS",
    "SUBJECT_SEARCHERS",
]

ALL_STAFF = tuple(Role)
OFFICER = (Role.PRIVACY_OFFICER,)
REQUEST_READERS = (Role.PRIVACY_OFFICER, Role.HANDLER, Role.AUDITOR)
REQUEST_ACTORS = (Role.PRIVACY_OFFICER, Role.HANDLER)
# Handlers granted ``complaints`` (the engine checks the grant), auditors for metadata.
COMPLAINT_READERS = (Role.PRIVACY_OFFICER, Role.HANDLER, Role.AUDITOR)
COMPLAINT_ACTORS = (Role.PRIVACY_OFFICER, Role.HANDLER)
SUBJECT_SEARCHERS = (Role.PRIVACY_OFFICER, Role.HANDLER)
LOG_READERS = (Role.PRIVACY_OFFICER, Role.AUDITOR)
DESTRUCTION_READERS = (Role.PRIVACY_OFFICER, Role.AUDITOR)
POLICY_READERS = (Role.PRIVACY_OFFICER, Role.AUDITOR, Role.ADMIN)
INCIDENT_READERS = (Role.PRIVACY_OFFICER, Role.AUDITOR)
