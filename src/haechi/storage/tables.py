"""Every table of Haechi, as SQLAlchemy Core.

No column holds a personal value in plaintext: item values are sealed
(``items.sealed``), lookups go through HMAC digests (``subject_lookups.digest``),
and audit events name items, never their values.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    text,
)

from haechi.storage.types import UtcDateTime

__all__ = [
    "EVENT_ID",
    "SEPARATED_SCHEMA",
    "alerts",
    "api_tokens",
    "audit_events",
    "audit_gaps",
    "audit_leaves",
    "audit_prune_permits",
    "audit_reviews",
    "collections",
    "consents",
    "data_keys",
    "destruction_batches",
    "destruction_certificates",
    "holds",
    "items",
    "metadata",
    "monitor_cursors",
    "paper_destructions",
    "policy_versions",
    "separated_items",
    "separated_keys",
    "staff",
    "staff_grant_history",
    "staff_grants",
    "staff_sessions",
    "subject_lookups",
    "subjects",
    "tree_heads",
]

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

ID = 36  # uuid4 in text form

# Audit event ids and everything that refers to them: 64-bit. At 10,000 events a
# second 2^31 ids run out in under three days; 2^63 outlast any log. On SQLite a
# primary key must be declared INTEGER to be the rowid (always 64-bit there).
EVENT_ID = BigInteger().with_variant(Integer(), "sqlite")

# Data kept under a legal hold lives apart (PIPA Art. 21(3)): a schema of its own on
# PostgreSQL, an attached database file (separated.db) on SQLite.
SEPARATED_SCHEMA = "haechi_separated"

policy_versions = Table(
    "policy_versions",
    metadata,
    Column("id", String(16), primary_key=True, comment="First 16 hex digits of content_hash"),
    Column("content_hash", String(64), nullable=False, unique=True),
    Column("label", String(100), nullable=False),
    Column("text", Text, nullable=False),
    Column("loaded_at", UtcDateTime, nullable=False),
    # Published versions (``haechi policy publish``) carry a number and their dates; a
    # file the engine merely loaded has none until it is published.
    Column("n", Integer, nullable=True, unique=True, comment="Version number, from 1"),
    Column("announced_at", UtcDateTime, nullable=True),
    Column("effective_at", UtcDateTime, nullable=True, index=True),
    Column("document_ko", Text, nullable=True, comment="The published HTML, in Korean"),
    Column("document_en", Text, nullable=True, comment="The published HTML, in English"),
    Column("published_by", String(100), nullable=True),
    Column("applied_at", UtcDateTime, nullable=True, comment="Narrowed expiries moved"),
)

subjects = Table(
    "subjects",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("created_at", UtcDateTime, nullable=False),
)

subject_lookups = Table(
    "subject_lookups",
    metadata,
    Column("digest", LargeBinary(32), primary_key=True, comment="HMAC of kind + normalised value"),
    Column("kind", String(20), nullable=False),
    # A phone may be shared by several subjects (an office line); an email is one person's.
    Column(
        "subject_id",
        String(ID),
        ForeignKey("subjects.id"),
        primary_key=True,
        nullable=False,
        index=True,
    ),
    Index(
        "ux_subject_lookups_email",
        "digest",
        unique=True,
        sqlite_where=text("kind = 'email'"),
        postgresql_where=text("kind = 'email'"),
    ),
)

collections = Table(
    "collections",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("subject_id", String(ID), ForeignKey("subjects.id"), nullable=False),
    Column("purpose", String(63), nullable=False),
    Column("state", String(20), nullable=False),
    Column("policy_version", String(16), ForeignKey("policy_versions.id"), nullable=False),
    Column("consented", Boolean, nullable=False),
    Column("collected_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("channel", String(50), nullable=False),
    Column("source", String(200), nullable=True),
    Column(
        "due_at",
        UtcDateTime,
        nullable=True,
        comment="When destruction is due: expiry, or earlier if accomplished or withdrawn",
    ),
    Column("accomplished_at", UtcDateTime, nullable=True, comment="Purpose accomplished"),
    Column("hold_until", UtcDateTime, nullable=True, comment="Separated: end of the legal hold"),
    Column(
        "key_version",
        Integer,
        nullable=False,
        server_default="0",
        comment="Data key generation: new at each re-collection, in every item's associated data",
    ),
    Index(None, "subject_id", "purpose"),
    Index(None, "state", "expires_at"),
    Index(None, "state", "due_at"),
)

data_keys = Table(
    "data_keys",
    metadata,
    Column("collection_id", String(ID), ForeignKey("collections.id"), primary_key=True),
    Column(
        "key_id",
        String(50),
        nullable=False,
        index=True,
        comment="Epoch key that wrapped it (before epochs: the master key)",
    ),
    Column("wrapped", LargeBinary, nullable=False),
    sqlite_with_rowid=False,
)

items = Table(
    "items",
    metadata,
    Column("collection_id", String(ID), ForeignKey("collections.id"), primary_key=True),
    Column("name", String(63), primary_key=True),
    Column("sealed", LargeBinary, nullable=False, comment="AES-256-GCM nonce+ciphertext+tag"),
    # Clustered by (collection, name) on SQLite: a read finds all its items in one place.
    sqlite_with_rowid=False,
)

consents = Table(
    "consents",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("subject_id", String(ID), ForeignKey("subjects.id"), nullable=False, index=True),
    Column("collection_id", String(ID), ForeignKey("collections.id"), nullable=False, index=True),
    Column("purpose", String(63), nullable=False),
    Column("granted", Boolean, nullable=False),
    Column("method", String(50), nullable=False),
    Column("source_ip", String(45), nullable=True),
    Column("text_hash", String(64), nullable=True, comment="SHA-256 of the consent text shown"),
    Column("policy_version", String(16), ForeignKey("policy_versions.id"), nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False),
)

holds = Table(
    "holds",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("collection_id", String(ID), ForeignKey("collections.id"), nullable=False, index=True),
    Column("reason", String(50), nullable=False),
    Column("placed_by", String(100), nullable=False),
    Column("placed_at", UtcDateTime, nullable=False),
    Column("released_at", UtcDateTime, nullable=True),
)

audit_events = Table(
    "audit_events",
    metadata,
    Column(
        "id", EVENT_ID, primary_key=True, autoincrement=True, comment="Event id, in insert order"
    ),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("actor", String(100), nullable=False),
    Column("actor_kind", String(20), nullable=False),
    Column("source_ip", String(45), nullable=True),
    # Found by subject through ix_audit_events_subject_id_id (rights_tables.py).
    Column("subject_id", String(ID), nullable=True),
    Column("collection_id", String(ID), nullable=True),
    Column("action", String(30), nullable=False),
    Column("purpose", String(63), nullable=True),
    Column("items", Text, nullable=False, comment="JSON list of item names, never values"),
    Column("reason", String(500), nullable=True),
    Column("outcome", String(10), nullable=False),
    Column("code", String(40), nullable=True),
    # Filled by PostgreSQL's clock_timestamp() (see migration 0003); NULL on SQLite.
    Column(
        "logged_at",
        UtcDateTime,
        nullable=True,
        comment="PostgreSQL: when the database stored the row, by its own clock",
    ),
    # Monitors look at recent windows; events arrive in time order, so this index
    # only ever grows at its right edge.
    Index(None, "occurred_at"),
    # SQLite: ids are never reused, not even after a prune removed every event.
    sqlite_autoincrement=True,
)

destruction_batches = Table(
    "destruction_batches",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("created_by", String(100), nullable=False, comment="The sweeper that destroyed"),
    Column("destroyed", Integer, nullable=False, comment="Collections destroyed so far"),
    Column("confirmed_by", String(100), nullable=True, comment="Privacy officer"),
    Column("confirmed_at", UtcDateTime, nullable=True),
)

destruction_certificates = Table(
    "destruction_certificates",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column(
        "batch_id", String(ID), ForeignKey("destruction_batches.id"), nullable=False, index=True
    ),
    # Unique: a collection is destroyed, and certified, exactly once.
    Column("collection_id", String(ID), nullable=False, unique=True),
    Column("subject_id", String(ID), nullable=False),
    Column("purpose", String(63), nullable=False),
    Column("items", Text, nullable=False, comment="JSON list of item names, never values"),
    Column("method", String(30), nullable=False),
    Column("reason", String(30), nullable=False),
    Column("due_at", UtcDateTime, nullable=False),
    Column("destroyed_at", UtcDateTime, nullable=False),
    Column("overdue", Boolean, nullable=False, comment="Destroyed after due + grace"),
    Column("confirmed_by", String(100), nullable=True),
    Column("confirmed_at", UtcDateTime, nullable=True),
)

paper_destructions = Table(
    "paper_destructions",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("description", String(500), nullable=False, comment="What, never personal values"),
    Column("method", String(20), nullable=False, comment="shredding or incineration"),
    Column("destroyed_by", String(100), nullable=False),
    Column("witness", String(100), nullable=False),
    Column("destroyed_at", UtcDateTime, nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False),
)

separated_keys = Table(
    "separated_keys",
    metadata,
    Column("collection_id", String(ID), primary_key=True),
    Column(
        "key_id",
        String(50),
        nullable=False,
        comment="Separated-store epoch key that wrapped it (before epochs: the master key)",
    ),
    Column("wrapped", LargeBinary, nullable=False),
    schema=SEPARATED_SCHEMA,
    sqlite_with_rowid=False,
)

separated_items = Table(
    "separated_items",
    metadata,
    Column("collection_id", String(ID), primary_key=True),
    Column("name", String(63), primary_key=True),
    Column("sealed", LargeBinary, nullable=False, comment="AES-256-GCM nonce+ciphertext+tag"),
    schema=SEPARATED_SCHEMA,
    sqlite_with_rowid=False,
)

# Staff, the sealed log, rights requests, complaints, incidents, key epochs and the mail
# outbox have modules of their own (for size); their tables join the same metadata and
# are importable from here.
from haechi.storage import complaints_tables as _complaints_tables  # noqa: E402, F401
from haechi.storage import incidents_tables as _incidents_tables  # noqa: E402, F401
from haechi.storage import key_tables as _key_tables  # noqa: E402, F401
from haechi.storage import mail_tables as _mail_tables  # noqa: E402, F401
from haechi.storage import report_tables as _report_tables  # noqa: E402, F401
from haechi.storage import rights_tables as _rights_tables  # noqa: E402, F401
from haechi.storage.log_tables import (  # noqa: E402
    alerts,
    audit_gaps,
    audit_leaves,
    audit_prune_permits,
    audit_reviews,
    monitor_cursors,
    tree_heads,
)
from haechi.storage.staff_tables import (  # noqa: E402
    api_tokens,
    staff,
    staff_grant_history,
    staff_grants,
    staff_sessions,
)
