"""The shape of ``policy.toml``: what a controller declares, and nothing else.

Every model forbids unknown keys, so a typo is a problem with a location rather than
a silently ignored line.
"""

from __future__ import annotations

from enum import StrEnum
from functools import cached_property
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from haechi.policy.durations import Period, parse_period
from haechi.policy.published import (
    Channel,
    DestructionStep,
    ElectronicMethod,
    Localized,
    PaperDestruction,
    Phone,
    Portal,
    Remedy,
    RightKind,
    SafetyMeasure,
    StatutoryForms,
    WebAddress,
)

__all__ = [
    "HOLD_PREFIX",
    "LARGE_LOG_RETENTION",
    "AccessLogRules",
    "Consent",
    "Contact",
    "Controller",
    "DestructionRules",
    "IdentifierFormat",
    "Item",
    "ItemKind",
    "LegalBasis",
    "LegalHold",
    "Localized",
    "NoticeRules",
    "Policy",
    "Purpose",
    "RightsRules",
    "hold_purpose",
    "split_hold_purpose",
]

HOLD_PREFIX = "hold:"
# Access records are kept at least two years once an installation holds this many
# subjects (Standards Art. 8); the count is the setting audit.large_installation_subjects.
LARGE_LOG_RETENTION = "P2Y"

Name = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,62}$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ItemKind(StrEnum):
    """What an item holds; decides how values are validated and matched."""

    NAME = "name"
    PHONE = "phone"
    EMAIL = "email"
    TEXT = "text"
    IDENTIFIER = "identifier"


class IdentifierFormat(StrEnum):
    """Unique identifiers an ``identifier`` item may declare."""

    RRN = "rrn"
    FOREIGN_RRN = "foreign_rrn"
    PASSPORT = "passport"
    DRIVER_LICENSE = "driver_license"
    BUSINESS_REGISTRATION = "business_registration"
    CARD = "card"
    BANK_ACCOUNT = "bank_account"


# Unique identifiers in the sense of PIPA Art. 24 and Decree Art. 19.
UNIQUE_IDENTIFIERS = frozenset(
    {
        IdentifierFormat.RRN,
        IdentifierFormat.FOREIGN_RRN,
        IdentifierFormat.PASSPORT,
        IdentifierFormat.DRIVER_LICENSE,
    }
)


class LegalBasis(StrEnum):
    """Legal bases of PIPA Art. 15(1) a purpose may rest on."""

    CONSENT = "consent"
    LAW = "law"
    PUBLIC_DUTY = "public_duty"
    CONTRACT = "contract"
    VITAL_INTEREST = "vital_interest"
    LEGITIMATE_INTEREST = "legitimate_interest"


class Consent(StrEnum):
    """Whether agreeing to a consent-based purpose is a condition of the service."""

    REQUIRED = "required"
    OPTIONAL = "optional"


