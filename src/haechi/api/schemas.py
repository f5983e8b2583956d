"""Request and response bodies of the HTTP API.

Every string a client sends is bounded and clean (:data:`Text`): no NUL, which no
database column can hold, and no lone surrogate, which no encoder can write. Every list
and map is bounded too, so a request is refused before any work, never half-processed.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, StrictStr

from haechi.subjects.models import ConsentEvidence

MAX_ITEMS = 64  # items in one collection, and item= parameters in one read
MAX_PURPOSES = 64  # purposes in one grant or revocation
MAX_NAME = 63  # item and purpose names (the policy's own limit)
MAX_ITEM_VALUE = 10_000  # the policy's largest max_length of an item


def clean(value: str) -> str:
    """Refuse NUL characters and lone surrogates (no column or encoder takes them)."""
    if "\x00" in value:
        raise ValueError("contains a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("contains a lone surrogate (not valid Unicode)") from None
    return value


def plain(value: str) -> str:
    """Refuse control and format characters: escape sequences, bidi overrides, zero-width.

    Text the log or a table keeps in the clear (reasons, methods, channels, names) is
    shown on an officer's terminal and pages: it cannot move the cursor, clear the
    screen, forge a line break or reorder what follows it.
    """
    if any(unicodedata.category(character) in ("Cc", "Cf") for character in value):
        raise ValueError("contains a control or format character")
    return value


Text = Annotated[StrictStr, AfterValidator(clean)]
#: one line of plain text, kept in the clear (see :func:`plain`)
Line = Annotated[StrictStr, AfterValidator(clean), AfterValidator(plain)]
Name = Annotated[
    StrictStr,
    Field(min_length=1, max_length=MAX_NAME),
    AfterValidator(clean),
    AfterValidator(plain),
]
ItemValue = Annotated[StrictStr, Field(max_length=MAX_ITEM_VALUE), AfterValidator(clean)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ConsentIn(_Body):
    """How the subject consented."""

    granted: StrictBool = Field(description="Whether the subject agreed.")
    method: Line = Field(min_length=1, max_length=50, description="How: web-form, paper, email…")
    text_hash: Text | None = Field(
        default=None,
        pattern=r"^[0-9a-f]{64}$",
        description="SHA-256 (hex) of the consent text shown to the subject.",
    )

    def evidence(self, source_ip: str | None) -> ConsentEvidence:
        """The engine's consent evidence: this, given from ``source_ip``."""
        return ConsentEvidence(
            granted=self.granted,
            method=self.method,
            text_hash=self.text_hash,
            source_ip=source_ip,
        )


class CollectionCreate(_Body):
    """A collection: one subject's items for one purpose, with consent."""

    purpose: Line = Field(
        min_length=1, max_length=63, description="A purpose id declared in the policy."
    )
    items: dict[Name, ItemValue] = Field(
        max_length=MAX_ITEMS, description=f"Item name → value (at most {MAX_ITEMS})."
    )
    consent: ConsentIn
    channel: Line = Field(default="api", min_length=1, max_length=50)
    source: Line | None = Field(default=None, max_length=200)


class CollectionCreated(BaseModel):
    """What a collection produced."""

    subject_id: str
    collection_id: str
    expires_at: datetime
    created: bool


class CollectionPublic(BaseModel):
    """A collection's state and dates: never its values."""

    id: str
    subject_id: str
    purpose: str
    state: str
    consented: bool
    policy_version: str
    collected_at: datetime
    updated_at: datetime
    expires_at: datetime
    due_at: datetime = Field(
        description="When destruction falls due: the expiry, or earlier once the purpose "
        "is accomplished or consent withdrawn; no use from then on"
    )
    accomplished_at: datetime | None = Field(
        description="When the purpose was declared accomplished, if it was"
    )


class CollectionDestroyed(BaseModel):
    """A destroyed collection: its state and the certificate of its destruction, nothing else."""

    id: str
    state: Literal["destroyed"]
    certificate_id: str | None


class ItemsPublic(BaseModel):
    """Decrypted items of one subject for one purpose."""

    subject_id: str
    purpose: str
    items: dict[str, str]


class LookupIn(_Body):
    """Find a subject by email or phone (in the body, so it never lands in a URL)."""

    kind: Literal["email", "phone"]
    value: Text = Field(min_length=1, max_length=320)


