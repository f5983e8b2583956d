"""Request and response bodies of the HTTP API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr, model_validator


def _refuse_nul(value: Any, location: str = "") -> None:
    """Refuse NUL characters anywhere in a body: no database column can store them."""
    if isinstance(value, str) and "\x00" in value:
        raise ValueError(f"{location or 'a value'} contains a NUL character")
    if isinstance(value, dict):
        for key, item in value.items():
            _refuse_nul(key, location)
            _refuse_nul(item, f"{location}.{key}" if location else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _refuse_nul(item, f"{location}[{index}]")


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        _refuse_nul(data)
        return data


class ConsentIn(_Body):
    """How the subject consented."""

    granted: StrictBool = Field(description="Whether the subject agreed.")
    method: StrictStr = Field(
        min_length=1, max_length=50, description="How: web-form, paper, email…"
    )
    text_hash: StrictStr | None = Field(
        default=None,
        pattern=r"^[0-9a-f]{64}$",
        description="SHA-256 (hex) of the consent text shown to the subject.",
    )


class CollectionCreate(_Body):
    """A collection: one subject's items for one purpose, with consent."""

    purpose: StrictStr = Field(
        min_length=1, max_length=63, description="A purpose id declared in the policy."
    )
    items: dict[StrictStr, StrictStr] = Field(description="Item name → value.")
    consent: ConsentIn
    channel: StrictStr = Field(default="api", min_length=1, max_length=50)
    source: StrictStr | None = Field(default=None, max_length=200)


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
    value: StrictStr = Field(min_length=1, max_length=320)


class LookupOut(BaseModel):
    """The subject found, if any."""

    subject_id: str | None


class WithdrawIn(_Body):
    """A withdrawal of consent."""

    method: StrictStr = Field(default="api", min_length=1, max_length=50)


class LoginIn(_Body):
    """A staff login; ``totp`` is needed from outside the trusted networks."""

    username: StrictStr = Field(min_length=1, max_length=100)
    password: StrictStr = Field(min_length=1, max_length=1024)
    totp: StrictStr | None = Field(
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

    current_password: StrictStr = Field(min_length=1, max_length=1024)
    new_password: StrictStr = Field(min_length=1, max_length=1024)


class StaffCreate(_Body):
    """A new account (one per person)."""

    username: StrictStr = Field(min_length=1, max_length=100)
    role: Literal["privacy_officer", "handler", "auditor", "admin"]
    purposes: list[StrictStr] = Field(default_factory=list, description="A handler's grants.")
    reason: StrictStr = Field(default="new account", min_length=1, max_length=400)


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

    purposes: list[StrictStr] = Field(min_length=1)
    reason: StrictStr = Field(min_length=1, max_length=400)


class GrantOut(BaseModel):
    """The purposes newly granted."""

    granted: list[str]


class RevokeIn(_Body):
    """Grants to revoke, or the whole account (``account: true``), and why."""

    purposes: list[StrictStr] = Field(default_factory=list)
    account: StrictBool = Field(default=False, description="Close the account (a leaver).")
    reason: StrictStr = Field(min_length=1, max_length=400)


class RoleIn(_Body):
    """A new role, and why."""

    role: Literal["privacy_officer", "handler", "auditor", "admin"]
    reason: StrictStr = Field(min_length=1, max_length=400)


class ReasonIn(_Body):
    """Why (an unlock)."""

    reason: StrictStr = Field(default="unlocked", min_length=1, max_length=400)


class PasswordResetIn(_Body):
    """A password reset, optionally with a new TOTP secret."""

    new_totp: StrictBool = Field(default=False, description="Also issue a new TOTP secret.")
    reason: StrictStr = Field(default="password reset", min_length=1, max_length=400)


class GrantChangePublic(BaseModel):
    """One row of the append-only grant history."""

    occurred_at: datetime
    username: str
    change: str
    purpose: str | None
    role: str | None
    changed_by: str
    reason: str


class ErrorOut(BaseModel):
    """Every error response."""

    error: str
    code: str
    detail: object | None = None
    field: str | None = None


class TreeHeadOut(BaseModel):
    """A signed tree head, as a witness keeps it."""

    size: int
    root: str
    signed_at: datetime
    prev_hash: str
    key_id: str
    signature: str
    pruned_below: int
