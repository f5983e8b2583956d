"""The published privacy policy (PIPA Art. 30), rendered from the policy file and settings.

Purposes, items, retention, destruction, rights, the privacy officer and remedies come
from the policy file; the technical safety measures come from this installation's
settings and Haechi's own constants, so the document states what the engine does.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import ip_network

from haechi.config import Settings
from haechi.crypto.keys import DATA_KEY_BYTES
from haechi.policy.durations import Period, parse_period
from haechi.policy.published import MeasureCategory, RightKind, SafetyMeasure
from haechi.policy.schema import LARGE_LOG_RETENTION, Policy
from haechi.web.i18n import FORMATS, LANGUAGES, check_choice, environment

__all__ = ["TechnicalMeasures", "render_policy", "technical_measures"]

# Rights the law wants answered within the response period; withdrawal takes effect at once.
_DEADLINE_RIGHTS = frozenset(
    {RightKind.ACCESS, RightKind.CORRECTION, RightKind.DELETION, RightKind.SUSPENSION}
)


@dataclass(frozen=True)
class TechnicalMeasures:
    """The technical safety measures this installation enforces, as figures."""

    cipher: str
    log_retention: Period
    large_log_retention: Period
    large_installation_subjects: int
    seal_interval_seconds: float
    lockout_threshold: int
    second_factor: str
    idle_timeout_minutes: int
    monitor_subjects_per_hour: int
    hash_algorithm: str


def technical_measures(policy: Policy, settings: Settings) -> TechnicalMeasures:
    """What the engine enforces under ``policy`` and ``settings``."""
    declared = policy.access_log.retention_period
    large = parse_period(LARGE_LOG_RETENTION)
    longer = large if large.approx_days > declared.approx_days else declared
    return TechnicalMeasures(
        cipher=f"AES-{DATA_KEY_BYTES * 8}-GCM",
        # With unique identifiers or sensitive items the longer period applies at any size.
        log_retention=longer if policy.holds_special_items else declared,
        large_log_retention=longer,
        large_installation_subjects=settings.audit.large_installation_subjects,
        seal_interval_seconds=settings.audit.seal_interval_seconds,
        lockout_threshold=settings.auth.lockout_threshold,
        second_factor=_second_factor(settings.auth.trusted_networks),
        idle_timeout_minutes=settings.auth.idle_timeout_minutes,
        monitor_subjects_per_hour=settings.monitor.distinct_subjects_per_hour,
        hash_algorithm="Argon2id",
    )


def _second_factor(trusted: list[str]) -> str:
    """When a TOTP code is asked: ``always``, ``outside`` trusted networks, or ``never``.

    A trusted ``0.0.0.0/0`` or ``::/0`` lets a whole address family in on a password
    alone, so the document then claims no second factor at all.
    """
    networks = [ip_network(network, strict=False) for network in trusted]
    if not networks:
        return "always"
    if any(network.prefixlen == 0 for network in networks):
        return "never"
    return "outside"


def _measures(policy: Policy, category: MeasureCategory) -> list[SafetyMeasure]:
    return [measure for measure in policy.safety_measures if measure.kind.category is category]


def render_policy(policy: Policy, settings: Settings, *, lang: str, fmt: str) -> str:
    """The whole policy document in ``lang`` (``ko``, ``en``) and ``fmt`` (``html``, ``md``)."""
    check_choice(lang, LANGUAGES, "lang")
    check_choice(fmt, FORMATS, "format")
    template = environment(lang, fmt).get_template(f"policy/document.{fmt}.j2")
    return template.render(
        policy=policy,
        technical=technical_measures(policy, settings),
        declared={category.value: _measures(policy, category) for category in MeasureCategory},
        deadline_rights=_DEADLINE_RIGHTS,
        holds=[purpose for purpose in policy.purposes.values() if purpose.legal_hold is not None],
    )
