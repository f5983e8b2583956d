"""The policy file: its schema, loading and validation, and the demo policy."""

from __future__ import annotations

from importlib.resources import files

from haechi.policy.durations import Period, parse_period
from haechi.policy.loader import LoadedPolicy, check_policy_text, load_policy, parse_policy
from haechi.policy.schema import (
    IdentifierFormat,
    Item,
    ItemKind,
    LegalBasis,
    LegalHold,
    Policy,
    Purpose,
    hold_purpose,
    split_hold_purpose,
)

__all__ = [
    "IdentifierFormat",
    "Item",
    "ItemKind",
    "LegalBasis",
    "LegalHold",
    "LoadedPolicy",
    "Period",
    "Policy",
    "Purpose",
    "check_policy_text",
    "demo_policy_text",
    "hold_purpose",
    "load_policy",
    "parse_period",
    "parse_policy",
    "split_hold_purpose",
]


def demo_policy_text() -> str:
    """The text of the demo policy shipped with Haechi."""
    return files("haechi.policy").joinpath("demo.toml").read_text(encoding="utf-8")
