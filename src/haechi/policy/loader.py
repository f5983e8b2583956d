"""Read and validate a policy file, reporting every problem with its location."""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from haechi.errors import PolicyInvalid, PolicyProblem
from haechi.policy.checks import published_checks
from haechi.policy.schema import ItemKind, Policy

__all__ = ["LoadedPolicy", "check_policy_text", "load_policy", "parse_policy"]

_TOML_POSITION = re.compile(
    r"\(at (?:line (?P<line>\d+), column (?P<column>\d+)|end of document)\)$"
)


@dataclass(frozen=True)
class LoadedPolicy:
    """A validated policy with the hash of the exact text it came from."""

    policy: Policy
    text: str
    content_hash: str

    @property
    def version_id(self) -> str:
        """Short id of this version: the first 16 hex digits of its SHA-256."""
        return self.content_hash[:16]


def check_policy_text(text: str) -> list[PolicyProblem]:
    """Every problem in ``text`` (empty when the policy is valid)."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        location, message = _toml_problem(exc)
        return [PolicyProblem(location, f"malformed TOML: {message}")]
    problems: list[PolicyProblem] = []
    try:
        Policy.model_validate(raw)
    except ValidationError as exc:
        problems.extend(_problem_of(error) for error in exc.errors(include_input=False))
    # Cross-references are checked on the raw document so that they are reported
    # alongside shape errors, not only once those are fixed.
    problems.extend(_cross_checks(raw))
    problems.extend(published_checks(raw))
    return problems


def parse_policy(text: str, *, source: str = "policy") -> LoadedPolicy:
    """Validate ``text`` and return it loaded; raise :class:`PolicyInvalid` otherwise."""
    problems = check_policy_text(text)
    if problems:
        raise PolicyInvalid(problems, source=source)
    policy = Policy.model_validate(tomllib.loads(text))
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return LoadedPolicy(policy=policy, text=text, content_hash=digest)


def load_policy(path: Path) -> LoadedPolicy:
    """Read and validate the policy file at ``path``."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PolicyInvalid(
            [PolicyProblem(str(path), "file not found")], source=str(path)
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        problem = PolicyProblem(str(path), f"cannot read: {type(exc).__name__}")
        raise PolicyInvalid([problem], source=str(path)) from None
    return parse_policy(text, source=str(path))


def _toml_problem(exc: tomllib.TOMLDecodeError) -> tuple[str, str]:
    # Python 3.11 keeps the position only in the message: "… (at line 3, column 5)".
    match = _TOML_POSITION.search(str(exc))
    if match is None:
        return "(file)", str(exc)
    message = str(exc)[: match.start()].strip()
    if match.group("line") is None:
        return "end of file", message
    return f"line {match.group('line')}, column {match.group('column')}", message


def _problem_of(error: Any) -> PolicyProblem:
    # List positions read as in the cross-checks: safety_measures[0].kind.
    location = "".join(
        f"[{part}]" if isinstance(part, int) else f".{part}" for part in error["loc"]
    ).removeprefix(".")
    location = location or "(file)"
    message = str(error["msg"])
    if message.startswith("Value error, "):
        message = message.removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown key (not part of the policy format)"
    return PolicyProblem(location, message)


def _cross_checks(raw: dict[str, Any]) -> list[PolicyProblem]:
    problems: list[PolicyProblem] = []
    items: dict[str, Any] = raw["items"] if isinstance(raw.get("items"), dict) else {}
    purposes: dict[str, Any] = raw["purposes"] if isinstance(raw.get("purposes"), dict) else {}
    for item_name, item in items.items():
        if not isinstance(item, dict):
            continue
        is_identifier = item.get("kind") == ItemKind.IDENTIFIER.value
        if is_identifier and "format" not in item:
            problems.append(
                PolicyProblem(
                    f"items.{item_name}.format", "an identifier item must name its format"
                )
            )
        if not is_identifier and "format" in item:
            problems.append(
                PolicyProblem(f"items.{item_name}.format", "only identifier items take a format")
            )
    for purpose_id, purpose in purposes.items():
        if not isinstance(purpose, dict):
            continue
        seen: dict[str, str] = {}
        for field in ("items", "optional_items"):
            names = purpose.get(field)
            if not isinstance(names, list):
                continue
            for index, item_name in enumerate(names):
                location = f"purposes.{purpose_id}.{field}[{index}]"
                if not isinstance(item_name, str):
                    continue
                if item_name not in items:
                    problems.append(
                        PolicyProblem(location, f"item {item_name!r} is not declared under [items]")
                    )
                if item_name in seen:
                    problems.append(PolicyProblem(location, f"item {item_name!r} is listed twice"))
                seen[item_name] = field
    return problems
