"""rights: requests people make, their one-time codes, sealed documents, holds and steps

Revision ID: 0007_rights
Revises: 0006_key_versions
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from haechi.storage.types import UtcDateTime

revision = "0007_rights"
down_revision = "0006_key_versions"
branch_labels = None
depends_on = None

_EVENT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _when(name: str, *, nullable: bool = True, comment: str | None = None) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, UtcDateTime(), nullable=nullable, comment=comment)


def upgrade() -> None:
    op.create_table(
        "rights_requests",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column(
            "requester",
            sa.String(30),
            nullable=False,
            comment="subject, legal_representative, delegate",
        ),
        sa.Column("subject_id", sa.String(36), nullable=True, comment="None: nobody on file"),
        sa.Column("contact_kind", sa.String(10), nullable=True),
        sa.Column(
            "contact_digest",
            sa.LargeBinary(32),
            nullable=True,
            comment="Blind index of the address",
        ),
        sa.Column(
            "purposes", sa.Text(), nullable=False, comment="JSON list of declared purpose ids"
        ),
        sa.Column("lang", sa.String(2), nullable=False),
        sa.Column("status_token_hash", sa.String(64), nullable=True),
        sa.Column("verification_method", sa.String(30), nullable=True),
        _when("verified_at"),
        sa.Column("verified_by", sa.String(100), nullable=True),
        _when("received_at", nullable=False),
        _when("original_due_at", nullable=False),
        _when("due_at", nullable=False),
        _when("postponed_at"),
        sa.Column("postpone_reason", sa.String(40), nullable=True),
        sa.Column("refusal_reason", sa.String(40), nullable=True),
        _when("refusal_until", comment="A legal hold's end"),
        _when("started_at"),
        _when("closed_at"),
        sa.Column(
            "outcome", sa.Text(), nullable=True, comment="JSON: ids, codes and dates, never values"
        ),
        sa.Column("delivery", sa.String(10), nullable=True, comment="mail, post or fax"),
        _when("delivered_at"),
        sa.Column(
            "alerted",
            sa.String(10),
            nullable=True,
            comment="Deadline alert raised: due_soon, overdue",
        ),
        _when("retain_until", nullable=False),
        _when("purged_at", comment="Key and documents shredded"),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_rights_requests"),
        sa.UniqueConstraint("status_token_hash", name="uq_rights_requests_status_token_hash"),
    )
    op.create_index("ix_rights_requests_subject_id", "rights_requests", ["subject_id"])
    op.create_index("ix_rights_requests_state_due_at", "rights_requests", ["state", "due_at"])
    op.create_index("ix_rights_requests_retain_until", "rights_requests", ["retain_until"])

    op.create_table(
        "rights_request_keys",
        sa.Column("request_id", sa.String(36), nullable=False),
        sa.Column("key_id", sa.String(50), nullable=False, comment="Master key that wrapped it"),
        sa.Column("wrapped", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["rights_requests.id"],
            name="fk_rights_request_keys_request_id_rights_requests",
        ),
        sa.PrimaryKeyConstraint("request_id", name="pk_rights_request_keys"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "rights_documents",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("request_id", sa.String(36), nullable=False),
        sa.Column(
            "kind", sa.String(30), nullable=False, comment="received, power_of_attorney, contact…"
        ),
        sa.Column("media_type", sa.String(100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column(
            "sealed",
            sa.LargeBinary(),
            nullable=False,
            comment="AES-256-GCM under the request's key",
        ),
        _when("created_at", nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["rights_requests.id"],
            name="fk_rights_documents_request_id_rights_requests",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_rights_documents"),
    )
    op.create_index("ix_rights_documents_request_id", "rights_documents", ["request_id"])
    op.create_table(
        "rights_codes",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("request_id", sa.String(36), nullable=False),
        sa.Column("address_digest", sa.LargeBinary(32), nullable=True),
        sa.Column("source_ip", sa.String(45), nullable=True),
        sa.Column(
            "code_hash",
            sa.LargeBinary(32),
            nullable=False,
            comment="HMAC of the code, never the code",
        ),
        _when("created_at", nullable=False),
        _when("expires_at", nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _when("used_at"),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["rights_requests.id"],
            name="fk_rights_codes_request_id_rights_requests",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_rights_codes"),
    )
    op.create_index("ix_rights_codes_request_id", "rights_codes", ["request_id"])
    op.create_index(
        "ix_rights_codes_address_digest_created_at",
        "rights_codes",
        ["address_digest", "created_at"],
    )
    op.create_index(
        "ix_rights_codes_source_ip_created_at", "rights_codes", ["source_ip", "created_at"]
    )
    op.create_table(
        "rights_holds",
        sa.Column("request_id", sa.String(36), nullable=False),
        sa.Column("hold_id", sa.String(36), nullable=False),
        sa.Column("collection_id", sa.String(36), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["rights_requests.id"],
            name="fk_rights_holds_request_id_rights_requests",
        ),
        sa.ForeignKeyConstraint(["hold_id"], ["holds.id"], name="fk_rights_holds_hold_id_holds"),
        sa.PrimaryKeyConstraint("request_id", "hold_id", name="pk_rights_holds"),
    )
    op.create_table(
        "rights_request_events",
        sa.Column("request_id", sa.String(36), nullable=False),
        sa.Column("event_id", _EVENT_ID, nullable=False, autoincrement=False),
        sa.Column("step", sa.String(30), nullable=False),
        sa.PrimaryKeyConstraint("request_id", "event_id", name="pk_rights_request_events"),
        sqlite_with_rowid=False,
    )
    # The access export's "who accessed": a person's events, newest first, by index.
    op.create_index("ix_audit_events_subject_id_id", "audit_events", ["subject_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_audit_events_subject_id_id", table_name="audit_events")
    op.drop_table("rights_request_events")
    op.drop_table("rights_holds")
    op.drop_index("ix_rights_codes_source_ip_created_at", table_name="rights_codes")
    op.drop_index("ix_rights_codes_address_digest_created_at", table_name="rights_codes")
    op.drop_index("ix_rights_codes_request_id", table_name="rights_codes")
    op.drop_table("rights_codes")
    op.drop_index("ix_rights_documents_request_id", table_name="rights_documents")
    op.drop_table("rights_documents")
    op.drop_table("rights_request_keys")
    op.drop_index("ix_rights_requests_retain_until", table_name="rights_requests")
    op.drop_index("ix_rights_requests_state_due_at", table_name="rights_requests")
    op.drop_index("ix_rights_requests_subject_id", table_name="rights_requests")
    op.drop_table("rights_requests")