class LookupOut(BaseModel):
    """The subject found, if any."""

    subject_id: str | None


class WithdrawIn(_Body):
    """A withdrawal of consent."""

    method: Line = Field(default="api", min_length=1, max_length=50)


class LoginIn(_Body):
    """A staff login; ``totp`` is needed from outside the trusted networks."""

    username: Line = Field(min_length=1, max_length=100)
    password: Text = Field(min_length=1, max_length=1024)
    totp: Text | None = Field(
        default=None, pattern=r"^[0-9]{6}$", description="The current 6-digit TOTP code."
    )


class LoginOut(BaseModel):
    """A session bearer token (shown once)."""

    token: str = Field(description="Send as `Authorization: Bearer …`.")
    must_change_password: bool = Field(
        description="A one-time password: only POST /api/v1/auth/password is served until changed."
    )
    idle_timeout_minutes: int


class PasswordChangeIn(_Body):
    """A staff member's own password change."""

    current_password: Text = Field(min_length=1, max_length=1024)
    new_password: Text = Field(min_length=1, max_length=1024)


class StaffCreate(_Body):
    """A new account (one per person)."""

    username: Line = Field(min_length=1, max_length=100)
    role: Literal["privacy_officer", "handler", "auditor", "admin"]
    purposes: list[Name] = Field(
        default_factory=list, max_length=MAX_PURPOSES, description="A handler's grants."
    )
    reason: Line = Field(default="new account", min_length=1, max_length=400)


class StaffCredentials(BaseModel):
    """One-time credentials, shown once."""

    username: str
    one_time_password: str
    totp_uri: str | None = Field(description="otpauth:// URI for an authenticator app.")


class StaffPublic(BaseModel):
    """An account: role, grants, state; never a secret."""

    username: str
    role: str
    purposes: list[str]
    locked: bool
    failed_logins: int
    must_change_password: bool
    totp_enrolled: bool
    created_at: datetime
    last_login_at: datetime | None
    disabled_at: datetime | None


class GrantIn(_Body):
    """Purposes to grant a handler, and why."""

    purposes: list[Name] = Field(min_length=1, max_length=MAX_PURPOSES)
    reason: Line = Field(min_length=1, max_length=400)


class GrantOut(BaseModel):
    """The purposes newly granted."""

    granted: list[str]


class RevokeIn(_Body):
    """Grants to revoke, or the whole account (``account: true``), and why."""

    purposes: list[Name] = Field(default_factory=list, max_length=MAX_PURPOSES)
    account: StrictBool = Field(default=False, description="Close the account (a leaver).")
    reason: Line = Field(min_length=1, max_length=400)


class RoleIn(_Body):
    """A new role, and why."""

    role: Literal["privacy_officer", "handler", "auditor", "admin"]
    reason: Line = Field(min_length=1, max_length=400)


class ReasonIn(_Body):
    """Why (an unlock)."""

    reason: Line = Field(default="unlocked", min_length=1, max_length=400)


class PasswordResetIn(_Body):
    """A password reset, optionally with a new TOTP secret."""

    new_totp: StrictBool = Field(default=False, description="Also issue a new TOTP secret.")
    reason: Line = Field(default="password reset", min_length=1, max_length=400)


class GrantChangePublic(BaseModel):
    """One row of the append-only grant history."""

    occurred_at: datetime
    username: str
    change: str
    purpose: str | None
    role: str | None
    changed_by: str
    reason: str


class ProblemOut(BaseModel):
    """One field at fault: its dotted name (``<undeclared>`` for a client-chosen one)."""

    field: str
    code: str
    message: str


class ErrorOut(BaseModel):
    """Every error response: the first problem in ``field``/``code``, a few more listed."""

    error: str
    code: str
    detail: object | None = None
    field: str | None = None
    problems: list[ProblemOut] = Field(
        default_factory=list, description="At most 10 of the problems, in the order found."
    )
    problem_count: int = Field(default=0, description="How many problems there are in all.")


class TreeHeadOut(BaseModel):
    """A signed tree head, as a witness keeps it."""

    size: int
    root: str
    signed_at: datetime
    prev_hash: str
    key_id: str
    signature: str
    pruned_below: int
