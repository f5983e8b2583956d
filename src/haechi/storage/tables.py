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
    Column("key_id", String(50), nullable=False, comment="Master key that wrapped it"),
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
    Column("subject_id", String(ID), nullable=True, index=True),
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

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("purposes", Text, nullable=False, comment="JSON list of purpose ids"),
    Column("created_by", String(100), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime, nullable=True),
)

staff = Table(
    "staff",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("username", String(100), nullable=False, unique=True),
    Column("role", String(30), nullable=False),
    Column("password_hash", String(200), nullable=False),
    Column("must_change_password", Boolean, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("failed_logins", Integer, nullable=False, server_default="0"),
    Column("locked_at", UtcDateTime, nullable=True),
    Column("disabled_at", UtcDateTime, nullable=True),
    Column("totp_sealed", LargeBinary, nullable=True, comment="AES-256-GCM sealed TOTP secret"),
    Column("totp_last_step", Integer, nullable=True, comment="Last TOTP time step accepted"),
    Column("last_login_at", UtcDateTime, nullable=True),
)

staff_grants = Table(
    "staff_grants",
    metadata,
    Column("staff_id", String(ID), ForeignKey("staff.id"), primary_key=True),
    Column("purpose", String(63), primary_key=True),
    Column("granted_by", String(100), nullable=False),
    Column("granted_at", UtcDateTime, nullable=False),
)

# Append-only (database triggers refuse UPDATE and DELETE) and kept at least three
# years (Standards Art. 5): no code path deletes from it. No foreign key, so the record
# outlives the account it describes.
staff_grant_history = Table(
    "staff_grant_history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("staff_id", String(ID), nullable=False, index=True),
    Column("username", String(100), nullable=False),
    Column("change", String(20), nullable=False, comment="create, grant, revoke, role, disable"),
    Column("purpose", String(63), nullable=True),
    Column("role", String(30), nullable=True, comment="The role after the change"),
    Column("changed_by", String(100), nullable=False),
    Column("reason", String(500), nullable=False),
)

staff_sessions = Table(
    "staff_sessions",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("staff_id", String(ID), ForeignKey("staff.id"), nullable=False, index=True),
    Column("source_ip", String(45), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_seen_at", UtcDateTime, nullable=False),
    Column("ended_at", UtcDateTime, nullable=True),
)

# -- the tamper-evident log --------------------------------------------------------

audit_leaves = Table(
    "audit_leaves",
    metadata,
    Column("leaf_index", BigInteger, primary_key=True, autoincrement=False),
    Column("event_id", EVENT_ID, nullable=False, unique=True),
    Column("leaf_hash", LargeBinary(32), nullable=False, comment="SHA-256(0x00 ‖ entry)"),
)

tree_heads = Table(
    "tree_heads",
    metadata,
    Column("size", BigInteger, primary_key=True, autoincrement=False),
    Column("root", LargeBinary(32), nullable=False),
    Column("signed_at", UtcDateTime, nullable=False),
    Column("prev_hash", LargeBinary(32), nullable=False),
    Column("key_id", String(64), nullable=False),
    Column("signature", LargeBinary(64), nullable=False),
    Column("compact", LargeBinary, nullable=False, comment="Right-edge subtree roots at size"),
    Column("pruned_below", BigInteger, nullable=False, comment="First leaf kept; signed"),
    Column(
        "sealed_through",
        EVENT_ID,
        nullable=False,
        comment="Every event with a smaller or equal id is sealed by this head",
    ),
)

audit_prune_permits = Table(
    "audit_prune_permits",
    metadata,
    Column("upto_event", EVENT_ID, primary_key=True, autoincrement=False),
    Column("upto_leaf", BigInteger, nullable=False),
    comment="Rows live only inside a prune transaction: they let its deletions through",
)

# PostgreSQL: ids below the sealer's high mark that no committed event held when it
# looked (a transaction still open, or rolled back). See haechi.audit.sealer.
audit_gaps = Table(
    "audit_gaps",
    metadata,
    Column("low", EVENT_ID, primary_key=True, autoincrement=False),
    Column("high", EVENT_ID, nullable=False),
    Column(
        "horizon",
        BigInteger,
        nullable=False,
        comment="First transaction id not yet assigned when the gap was found",
    ),
    Column("found_at", UtcDateTime, nullable=False, comment="By the database's own clock"),
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("rule", String(40), nullable=False),
    Column("actor", String(100), nullable=False),
    Column("raised_at", UtcDateTime, nullable=False),
    Column("window_start", UtcDateTime, nullable=False),
    Column("window_end", UtcDateTime, nullable=False),
    Column("detail", Text, nullable=False, comment="JSON: counts and event ids, never values"),
    Column("mailed_at", UtcDateTime, nullable=True),
    Index(None, "raised_at"),
)

monitor_cursors = Table(
    "monitor_cursors",
    metadata,
    Column("name", String(40), primary_key=True),
    Column("next_leaf", BigInteger, nullable=False, comment="Next sealed leaf to look at"),
)

audit_reviews = Table(
    "audit_reviews",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("month", String(7), nullable=False, index=True),
    Column("reviewer", String(100), nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False),
    Column("notes", Text, nullable=False),
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
    Column("key_id", String(50), nullable=False, comment="Master key that wrapped it"),
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

# The rights domain's tables join the same metadata (a module of their own for size).
from haechi.storage import rights_tables as _rights_tables  # noqa: E402, F401
