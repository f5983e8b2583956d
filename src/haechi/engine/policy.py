"""Published policy versions: publish, list, the version in force, fresh consent.

Publishing stores the file's text and its rendered documents (rendered by the surface:
the engine imports no template engine) with the announcement and effective dates; the
version in force then follows the clock on every server (:mod:`haechi.engine.in_force`).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from haechi.access.decision import Actor, CollectionState, Reason
from haechi.audit.events import declared_names, record_event
from haechi.engine.base import EngineBase
from haechi.engine.in_force import InForce
from haechi.engine.policy_changes import (
    NoticeTarget,
    drop_removed_items,
    narrow_expiries,
    reconsent_targets,
    terms_changed,
    uncovered,
)
from haechi.errors import AccessDenied, Conflict, InvalidInput, NotFound
from haechi.policy.loader import LoadedPolicy
from haechi.policy.schema import ItemKind
from haechi.policy.versions import check_effective
from haechi.storage.tables import collections, consents, items, policy_versions
from haechi.subjects import service as subjects
from haechi.subjects.service import ConsentEvidence

__all__ = ["PolicyMixin", "PublishedVersion", "RenewedConsent"]

LANGUAGES = ("ko", "en")


@dataclass(frozen=True)
class PublishedVersion:
    """One published version: number, id, label and dates (no text)."""

    n: int
    id: str
    label: str
    content_hash: str
    announced_at: datetime
    effective_at: datetime

    def as_dict(self) -> dict[str, Any]:
        """The version as plain JSON values."""
        return {
            "n": self.n,
            "id": self.id,
            "label": self.label,
            "content_hash": self.content_hash,
            "announced_at": self.announced_at.isoformat(),
            "effective_at": self.effective_at.isoformat(),
        }


@dataclass(frozen=True)
class RenewedConsent:
    """A collection's fresh consent: the version it now covers and the new expiry."""

    collection_id: str
    policy_version: str
    expires_at: datetime


_COLUMNS = (
    policy_versions.c.n,
    policy_versions.c.id,
    policy_versions.c.label,
    policy_versions.c.content_hash,
    policy_versions.c.announced_at,
    policy_versions.c.effective_at,
)


def _version(row: Any) -> PublishedVersion:
    return PublishedVersion(
        row.n, row.id, row.label, row.content_hash, row.announced_at, row.effective_at
    )


