"""The one exception tree of Haechi.

Every error Haechi raises on purpose is a :class:`HaechiError`. Surfaces (HTTP, CLI)
map the semantic bases below to a status code or an exit code in one table each, so
a new error only has to pick the right base.

::

    HaechiError
    ├── InvalidInput            bad value from a caller (HTTP 422, exit 2)
    │   └── PolicyInvalid       a policy file with problems (carries every problem)
    ├── NotFound                no such subject, collection, token… (HTTP 404)
    ├── Conflict                the state forbids it (HTTP 409)
    ├── PermissionDenied        no or wrong credentials / grant (HTTP 403)
    │   └── AccessDenied        an access decision said no (carries the reason code)
    ├── PolicyViolation         the policy forbids it (HTTP 403/422)
    │   ├── ItemNotDeclared
    │   ├── MissingItem
    │   ├── PurposeNotDeclared
    │   └── ConsentRequired
    ├── IntegrityFailure        stored data failed authentication: the server's
    │                           problem, never the caller's (HTTP 500, an alert)
    └── ConfigurationError      the installation is not set up right (exit 2)

Messages never hold a personal value: they name fields, items, ids and codes only.
An error may carry several :class:`Problem` entries (``faults``), one per field at
fault, so that a form can mark every field at once; ``field`` and ``code`` are then
those of the first problem.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "AccessDenied",
    "ConfigurationError",
    "Conflict",
    "ConsentRequired",
    "HaechiError",
    "IntegrityFailure",
    "InvalidInput",
    "ItemNotDeclared",
    "MissingItem",
    "NotFound",
    "PermissionDenied",
    "PolicyInvalid",
    "PolicyProblem",
    "PolicyViolation",
    "Problem",
    "PurposeNotDeclared",
]


@dataclass(frozen=True)
class Problem:
    """One input field at fault: its dotted name, a stable code, and what is wrong."""

    field: str
    code: str
    message: str


class HaechiError(Exception):
    """Root of every error Haechi raises on purpose.

    ``code`` is a stable machine-readable identifier; ``field`` names the input
    field at fault when there is one.
    """

    code: str = "ERROR"

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        code: str | None = None,
        problems: tuple[Problem, ...] = (),
    ):
        super().__init__(message)
        self.message = message
        self.field = field
        if code is not None:
            self.code = code
        if not problems and field is not None:
            problems = (Problem(field=field, code=self.code, message=message),)
        self.faults: tuple[Problem, ...] = problems


class InvalidInput(HaechiError):
    """A value given by a caller is malformed or out of range."""

    code = "INVALID_INPUT"


@dataclass(frozen=True)
class PolicyProblem:
    """One problem in a policy file, with where it is (``purposes.service.retention``)."""

    location: str
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


class PolicyInvalid(InvalidInput):
    """A policy file has one or more problems; all of them are in ``problems``."""

    code = "POLICY_INVALID"

    def __init__(self, problems: list[PolicyProblem], *, source: str = "policy"):
        self.problems = problems
        count = len(problems)
        first = str(problems[0]) if problems else "unknown problem"
        more = f" (and {count - 1} more)" if count > 1 else ""
        super().__init__(f"{source}: {first}{more}")


class NotFound(HaechiError):
    """The thing asked for does not exist (or is not visible to the caller)."""

    code = "NOT_FOUND"


class Conflict(HaechiError):
    """The request clashes with the current state."""

    code = "CONFLICT"


class PermissionDenied(HaechiError):
    """The caller is not allowed to do this."""

    code = "PERMISSION_DENIED"


class AccessDenied(PermissionDenied):
    """An access decision refused a use; ``code`` is the decision's reason code."""

    def __init__(self, reason: str, message: str, *, audit_event_id: int | None = None):
        super().__init__(message, code=reason)
        self.audit_event_id = audit_event_id


class PolicyViolation(HaechiError):
    """The policy file does not allow this."""

    code = "POLICY_VIOLATION"


class ItemNotDeclared(PolicyViolation):
    """An item is not declared for the purpose."""

    code = "ITEM_NOT_DECLARED"


class MissingItem(PolicyViolation):
    """A required item of the purpose is missing."""

    code = "MISSING_ITEM"


class PurposeNotDeclared(PolicyViolation):
    """The purpose is not in the policy."""

    code = "PURPOSE_NOT_DECLARED"


class ConsentRequired(PolicyViolation):
    """The purpose needs consent and none was given."""

    code = "NO_CONSENT"


class IntegrityFailure(HaechiError):
    """Stored data failed authentication (a ciphertext or a wrapped key was altered).

    Not the caller's fault: the surfaces answer it as a server error and an alert is
    recorded for the privacy officer.
    """

    code = "INTEGRITY_FAILURE"


class ConfigurationError(HaechiError):
    """The installation is missing something it needs (data directory, key file…)."""

    code = "CONFIGURATION_ERROR"
