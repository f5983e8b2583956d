"""``haechi.Engine``: the Python API every surface (CLI, HTTP) is built on.

The engine owns transactions: each public method runs in one, so a change and the
audit event that records it commit together or not at all. Its methods are grouped
by area, one module each: subjects (collection and use), a collection's states,
retention, the log, access, published policy versions, rights (requests people
make), complaints, incidents, opt-out links.
"""

from haechi.engine.access import AccessMixin
from haechi.engine.base import SYSTEM, Clock, declared_finding_types, utc_now
from haechi.engine.complaints import ComplaintsMixin
from haechi.engine.complaints_handling import ComplaintHandlingMixin
from haechi.engine.incidents import IncidentsMixin
from haechi.engine.keys import KeysMixin
from haechi.engine.log import LogMixin
from haechi.engine.optout import OptOut, OptOutMixin
from haechi.engine.overview import OverviewMixin
from haechi.engine.policy import PublishedVersion, RenewedConsent
from haechi.engine.reports import ReportsMixin
from haechi.engine.retention import RetentionMixin
from haechi.engine.rights_representatives import RepresentativeMixin
from haechi.engine.rights_staff import RightsStaffMixin
from haechi.engine.rights_web import RightsWebMixin
from haechi.engine.states import StatesMixin
from haechi.engine.subjects import SubjectsMixin

__all__ = [
    "SYSTEM",
    "Clock",
    "Engine",
    "OptOut",
    "PublishedVersion",
    "RenewedConsent",
    "declared_finding_types",
    "utc_now",
]


class Engine(
    IncidentsMixin,
    OverviewMixin,
    ReportsMixin,
    ComplaintsMixin,
    ComplaintHandlingMixin,
    SubjectsMixin,
    StatesMixin,
    RetentionMixin,
    LogMixin,
    AccessMixin,
    RightsStaffMixin,
    RightsWebMixin,
    KeysMixin,
    RepresentativeMixin,
    OptOutMixin,
):
    """Enforces one policy over one database with one key provider."""
