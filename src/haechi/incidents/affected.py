"""The affected set: whose data the compromised actors or addresses read, and which items.

Only reads that were allowed count (``view``, ``download``, ``export``): a refused
read disclosed nothing. Each query walks an index of the log, never the whole log:

- actors: ``(actor, occurred_at)``, one range per actor;
- IPv4 networks: ``(source_ip, occurred_at)``; a network is cut into the
  octet-aligned prefixes that cover it (``203.0.112.0/20`` is ``203.0.112.`` to
  ``203.0.127.``), each a range of the text index, and every address found is
  checked against the network itself;
- IPv6 networks: the distinct addresses of the log, walked through the same index one
  by one (a skip scan), each checked against the networks, then their ranges read.

Each event is returned with whether it is sealed (has a leaf), so that an inclusion
proof can be given for it.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, and_, literal_column, select, text

from haechi.audit.monitor import READ_ACTIONS
from haechi.incidents.scope import Network, Scope
from haechi.storage.tables import audit_events, audit_leaves
from haechi.storage.types import UtcDateTime

__all__ = ["AffectedSet", "SubjectReads", "find_affected", "ipv4_prefixes"]

_CHUNK = 500
_e = audit_events.c
# One address after another through the (source_ip, occurred_at) index: a skip scan.
# PostgreSQL's index compares byte by byte (varchar_pattern_ops, whatever the
# database's collation), so its walk uses the pattern operators; SQLite's text is
# compared byte by byte already.
_DISTINCT_ADDRESSES = {
    "postgresql": text(
        "WITH RECURSIVE seen(ip) AS ("
        " (SELECT source_ip FROM audit_events WHERE source_ip IS NOT NULL"
        "  ORDER BY source_ip USING ~<~ LIMIT 1)"
        " UNION ALL"
        " SELECT (SELECT source_ip FROM audit_events WHERE source_ip ~>~ seen.ip"
        "  ORDER BY source_ip USING ~<~ LIMIT 1)"
        " FROM seen WHERE seen.ip IS NOT NULL"
        ") SELECT ip FROM seen WHERE ip IS NOT NULL"
    ),
    "sqlite": text(
        "WITH RECURSIVE seen(ip) AS ("
        " SELECT min(source_ip) FROM audit_events"
        " UNION ALL"
        " SELECT (SELECT min(source_ip) FROM audit_events WHERE source_ip > seen.ip)"
        " FROM seen WHERE seen.ip IS NOT NULL"
        ") SELECT ip FROM seen WHERE ip IS NOT NULL"
    ),
}


def _prefix_range(prefix: str, dialect: str) -> ColumnElement[bool]:
    """Addresses starting with ``prefix`` (which ends in a dot), as a range of the index."""
    # '/' follows '.' byte-wise: [prefix, prefix-without-dot + '/') holds the prefix's texts.
    end = prefix[:-1] + "/"
    if dialect == "postgresql":
        return and_(_e.source_ip.op("~>=~")(prefix), _e.source_ip.op("~<~")(end))
    return and_(_e.source_ip >= prefix, _e.source_ip < end)


@dataclass
class SubjectReads:
    """What was read of one subject: purposes, items, first and last read, events."""

    purposes: set[str] = field(default_factory=set)
    items: set[str] = field(default_factory=set)
    first: datetime | None = None
    last: datetime | None = None
    events: int = 0

    def to_json(self) -> dict[str, Any]:
        """As stored in the sealed list."""
        return {
            "purposes": sorted(self.purposes),
            "items": sorted(self.items),
            "first": self.first.isoformat() if self.first else None,
            "last": self.last.isoformat() if self.last else None,
            "events": self.events,
        }


@dataclass
class AffectedSet:
    """Every subject read, with what was read, and the events that show it."""

    subjects: dict[str, SubjectReads] = field(default_factory=dict)
    events: list[int] = field(default_factory=list)
    sealed: int = 0

    def by_purpose(self) -> dict[str, int]:
        """People per purpose."""
        counts: dict[str, int] = {}
        for reads in self.subjects.values():
            for purpose in reads.purposes:
                counts[purpose] = counts.get(purpose, 0) + 1
        return dict(sorted(counts.items()))

    def by_item(self) -> dict[str, int]:
        """People per item."""
        counts: dict[str, int] = {}
        for reads in self.subjects.values():
            for item in reads.items:
                counts[item] = counts.get(item, 0) + 1
        return dict(sorted(counts.items()))


def ipv4_prefixes(network: ipaddress.IPv4Network) -> list[str]:
    """Dotted-text prefixes whose addresses cover ``network`` (each ends in a dot, or is whole).

    A /24 is one prefix (``192.0.2.``); a /20 sixteen; a /32 is the address itself.
    """
    if network.prefixlen == 32:
        return [str(network.network_address)]
    whole = (network.prefixlen + 7) // 8 * 8  # the covering prefixes are octet-aligned
    return [
        ".".join(str(sub.network_address).split(".")[: whole // 8]) + "."
        for sub in network.subnets(new_prefix=whole)
    ]


def _reads(scope: Scope, *, by_address: str | None = None) -> Select[Any]:
    """Allowed reads of the window; ``by_address`` names the dialect of an address query.

    SQLite's planner cannot weigh a text range on the address against the time range,
    and may walk the time index instead: there the window is tested with a unary ``+``
    (a no-op in SQLite that keeps a term off the indexes), so the address index leads.
    """
    moment: ColumnElement[Any] = _e.occurred_at
    if by_address == "sqlite":
        moment = literal_column("+audit_events.occurred_at", UtcDateTime())
    return (
        select(
            _e.id,
            _e.subject_id,
            _e.purpose,
            _e["items"],
            _e.occurred_at,
            _e.source_ip,
            audit_leaves.c.leaf_index,
        )
        .outerjoin(audit_leaves, audit_leaves.c.event_id == _e.id)
        .where(
            moment >= scope.start,
            moment <= scope.end,
            _e.action.in_(sorted(READ_ACTIONS)),
            _e.outcome == "allowed",
            _e.subject_id.is_not(None),
        )
    )


def _chunks(values: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


def _matches(address: str | None, networks: Iterable[Network]) -> bool:
    if address is None:
        return False
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        parsed = parsed.ipv4_mapped
    return any(parsed.version == net.version and parsed in net for net in networks)


def _rows(connection: Connection, scope: Scope) -> Iterator[Any]:
    """Every read in scope, possibly twice (an actor's read from a listed address)."""
    base = _reads(scope)
    for actors in _chunks(list(scope.actors)):
        yield from connection.execute(base.where(_e.actor.in_(actors)))
    base = _reads(scope, by_address=connection.dialect.name)
    v4 = [net for net in scope.networks if isinstance(net, ipaddress.IPv4Network)]
    v6 = [net for net in scope.networks if isinstance(net, ipaddress.IPv6Network)]
    for network in v4:
        for prefix in ipv4_prefixes(network):
            where = (
                _e.source_ip == prefix
                if not prefix.endswith(".")
                else _prefix_range(prefix, connection.dialect.name)
            )
            for row in connection.execute(base.where(where)):
                if _matches(row.source_ip, v4):
                    yield row
    if v6:
        found = [
            address
            for address in connection.execute(
                _DISTINCT_ADDRESSES[connection.dialect.name]
            ).scalars()
            if ":" in address and _matches(address, v6)
        ]
        for addresses in _chunks(found):
            yield from connection.execute(base.where(_e.source_ip.in_(addresses)))


def find_affected(connection: Connection, scope: Scope, *, declared_items: set[str]) -> AffectedSet:
    """The affected set of ``scope``: allowed reads only, each event once."""
    result = AffectedSet()
    seen: set[int] = set()
    parsed: dict[str, list[str]] = {}
    for row in _rows(connection, scope):
        event_id = int(row.id)
        if event_id in seen:
            continue
        seen.add(event_id)
        reads = result.subjects.get(row.subject_id)
        if reads is None:
            reads = result.subjects[row.subject_id] = SubjectReads()
        if row.purpose:
            reads.purposes.add(row.purpose)
        names = parsed.get(row.items)
        if names is None:
            names = parsed[row.items] = [
                name for name in json.loads(row.items) if name in declared_items
            ]
        reads.items.update(names)
        moment = row.occurred_at
        reads.first = moment if reads.first is None else min(reads.first, moment)
        reads.last = moment if reads.last is None else max(reads.last, moment)
        reads.events += 1
        if row.leaf_index is not None:
            result.sealed += 1
    result.events = sorted(seen)
    return result
