"""Haechi: a personal-information custody engine driven by one policy file."""

from haechi.access.decision import Actor, Reason
from haechi.config import Settings
from haechi.engine import SYSTEM, Engine
from haechi.errors import (
    AccessDenied,
    ConfigurationError,
    Conflict,
    HaechiError,
    InvalidInput,
    NotFound,
    PermissionDenied,
    PolicyInvalid,
    PolicyViolation,
)
from haechi.policy import LoadedPolicy, Policy, load_policy, parse_policy
from haechi.subjects.service import CollectResult, ConsentEvidence

__all__ = [
    "SYSTEM",
    "AccessDenied",
    "Actor",
    "CollectResult",
    "ConfigurationError",
    "Conflict",
    "ConsentEvidence",
    "Engine",
    "HaechiError",
    "InvalidInput",
    "LoadedPolicy",
    "NotFound",
    "PermissionDenied",
    "Policy",
    "PolicyInvalid",
    "PolicyViolation",
    "Reason",
    "Settings",
    "load_policy",
    "parse_policy",
]
__version__ = "0.1.0"
