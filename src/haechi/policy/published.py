"""Parts of ``policy.toml`` that the published policy states and the engine does not enforce.

Remedies (outside institutions), how data is destroyed, how rights are exercised and the
declared managerial and physical safety measures. The technical safety measures are
never declared here: the published policy reads them from the installation's settings.
"""

from __future__ import annotations

from enum import StrEnum
from functools import cached_property
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from haechi.policy.durations import Period, parse_period
from haechi.policy.formats import check_phone, check_web_address

__all__ = [
    "Channel",
    "DestructionStep",
    "ElectronicMethod",
    "FormReference",
    "Localized",
    "MeasureCategory",
    "MeasureKind",
    "PaperDestruction",
    "Phone",
    "Portal",
    "Remedy",
    "RightKind",
    "SafetyMeasure",
    "StatutoryForms",
    "WebAddress",
]

Phone = Annotated[str, Field(min_length=3, max_length=30), AfterValidator(check_phone)]
WebAddress = Annotated[str, Field(max_length=500), AfterValidator(check_web_address)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Localized(_Strict):
    """A text in Korean and English."""

    ko: str = Field(min_length=1)
    en: str = Field(min_length=1)

    def get(self, language: str) -> str:
        """The text in ``language`` (``ko`` or ``en``), Korean otherwise."""
        return self.en if language == "en" else self.ko


class Remedy(_Strict):
    """An outside institution people may turn to about the controller's handling."""

    name: Localized
    services: Localized = Field(description="What the institution does for people.")
    site: WebAddress
    phone: Phone
    address: Localized | None = None


class DestructionStep(StrEnum):
    """Steps of the destruction procedure, in the order the sweep takes them."""

    SEPARATE = "separate"
    DESTROY = "destroy"
    CONFIRM = "confirm"


class ElectronicMethod(StrEnum):
    """How electronic files are destroyed: both are what the sweep does."""

    KEY_SHREDDING = "key_shredding"
    DELETION = "deletion"


class PaperDestruction(StrEnum):
    """How paper is destroyed (Decree Art. 16(1)2); paper records take only declared ones."""

    SHREDDING = "shredding"
    INCINERATION = "incineration"


class RightKind(StrEnum):
    """Rights people exercise over their data (PIPA Art. 35-37, consent withdrawal)."""

    ACCESS = "access"
    CORRECTION = "correction"
    DELETION = "deletion"
    SUSPENSION = "suspension"
    WITHDRAWAL = "withdrawal"


class Channel(StrEnum):
    """Ways a request reaches the controller."""

    DOCUMENT = "document"
    EMAIL = "email"
    FAX = "fax"
    WEB = "web"
    PORTAL = "portal"


class Portal(_Strict):
    """The national privacy portal, through which access may also be requested."""

    name: Localized
    site: WebAddress
    route: Localized = Field(description="The menus to follow on the portal.")


class FormReference(_Strict):
    """A statutory form: the annex number of the Enforcement Rules of PIPA."""

    annex: int = Field(ge=1, le=99)
    url: WebAddress | None = None


class StatutoryForms(_Strict):
    """The forms of a rights request and of a power of attorney."""

    request: FormReference = FormReference(annex=8)
    power_of_attorney: FormReference = FormReference(annex=11)


class MeasureCategory(StrEnum):
    """Kinds of safety measure of PIPA Art. 29."""

    TECHNICAL = "technical"
    MANAGERIAL = "managerial"
    PHYSICAL = "physical"


class MeasureKind(StrEnum):
    """Safety measures a controller declares (those no setting of Haechi can show)."""

    IN_HOUSE_AUDIT = "in_house_audit"
    MINIMUM_STAFF = "minimum_staff"
    STAFF_TRAINING = "staff_training"
    MANAGEMENT_PLAN = "management_plan"
    ANTI_VIRUS = "anti_virus"
    LOCKED_STORAGE = "locked_storage"
    RESTRICTED_AREA = "restricted_area"

    @property
    def category(self) -> MeasureCategory:
        """Whether the measure is managerial, physical or technical."""
        if self in (MeasureKind.LOCKED_STORAGE, MeasureKind.RESTRICTED_AREA):
            return MeasureCategory.PHYSICAL
        if self is MeasureKind.ANTI_VIRUS:
            return MeasureCategory.TECHNICAL
        return MeasureCategory.MANAGERIAL


# Measures that only mean something when they recur, and the longest interval accepted:
# the in-house audit is quarterly (reference policy §6①), training at least yearly.
RECURRING: dict[MeasureKind, str] = {
    MeasureKind.IN_HOUSE_AUDIT: "P3M",
    MeasureKind.STAFF_TRAINING: "P1Y",
}


class SafetyMeasure(_Strict):
    """One declared safety measure, with how often it recurs when it does."""

    kind: MeasureKind
    frequency: str | None = Field(
        default=None, description="How often it is done (ISO-8601 period, e.g. P3M)."
    )
    note: Localized | None = Field(default=None, description="The controller's own detail.")

    @field_validator("frequency")
    @classmethod
    def _frequency_is_a_period(cls, value: str | None) -> str | None:
        if value is not None:
            parse_period(value)
        return value

    @cached_property
    def frequency_period(self) -> Period | None:
        """The frequency as a calendar period, if declared."""
        return parse_period(self.frequency) if self.frequency else None
