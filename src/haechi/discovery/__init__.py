"""Discovery: find personal identifiers in files and databases.

The pieces, from the bottom up:

* :mod:`.recognizers`: one module per identifier type (format and check in its docstring);
* :mod:`.prefilter`: one multi-pattern pass (Hyperscan, or Python ``re``) that picks
  the lines worth validating;
* :mod:`.scanner`: :class:`Scanner` and :func:`find_identifiers` for free text;
* :mod:`.sources` and :mod:`.database`: streamed chunks from files and tables;
* :mod:`.report` and :mod:`.run`: :func:`run_scan` and its :class:`ScanReport`.

No value found ever leaves this package unmasked. The package knows nothing of the
policy: callers say which finding types it declares.
"""

from haechi.discovery.findings import Finding, Level, Location
from haechi.discovery.prefilter import hyperscan_available
from haechi.discovery.recognizers import FINDING_TYPES, Recognizer, default_recognizers
from haechi.discovery.report import FAIL_ON, ScanReport, SkippedSource, SummaryRow
from haechi.discovery.run import Progress, run_scan
from haechi.discovery.scanner import Scanner, find_identifiers

__all__ = [
    "FAIL_ON",
    "FINDING_TYPES",
    "Finding",
    "Level",
    "Location",
    "Progress",
    "Recognizer",
    "ScanReport",
    "Scanner",
    "SkippedSource",
    "SummaryRow",
    "default_recognizers",
    "find_identifiers",
    "hyperscan_available",
    "run_scan",
]