class PolicyMixin(EngineBase):
    """Published policy versions: publish, list, the version in force, fresh consent."""

    def publish_policy(
        self,
        loaded: LoadedPolicy,
        *,
        effective_at: datetime | None,
        documents: Mapping[str, str],
        actor: Actor,
    ) -> PublishedVersion:
        """Store ``loaded`` as the next version, taking effect at ``effective_at``.

        Refused: a file identical to a published version, and an effective date less
        than the notice period away (the very first version excepted: ``None`` means
        at once), in the past, or not after the latest version's.
        """
        if set(documents) != set(LANGUAGES):
            raise InvalidInput("documents in ko and en are needed", field="documents")
        now = self.clock()
        with self.transaction() as connection:
            published = connection.execute(
                select(*_COLUMNS)
                .where(policy_versions.c.n.is_not(None))
                .order_by(policy_versions.c.n.desc())
                .with_for_update()
            ).all()
            same = connection.execute(
                select(policy_versions.c.n).where(
                    policy_versions.c.content_hash == loaded.content_hash
                )
            ).first()
            if same is not None and same.n is not None:
                raise Conflict(
                    f"the file is identical to published version {same.n}",
                    field="file",
                    code="POLICY_UNCHANGED",
                )
            effective = effective_at or now
            check_effective(
                effective,
                now=now,
                notice_days=loaded.policy.notice.days,
                first=not published,
                latest_effective=max((row.effective_at for row in published), default=None),
            )
            number = (published[0].n if published else 0) + 1
            values = {
                "n": number,
                "announced_at": now,
                "effective_at": effective,
                "document_ko": documents["ko"],
                "document_en": documents["en"],
                "published_by": actor.name,
            }
            try:
                if same is None:
                    connection.execute(
                        insert(policy_versions).values(
                            id=loaded.version_id,
                            content_hash=loaded.content_hash,
                            label=loaded.policy.version,
                            text=loaded.text,
                            loaded_at=now,
                            **values,
                        )
                    )
                else:
                    connection.execute(
                        update(policy_versions)
                        .where(policy_versions.c.id == loaded.version_id)
                        .values(**values)
                    )
            except IntegrityError:
                raise Conflict(
                    "another version was published at the same time", code="PUBLISH_RACE"
                ) from None
            self._record(
                connection,
                actor,
                "publish_policy",
                now=now,
                reason=f"policy version {number} ({loaded.version_id}) "
                f"effective {effective.isoformat()}",
            )
        self.versions.invalidate()
        return PublishedVersion(
            number, loaded.version_id, loaded.policy.version, loaded.content_hash, now, effective
        )

    def published_versions(self) -> list[PublishedVersion]:
        """Every published version, oldest first."""
        with self.transaction() as connection:
            rows = connection.execute(
                select(*_COLUMNS)
                .where(policy_versions.c.n.is_not(None))
                .order_by(policy_versions.c.n)
            ).all()
        return [_version(row) for row in rows]

    def policy_status(self) -> tuple[PublishedVersion | None, list[PublishedVersion]]:
        """The published version in force now (None before the first), and those announced."""
        now = self.clock()
        versions = self.published_versions()
        in_force = [v for v in versions if v.effective_at <= now]
        return (in_force[-1] if in_force else None), [v for v in versions if v.effective_at > now]

    def published_version(self, n: int) -> tuple[PublishedVersion, LoadedPolicy, dict[str, str]]:
        """Version ``n``: its dates, its policy and its published documents by language."""
        with self.transaction() as connection:
            row = connection.execute(
                select(
                    *_COLUMNS,
                    policy_versions.c.text,
                    policy_versions.c.document_ko,
                    policy_versions.c.document_en,
                ).where(policy_versions.c.n == n)
            ).first()
        if row is None:
            raise NotFound("no such policy version", field="version")
        loaded = self.versions.loaded(row.id)
        if loaded is None:  # pragma: no cover - a published text always parsed when stored
            raise NotFound("the stored policy version cannot be read", field="version")
        return _version(row), loaded, {"ko": row.document_ko, "en": row.document_en}

    def renew_consent(
        self, collection_id: str, *, consent: ConsentEvidence, actor: Actor
    ) -> RenewedConsent:
        """Record fresh consent to the policy in force for one collection.

        Evidence as at collection; the retention clock restarts under the terms in force.
        """
        if not consent.granted:
            raise InvalidInput("fresh consent must be granted", field="consent.granted")
        loaded = self.policy
        now = self.clock()

        def renew(connection: Connection) -> RenewedConsent:
            # Locked first (PostgreSQL): a sweep may not destroy it between read and write.
            connection.execute(
                select(collections.c.id).where(collections.c.id == collection_id).with_for_update()
            )
            info = subjects.get_collection(connection, collection_id)
            withdrawn = not info.consented and info.due_at < info.expires_at
            if (
                info.state.value not in _RENEWABLE
                or info.accomplished_at is not None
                or withdrawn
                or now >= info.expires_at
            ):
                raise Conflict("the collection is no longer in use", code="COLLECTION_NOT_ACTIVE")
            purpose = loaded.policy.purposes.get(info.purpose)
            if purpose is None:
                raise Conflict("the purpose is no longer declared", code="PURPOSE_NOT_DECLARED")
            expires = purpose.retention_period.after(now)
            connection.execute(
                update(collections)
                .where(collections.c.id == collection_id)
                .values(
                    policy_version=loaded.version_id,
                    consented=True,
                    updated_at=now,
                    expires_at=expires,
                    due_at=expires,
                )
            )
            connection.execute(
                insert(consents).values(
                    id=str(uuid.uuid4()),
                    subject_id=info.subject_id,
                    collection_id=collection_id,
                    purpose=info.purpose,
                    granted=True,
                    method=consent.method,
                    source_ip=consent.source_ip,
                    text_hash=consent.text_hash,
                    policy_version=loaded.version_id,
                    recorded_at=now,
                )
            )
            return RenewedConsent(collection_id, loaded.version_id, expires)

        renewed: RenewedConsent = self._change(
            "renew_consent", actor, collection_id, renew, source_ip=consent.source_ip
        )
        return renewed

    def reconsent_targets(self, n: int) -> list[NoticeTarget]:
        """Collections whose subjects version ``n`` asks for fresh consent."""
        _, loaded, _ = self.published_version(n)
        with self.transaction() as connection:
            return list(
                reconsent_targets(
                    connection,
                    versions=self.versions,
                    new=loaded,
                    chunk_size=self.settings.retention.chunk_size,
                )
            )

    def notice_contacts(self, subject_id: str) -> list[tuple[str, str]]:
        """(purpose, item) pairs of a subject's live email items: where a notice can go.

        Names only; reading a value is a use (:meth:`use`) and logged as one.
        """
        email_items = [
            name for name, item in self.policy.policy.items.items() if item.kind is ItemKind.EMAIL
        ]
        with self.transaction() as connection:
            rows = connection.execute(
                select(collections.c.purpose, items.c.name)
                .join(items, items.c.collection_id == collections.c.id)
                .where(
                    collections.c.subject_id == subject_id,
                    collections.c.state == CollectionState.ACTIVE.value,
                    items.c.name.in_(email_items),
                )
                .order_by(collections.c.purpose, items.c.name)
            ).all()
        return [(row.purpose, row.name) for row in rows]

    def _consented_items(
        self,
        state: InForce,
        *,
        actor: Actor,
        subject_id: str,
        purpose: str,
        items: list[str] | None,
        source_ip: str | None,
        download: bool,
    ) -> list[str] | None:
        """The items to read under the consent given, or a logged NO_CONSENT refusal.

        A version in force that widened the purpose's terms needs fresh consent for what
        it added; what the consent already covered stays readable.
        """
        if not terms_changed(state, purpose):
            return items
        with self.transaction() as connection:
            wanted, missing = uncovered(
                connection,
                versions=self.versions,
                state=state,
                subject_id=subject_id,
                purpose=purpose,
                wanted=items,
            )
            if not missing:
                return wanted
            event_id = self._record_denial(
                connection,
                actor,
                "download" if download else "view",
                Reason.NO_CONSENT.value,
                subject_id=subject_id,
                **declared_names(state.loaded.policy, purpose=purpose, items=sorted(missing)),
                source_ip=source_ip,
            )
        raise AccessDenied(
            Reason.NO_CONSENT.value,
            f"{len(missing)} item(s) need the subject's fresh consent to the policy in force",
            audit_event_id=event_id,
        )

    def apply_policy_changes(self) -> int:
        """Apply the narrowing of every version now in force not applied yet (once each).

        Run by the sweep before it plans: a shorter retention moves expiries forward,
        and the values of items the version no longer declares are deleted.
        Returns how many collections' expiries moved.
        """
        now = self.clock()
        moved = 0
        with self.transaction() as connection:
            rows = connection.execute(
                select(policy_versions.c.id, policy_versions.c.n)
                .where(
                    policy_versions.c.n.is_not(None),
                    policy_versions.c.effective_at <= now,
                    policy_versions.c.applied_at.is_(None),
                )
                .order_by(policy_versions.c.n)
                .with_for_update(skip_locked=True)
            ).all()
            for row in rows:
                loaded = self.versions.loaded(row.id)
                if loaded is None:  # pragma: no cover - published texts parse
                    continue
                count = narrow_expiries(connection, versions=self.versions, new=loaded, now=now)
                dropped = drop_removed_items(connection, versions=self.versions, new=loaded)
                connection.execute(
                    update(policy_versions)
                    .where(policy_versions.c.id == row.id)
                    .values(applied_at=now)
                )
                record_event(
                    connection,
                    now=now,
                    actor="sweep",
                    actor_kind="system",
                    action="apply_policy",
                    reason=f"policy version {row.n}: {count} expiries moved forward, "
                    f"{dropped} values of items no longer declared deleted",
                )
                moved += count
        return moved


_RENEWABLE = frozenset(
    {CollectionState.ACTIVE.value, CollectionState.HELD.value, CollectionState.SUSPENDED.value}
)
