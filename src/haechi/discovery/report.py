"""A scan's result and its renderings: summary rows, JSON, SARIF 2.1.0, exit code.

The report keeps every count (per type and per resource) but at most
``max_findings`` individual findings, so a huge scan still fits in memory;
``truncated`` tells when some were left out of the list.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any, Literal

from haechi.discovery.findings import Finding
from haechi.discovery.recognizers import FINDING_TYPES, default_recognizers
from haechi.errors import InvalidInput

__all__ = ["FAIL_ON", "FailOn", "ScanReport", "SkippedSource", "SummaryRow"]

FailOn = Literal["undeclared", "any"]
FAIL_ON: tuple[str, ...] = ("undeclared", "any")
DEFAULT_MAX_FINDINGS = 100_000
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LABELS = {recognizer.name: recognizer.label for recognizer in default_recognizers()}


@dataclass(frozen=True, slots=True)
class SkippedSource:
    """A file or table that was not scanned, and why."""

    source: str
    reason: str


@dataclass(frozen=True, slots=True)
class SummaryRow:
    """How many values of one type one resource (file or table.column) holds."""

    type: str
    resource: str
    count: int
    declared: bool


@dataclass
class ScanReport:
    """Everything a scan found, and what it covered."""

    engine: str
    declared_types: frozenset[str] = frozenset()
    findings: list[Finding] = field(default_factory=list)
    counts: Counter[tuple[str, str]] = field(default_factory=Counter)
    skipped: list[SkippedSource] = field(default_factory=list)
    files_scanned: int = 0
    bytes_scanned: int = 0
    tables_scanned: int = 0
    rows_scanned: int = 0
    max_findings: int = DEFAULT_MAX_FINDINGS
    truncated: bool = False

    def add(self, findings: Iterable[Finding]) -> None:
        """Count findings and keep them while under ``max_findings``."""
        for finding in findings:
            self.counts[(finding.type, finding.location.resource)] += 1
            if len(self.findings) < self.max_findings:
                self.findings.append(finding)
            else:
                self.truncated = True

    def merge_counts(self, counts: Counter[tuple[str, str]]) -> None:
        """Add counts gathered elsewhere (a worker that truncated its own list)."""
        self.counts.update(counts)

    @property
    def total(self) -> int:
        """Number of findings, including any left out of :attr:`findings`."""
        return sum(self.counts.values())

    @property
    def undeclared(self) -> int:
        """Number of findings of a type the policy does not declare."""
        return sum(n for (kind, _), n in self.counts.items() if kind not in self.declared_types)

    def by_type(self) -> dict[str, int]:
        """Count findings per type, in the recognizers' order (types with none left out)."""
        totals: Counter[str] = Counter()
        for (kind, _), count in self.counts.items():
            totals[kind] += count
        order = {name: index for index, name in enumerate(FINDING_TYPES)}
        return dict(sorted(totals.items(), key=lambda item: (order.get(item[0], 99), item[0])))

    def summary(self) -> list[SummaryRow]:
        """One row per (type, resource), undeclared first, then most found."""
        rows = [
            SummaryRow(kind, resource, count, kind in self.declared_types)
            for (kind, resource), count in self.counts.items()
        ]
        rows.sort(key=lambda row: (row.declared, -row.count, row.type, row.resource))
        return rows

    def exit_code(self, fail_on: str | None) -> int:
        """Return 1 when ``fail_on`` ("undeclared" or "any") matches a finding, else 0."""
        if fail_on is None:
            return 0
        if fail_on not in FAIL_ON:
            raise InvalidInput("fail_on must be 'undeclared' or 'any'", field="fail_on")
        matched = self.total if fail_on == "any" else self.undeclared
        return 1 if matched else 0

    def to_json(self) -> dict[str, Any]:
        """Return the report as a JSON-ready mapping (values masked)."""
        return {
            "engine": self.engine,
            "totals": {
                "findings": self.total,
                "undeclared": self.undeclared,
                "files": self.files_scanned,
                "bytes": self.bytes_scanned,
                "tables": self.tables_scanned,
                "rows": self.rows_scanned,
            },
            "by_type": self.by_type(),
            "summary": [
                {"type": r.type, "resource": r.resource, "count": r.count, "declared": r.declared}
                for r in self.summary()
            ],
            "findings": [finding.to_dict() for finding in self.findings],
            "truncated": self.truncated,
            "skipped": [{"source": s.source, "reason": s.reason} for s in self.skipped],
        }

    def to_sarif(self) -> dict[str, Any]:
        """Return the report as a SARIF 2.1.0 log with one rule per finding type.

        Undeclared findings are ``error`` (high confidence) or ``warning``; declared
        ones are ``note``. Database findings carry a logical location
        (``table.column``) and the row key in their properties.
        """
        rule_index = {name: index for index, name in enumerate(FINDING_TYPES)}
        rules = [
            {
                "id": f"haechi/{name}",
                "name": name,
                "shortDescription": {"text": _LABELS.get(name, name)},
                "fullDescription": {
                    "text": f"{_LABELS.get(name, name)} found; personal information must be "
                    "declared in the policy and encrypted at rest."
                },
                "defaultConfiguration": {"level": "warning"},
            }
            for name in FINDING_TYPES
        ]
        results = [self._sarif_result(finding, rule_index) for finding in self.findings]
        run: dict[str, Any] = {
            "tool": {
                "driver": {
                    "name": "haechi-scan",
                    "rules": rules,
                }
            },
            "results": results,
            "properties": {"engine": self.engine, "truncated": self.truncated},
        }
        return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}

    def _sarif_result(self, finding: Finding, rule_index: dict[str, int]) -> dict[str, Any]:
        where = finding.location
        level = "note"
        if not finding.declared:
            level = "error" if finding.level == "high" else "warning"
        declared = "declared" if finding.declared else "not declared"
        label = _LABELS.get(finding.type, finding.type)
        location: dict[str, Any]
        if where.table is not None:
            location = {
                "logicalLocations": [
                    {"fullyQualifiedName": where.resource, "kind": "member"},
                ],
            }
        else:
            region: dict[str, Any] = {}
            if where.line is not None:
                region = {"startLine": where.line, "startColumn": where.column or 1}
            elif where.offset is not None:
                region = {"byteOffset": where.offset}
            physical: dict[str, Any] = {"artifactLocation": {"uri": _uri(where.source)}}
            if region:
                physical["region"] = region
            location = {"physicalLocation": physical}
            if where.sheet is not None:
                location["logicalLocations"] = [
                    {"fullyQualifiedName": f"{where.sheet}!{where.cell}", "kind": "element"}
                ]
        result: dict[str, Any] = {
            "ruleId": f"haechi/{finding.type}",
            "level": level,
            "message": {
                "text": f"{label} {finding.masked} ({finding.level} confidence), "
                f"{declared} in the policy"
            },
            "locations": [location],
            "properties": {
                "confidence": round(finding.confidence, 2),
                "declared": finding.declared,
                "masked": finding.masked,
            },
        }
        if finding.type in rule_index:
            result["ruleIndex"] = rule_index[finding.type]
        if where.row_key is not None:
            result["properties"]["rowKey"] = where.row_key
        return result


def _uri(source: str) -> str:
    return PurePath(source).as_posix()
