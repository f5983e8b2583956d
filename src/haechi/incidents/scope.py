"""What an incident covers: the compromised actors and addresses, and the time window.

Every input is bounded before any work: the title's length and characters, how many
actors and networks, each network's prefix (a ``/0`` or ``/7`` is not a compromised
range, it is the internet), the window's order and length, and times that carry
their UTC offset and lie no later than now (a future awareness would move the legal
deadline; the log holds no event after now).
"""

from __future__ import annotations

import ipaddress
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from haechi.errors import InvalidInput, Problem

__all__ = [
    "DEADLINE",
    "MAX_ACTORS",
    "MAX_NETWORKS",
    "MAX_TEXT",
    "MAX_TITLE",
    "MAX_WINDOW",
    "MIN_PREFIX",
    "Network",
    "Scope",
    "check_scope",
    "check_text",
    "parse_time",
]

#: PIPA Art. 34 and Decree Art. 39–40: notify and report within 72 hours of awareness
DEADLINE = timedelta(hours=72)
MAX_TITLE = 200
#: circumstances, measures and containment notes
MAX_TEXT = 4000
MAX_ACTORS = 50
MAX_NETWORKS = 50
MAX_ACTOR = 100  # the log's column
#: the widest networks an incident may name: a /8 of IPv4, a /16 of IPv6
MIN_PREFIX = {4: 8, 6: 16}
#: the longest window searched
MAX_WINDOW = timedelta(days=3 * 366)
_MAX_TIME_TEXT = 40
_FIRST_YEAR, _LAST_YEAR = 2000, 2200

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_T = TypeVar("_T")


@dataclass(frozen=True)
class Scope:
    """The checked scope of an incident."""

    title: str
    aware_at: datetime
    start: datetime
    end: datetime
    actors: tuple[str, ...]
    networks: tuple[Network, ...]
    circumstances: str
    outside_access: bool

    @property
    def deadline(self) -> datetime:
        """When notices and the report to the regulator are due."""
        return self.aware_at + DEADLINE


def parse_time(text: str, field: str) -> datetime:
    """An ISO 8601 time with its UTC offset, in UTC; anything else is refused."""
    value = text.strip()
    if not value or len(value) > _MAX_TIME_TEXT:
        raise InvalidInput(f"{field} is empty or too long", field=field)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{field} must be an ISO 8601 time", field=field) from None
    return _aware(moment, field)


def _aware(moment: datetime, field: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidInput(f"{field} must give its UTC offset (e.g. +09:00 or Z)", field=field)
    if not _FIRST_YEAR <= moment.year <= _LAST_YEAR:
        raise InvalidInput(
            f"{field} must lie between the years {_FIRST_YEAR} and {_LAST_YEAR}", field=field
        )
    return moment.astimezone(UTC)


def _bad_text(value: str) -> bool:
    """Control and format characters (bidi overrides), lone surrogates: not in a record."""
    return any(
        unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co", "Cn") and char not in "\n\t"
        for char in value
    )


def check_text(value: str, field: str, *, limit: int, required: bool = False) -> str:
    """``value`` trimmed, bounded to ``limit`` characters, free of control characters."""
    if len(value) > limit:
        raise InvalidInput(f"{field} has at most {limit} characters", field=field)
    trimmed = value.strip()
    if required and not trimmed:
        raise InvalidInput(f"{field} is required", field=field)
    if _bad_text(trimmed):
        raise InvalidInput(f"{field} holds characters that cannot be kept", field=field)
    return unicodedata.normalize("NFC", trimmed)


def _network(text: str, index: int) -> Network:
    field = f"networks[{index}]"  # as the API body and the console form name the list
    if len(text) > 64:
        raise InvalidInput(f"{field} is not an address or network", field=field)
    try:
        network = ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        raise InvalidInput(f"{field} is not an address or network", field=field) from None
    if network.prefixlen < MIN_PREFIX[network.version]:
        raise InvalidInput(
            f"{field} is wider than /{MIN_PREFIX[network.version]}: name the compromised "
            "range itself",
            field=field,
        )
    return network


class _Faults:
    """Collects every fault of a form, so that one error can name them all."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def check(self, run: Callable[[], _T]) -> _T | None:
        try:
            return run()
        except InvalidInput as fault:
            self.problems.extend(fault.faults)
            return None

    def add(self, field: str, code: str, message: str) -> None:
        self.problems.append(Problem(field, code, message))

    def raise_any(self) -> None:
        if self.problems:
            first = self.problems[0]
            raise InvalidInput(
                first.message, field=first.field, code=first.code, problems=tuple(self.problems)
            )


def _actor_names(actors: list[str], faults: _Faults) -> list[str]:
    if len(actors) > MAX_ACTORS:
        faults.add("actor", "TOO_MANY", f"at most {MAX_ACTORS} actors")
        return []
    names: list[str] = []
    for index, name in enumerate(actors):
        if not name or len(name) > MAX_ACTOR or _bad_text(name) or name != name.strip():
            faults.add(f"actor[{index}]", "INVALID_INPUT", "not an actor's name")
        else:
            names.append(name)
    return names


def _networks(networks: list[str], faults: _Faults) -> list[Network]:
    if len(networks) > MAX_NETWORKS:
        faults.add("ip", "TOO_MANY", f"at most {MAX_NETWORKS} networks")
        return []
    found: list[Network] = []
    for index, text in enumerate(networks):
        network = faults.check(lambda t=text, i=index: _network(t, i))  # type: ignore[misc]
        if network is not None:
            found.append(network)
    return found


def check_scope(
    *,
    title: str,
    aware_at: datetime,
    start: datetime,
    end: datetime,
    actors: list[str],
    networks: list[str],
    now: datetime,
    circumstances: str = "",
    outside_access: bool = False,
) -> Scope:
    """Check every input of a new incident at once; raise one error listing each fault."""
    faults = _Faults()
    checked_title = faults.check(lambda: check_text(title, "title", limit=MAX_TITLE, required=True))
    checked_text = faults.check(lambda: check_text(circumstances, "circumstances", limit=MAX_TEXT))
    aware = faults.check(lambda: _aware(aware_at, "aware_at"))
    first = faults.check(lambda: _aware(start, "from"))
    last = faults.check(lambda: _aware(end, "to"))
    names = _actor_names(actors, faults)
    found = _networks(networks, faults)
    if not actors and not networks:
        faults.add("actor", "SCOPE_REQUIRED", "name at least one actor or network (--ip)")
    if aware is not None and aware > now:
        faults.add("aware_at", "IN_FUTURE", "aware_at lies in the future")
    if first is not None and last is not None:
        if first >= last:
            faults.add("to", "WINDOW_ORDER", "to must come after from")
        elif last - first > MAX_WINDOW:
            faults.add("to", "WINDOW_TOO_LONG", "the window spans at most 3 years")
    if last is not None and last > now:
        faults.add("to", "IN_FUTURE", "to lies in the future")
    faults.raise_any()
    assert checked_title is not None
    assert checked_text is not None
    assert aware is not None
    assert first is not None
    assert last is not None
    return Scope(
        title=checked_title,
        aware_at=aware,
        start=first,
        end=last,
        actors=tuple(sorted(set(names))),
        networks=tuple(sorted(set(found), key=str)),
        circumstances=checked_text,
        outside_access=outside_access,
    )
