"""Request and response bodies of the HTTP API."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


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

    purpose: StrictStr = Field(description="A purpose id declared in the policy.")
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


class ErrorOut(BaseModel):
    """Every error response."""

    error: str
    code: str
    detail: object | None = None
    field: str | None = None
