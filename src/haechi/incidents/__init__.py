"""The breach register (PIPA Art. 34; Decree Art. 39–40).

When prevention fails, the law's clock starts: the affected people are told within 72
hours of the controller becoming aware, and the regulator too when 1,000 or more
people, unique identifiers or sensitive data, or unlawful access from outside are
involved. The affected set is computed from the access log (allowed reads only),
frozen with the incident and sealed under its own data key.
"""

from haechi.incidents.affected import AffectedSet, SubjectReads, find_affected
from haechi.incidents.containment import (
    CONTAINMENT_KINDS,
    Containment,
    containment_of,
    record_containment,
)
from haechi.incidents.notices import ALERT_BEFORE, check_deadlines
from haechi.incidents.register import (
    MANY_PEOPLE,
    Incident,
    close_incident,
    create_incident,
    get_incident,
    list_incidents,
    open_affected,
    open_details,
    thresholds,
)
from haechi.incidents.scope import DEADLINE, Scope, check_scope, parse_time

__all__ = [
    "ALERT_BEFORE",
    "CONTAINMENT_KINDS",
    "DEADLINE",
    "MANY_PEOPLE",
    "AffectedSet",
    "Containment",
    "Incident",
    "Scope",
    "SubjectReads",
    "check_deadlines",
    "check_scope",
    "close_incident",
    "containment_of",
    "create_incident",
    "find_affected",
    "get_incident",
    "list_incidents",
    "open_affected",
    "open_details",
    "parse_time",
    "record_containment",
    "thresholds",
]