class Contact(_Strict):
    """A person or team people can reach."""

    name: Localized
    title: Localized | None = None
    department: Localized | None = None
    phone: Phone
    email: str = Field(min_length=3, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    fax: Phone | None = None


class Controller(_Strict):
    """The company that decides why and how personal data is processed."""

    name: Localized
    website: WebAddress | None = None
    address: Localized | None = None


class Item(_Strict):
    """One kind of personal value the controller collects."""

    label: Localized
    kind: ItemKind
    format: IdentifierFormat | None = Field(
        default=None, description="For identifier items: which identifier."
    )
    max_length: int = Field(default=200, ge=1, le=10_000)
    sensitive: bool = Field(
        default=False,
        description=(
            "Sensitive information (PIPA Art. 23: health, beliefs, union or party "
            "membership, sex life, genetic or criminal records, biometrics, race)."
        ),
    )


class LegalHold(_Strict):
    """A statute that requires keeping a purpose's data after its clock ends (PIPA Art. 21(1)).

    Such data is moved to the separated store and may be read only for the hold's own
    purpose, ``hold:<purpose>`` (see :func:`hold_purpose`), until ``retention`` has run
    from the day it was due; then it is destroyed like any other.
    """

    statute: Annotated[str, Field(min_length=1, max_length=200)] | Localized = Field(
        description="The law and article that require keeping (one text, or ko and en)."
    )
    retention: str = Field(description="How long the law requires keeping (ISO-8601 period).")

    @field_validator("retention")
    @classmethod
    def _retention_is_a_period(cls, value: str) -> str:
        parse_period(value)
        return value

    @cached_property
    def retention_period(self) -> Period:
        """The hold as a calendar period."""
        return parse_period(self.retention)

    def statute_text(self, language: str) -> str:
        """The statute in ``language`` when the file gives it in both languages."""
        return self.statute if isinstance(self.statute, str) else self.statute.get(language)


def hold_purpose(purpose_id: str) -> str:
    """The purpose under which data of ``purpose_id`` kept by a legal hold may be read."""
    return HOLD_PREFIX + purpose_id


def split_hold_purpose(purpose: str) -> tuple[str, bool]:
    """The collection purpose behind ``purpose``, and whether it named a legal hold."""
    if purpose.startswith(HOLD_PREFIX):
        return purpose.removeprefix(HOLD_PREFIX), True
    return purpose, False


class Purpose(_Strict):
    """Why data is collected: its items, clock, legal basis and consent."""

    label: Localized
    description: Localized
    items: list[Name] = Field(min_length=1)
    optional_items: list[Name] = Field(default_factory=list)
    retention: str
    legal_basis: LegalBasis = LegalBasis.CONSENT
    consent: Consent = Consent.REQUIRED
    legal_hold: LegalHold | None = None

    @field_validator("retention")
    @classmethod
    def _retention_is_a_period(cls, value: str) -> str:
        parse_period(value)
        return value

    @cached_property
    def retention_period(self) -> Period:
        """The retention as a calendar period."""
        return parse_period(self.retention)

    @cached_property
    def all_items(self) -> frozenset[str]:
        """Required and optional items together."""
        return frozenset(self.items) | frozenset(self.optional_items)

    @property
    def needs_consent(self) -> bool:
        """Whether collecting for this purpose needs the subject's consent."""
        return self.legal_basis is LegalBasis.CONSENT


class RightsRules(_Strict):
    """How people exercise their rights, and how fast the controller answers."""

    kinds: list[RightKind] = Field(default_factory=lambda: list(RightKind), min_length=1)
    channels: list[Channel] = Field(min_length=1)
    response_days: int = Field(default=10, ge=1, le=10)
    web: WebAddress | None = Field(default=None, description="Where the web channel is.")
    portal: Portal | None = Field(default=None, description="The national portal's route.")
    forms: StatutoryForms = Field(default_factory=StatutoryForms)
    representatives: bool = Field(
        default=True, description="Whether a legal representative or delegate may act."
    )


class DestructionRules(_Strict):
    """How soon and how data is destroyed once its clock runs out."""

    grace_days: int = Field(default=5, ge=0, le=5)
    procedure: list[DestructionStep] = Field(default_factory=lambda: list(DestructionStep))
    electronic: list[ElectronicMethod] = Field(
        default_factory=lambda: list(ElectronicMethod), min_length=1
    )
    paper: list[PaperDestruction] = Field(
        default_factory=lambda: list(PaperDestruction), min_length=1
    )


class NoticeRules(_Strict):
    """How long before taking effect a new policy version is announced."""

    days: int = Field(default=7, ge=7)


class AccessLogRules(_Strict):
    """How long the access log is kept."""

    retention: str = "P1Y"

    @field_validator("retention")
    @classmethod
    def _at_least_the_legal_floor(cls, value: str) -> str:
        period = parse_period(value)
        if period.approx_days < 365:
            raise ValueError(
                f"{value} is below the legal floor of one year (P1Y) for access records"
            )
        return value

    @cached_property
    def retention_period(self) -> Period:
        """The retention as a calendar period."""
        return parse_period(self.retention)


class Policy(_Strict):
    """A whole policy file."""

    version: str = Field(min_length=1, description="A label for this version, e.g. a date.")
    controller: Controller
    privacy_officer: Contact
    handling_team: Contact
    items: dict[Name, Item] = Field(min_length=1)
    purposes: dict[Name, Purpose] = Field(min_length=1)
    rights: RightsRules
    destruction: DestructionRules = Field(default_factory=DestructionRules)
    notice: NoticeRules = Field(default_factory=NoticeRules)
    access_log: AccessLogRules = Field(default_factory=AccessLogRules)
    remedies: list[Remedy] = Field(default_factory=list)
    safety_measures: list[SafetyMeasure] = Field(default_factory=list)

    def purpose(self, purpose_id: str) -> Purpose | None:
        """The purpose called ``purpose_id``, if declared."""
        return self.purposes.get(purpose_id)

    @cached_property
    def holds_special_items(self) -> bool:
        """Whether an item is a unique identifier (PIPA Art. 24) or marked sensitive.

        Such a policy keeps its access log for LARGE_LOG_RETENTION whatever its size.
        """
        return any(
            item.sensitive or (item.format is not None and item.format in UNIQUE_IDENTIFIERS)
            for item in self.items.values()
        )

    @cached_property
    def hold_purposes(self) -> dict[str, str]:
        """``hold:<purpose>`` → purpose, for every purpose with a legal hold."""
        return {
            hold_purpose(name): name
            for name, purpose in self.purposes.items()
            if purpose.legal_hold is not None
        }

    @cached_property
    def lookup_items(self) -> dict[str, ItemKind]:
        """Items whose values identify a subject (emails and phones)."""
        return {
            name: item.kind
            for name, item in self.items.items()
            if item.kind in (ItemKind.EMAIL, ItemKind.PHONE)
        }
