"""The quarterly in-house audit (reference policy §6): figures computed from the records.

Nothing in a report is typed: every figure is a query over the access log, the rights
requests, the destruction certificates, the grant history and the safeguards register.
Quarters are calendar quarters in Korean time (Asia/Seoul), the policy's country.
"""

from haechi.reports.figures import QuarterlyFigures, quarterly_figures
from haechi.reports.quarters import REPORT_TIMEZONE, Quarter, parse_quarter
from haechi.reports.register import (
    QUARTER_MEASURE,
    Attestation,
    TrainingRecord,
    list_attestations,
    list_training,
    record_attestation,
    record_training,
)

__all__ = [
    "QUARTER_MEASURE",
    "REPORT_TIMEZONE",
    "Attestation",
    "Quarter",
    "QuarterlyFigures",
    "TrainingRecord",
    "list_attestations",
    "list_training",
    "parse_quarter",
    "quarterly_figures",
    "record_attestation",
    "record_training",
]
