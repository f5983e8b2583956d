"""Checks across the published parts of a policy file (rights, destruction, safety).

They run on the raw document, like the loader's item checks, so that each problem is
reported with its exact location alongside the shape errors.
"""

from __future__ import annotations

from typing import Any

from haechi.errors import PolicyProblem
from haechi.policy.durations import parse_period
from haechi.policy.published import RECURRING, Channel, DestructionStep, MeasureKind

__all__ = ["published_checks"]


def published_checks(raw: dict[str, Any]) -> list[PolicyProblem]:
    """Problems of the rights, destruction and safety parts of ``raw``."""
    return [*_rights(raw), *_destruction(raw), *_safety(raw)]


def _table(raw: dict[str, Any], key: str) -> dict[str, Any]:
    value = raw.get(key)
    return value if isinstance(value, dict) else {}


def _listed_twice(values: Any, location: str) -> list[PolicyProblem]:
    if not isinstance(values, list):
        return []
    seen: set[Any] = set()
    problems = []
    for index, value in enumerate(values):
        if not isinstance(value, str | int):
            continue
        if value in seen:
            problems.append(PolicyProblem(f"{location}[{index}]", f"{value!r} is listed twice"))
        seen.add(value)
    return problems


def _rights(raw: dict[str, Any]) -> list[PolicyProblem]:
    rights = _table(raw, "rights")
    channels = rights.get("channels")
    problems = _listed_twice(channels, "rights.channels")
    problems += _listed_twice(rights.get("kinds"), "rights.kinds")
    if not isinstance(channels, list):
        return problems
    # A channel the policy offers must say where it is.
    needs = {
        Channel.FAX.value: ("handling_team.fax", _table(raw, "handling_team").get("fax")),
        Channel.WEB.value: ("rights.web", rights.get("web")),
        Channel.PORTAL.value: ("rights.portal", rights.get("portal")),
    }
    for channel, (location, value) in needs.items():
        if channel in channels and value is None:
            problems.append(
                PolicyProblem(location, f"the {channel!r} channel is offered but not given")
            )
    return problems


def _destruction(raw: dict[str, Any]) -> list[PolicyProblem]:
    destruction = _table(raw, "destruction")
    problems = _listed_twice(destruction.get("electronic"), "destruction.electronic")
    problems += _listed_twice(destruction.get("paper"), "destruction.paper")
    steps = destruction.get("procedure")
    if not isinstance(steps, list):
        return problems
    problems += _listed_twice(steps, "destruction.procedure")
    # Data a statute keeps must leave the live store before anything is destroyed.
    if not steps or steps[0] != DestructionStep.SEPARATE.value:
        problems.append(
            PolicyProblem("destruction.procedure[0]", "the procedure must start with 'separate'")
        )
    if DestructionStep.DESTROY.value not in steps:
        problems.append(
            PolicyProblem("destruction.procedure", "the procedure must include 'destroy'")
        )
    return problems


def _safety(raw: dict[str, Any]) -> list[PolicyProblem]:
    measures = raw.get("safety_measures")
    if not isinstance(measures, list):
        return []
    kinds = [measure.get("kind") if isinstance(measure, dict) else None for measure in measures]
    problems = [
        PolicyProblem(problem.location + ".kind", problem.message)
        for problem in _listed_twice(kinds, "safety_measures")
    ]
    for index, measure in enumerate(measures):
        if not isinstance(measure, dict) or measure.get("kind") not in set(MeasureKind):
            continue
        longest = RECURRING.get(MeasureKind(measure["kind"]))
        frequency = measure.get("frequency")
        location = f"safety_measures[{index}].frequency"
        if longest is None:
            continue
        if frequency is None:
            problems.append(PolicyProblem(location, f"a {measure['kind']} needs a frequency"))
            continue
        try:
            period = parse_period(frequency)
        except (ValueError, AttributeError):
            continue  # the shape check reports it
        if period.approx_days > parse_period(longest).approx_days:
            problems.append(
                PolicyProblem(location, f"{frequency} is too rare: at least every {longest}")
            )
    return problems
