"""Settings of a Haechi installation, one class per section.

Values come, highest first, from keyword arguments, ``HAECHI__SECTION__FIELD``
environment variables, then ``haechi.toml`` in the data directory. Domain code never
reads settings from a global: surfaces build a :class:`Settings` and pass it in.
"""

from __future__ import annotations

import re
import tomllib
from contextvars import ContextVar
from datetime import time
from ipaddress import ip_network
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import (
    BaseModel,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)

from haechi.errors import ConfigurationError, Problem

__all__ = [
    "ARGON2_MIN_MEMORY_KIB",
    "ARGON2_MIN_PARALLELISM",
    "ARGON2_MIN_TIME_COST",
    "SETTINGS_FILE",
    "AuditSettings",
    "AuthSettings",
    "CollectSettings",
    "DatabaseSettings",
    "KeySettings",
    "MailSettings",
    "MonitorSettings",
    "RetentionSettings",
    "ServerSettings",
    "Settings",
]

SETTINGS_FILE = "haechi.toml"
#: OWASP's minimum Argon2id parameters, the floors of the ``auth`` settings
ARGON2_MIN_TIME_COST = 2
ARGON2_MIN_MEMORY_KIB = 19 * 1024
ARGON2_MIN_PARALLELISM = 1
_settings_file: ContextVar[Path | None] = ContextVar("_settings_file", default=None)
# The date part of an ISO-8601 duration; the policy's parser reads it (zero allowed).
_DURATION = re.compile(r"P(?:\d{1,4}Y)?(?:\d{1,4}M)?(?:\d{1,4}W)?(?:\d{1,5}D)?")


class DatabaseSettings(BaseModel):
    """Where Haechi keeps its tables."""

    url: str | None = Field(
        default=None,
        description=(
            "SQLAlchemy URL (sqlite:///… or postgresql://…). Empty means the embedded "
            "SQLite file haechi.db in the data directory."
        ),
    )
    echo: bool = Field(default=False, description="Log every SQL statement (never values).")
    locks_url: str | None = Field(
        default=None,
        description=(
            "PostgreSQL URL for the background jobs' session advisory locks, when "
            "database.url goes through a pooler in transaction mode (pgbouncer): this "
            "one must reach PostgreSQL directly or in session mode. Empty: database.url."
        ),
    )
    pool_size: int = Field(
        default=20,
        ge=1,
        le=1000,
        description=(
            "Connections each server process keeps open. At least server.threads, so "
            "that a request never waits for, or opens and closes, a connection of its own."
        ),
    )
    max_overflow: int = Field(
        default=10,
        ge=0,
        le=1000,
        description=(
            "Connections a process may open beyond pool_size at a peak (closed again "
            "after use). Budget: processes × (pool_size + max_overflow) per database."
        ),
    )

    checkpoint_interval_seconds: float = Field(
        default=0.25,
        ge=0,
        le=60,
        description=(
            "SQLite: how often `haechi serve` checkpoints the WAL into the database file "
            "in a background job, so that no request waits for it. Its own connections "
            "then leave SQLite's automatic checkpoint to a WAL of 10,000 pages, as a "
            "bound. 0: every commit that passes 1,000 pages checkpoints (SQLite's "
            "default, as the CLI always does)."
        ),
    )

    @field_validator("url", "locks_url")
    @classmethod
    def _known_backend(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        scheme = value.split(":", 1)[0].split("+", 1)[0]
        if scheme not in {"sqlite", "postgresql", "postgres"}:
            raise ValueError("database.url must start with sqlite:// or postgresql://")
        return value


class KeySettings(BaseModel):
    """Where the keys live, and how long copies of the database may be kept (docs/keys.md)."""

    provider: Literal["local", "pkcs11"] = Field(
        default="local",
        description=(
            "Key provider: 'local' (the master key file and the key directory) or 'pkcs11' "
            "(a PKCS#11 token: SoftHSM2, a hardware or cloud HSM)."
        ),
    )
    master_key_file: Path | None = Field(
        default=None,
        description="Path of the master key file; empty means master.key in the data directory.",
    )
    directory: Path | None = Field(
        default=None,
        description=(
            "Local key directory holding the epoch keys (0700, one 0600 file each); empty "
            "means keys/ in the data directory. Back it up apart from the database."
        ),
    )
    backup_window: str = Field(
        default="P30D",
        description=(
            "ISO-8601 duration (P30D, P2W, P0D): the longest time any copy of the key "
            "directory or token is kept. Data destroyed at T is unreadable in every copy of "
            "the database from T + this on; epoch keys are destroyed that long after."
        ),
    )
    job_interval_seconds: int = Field(
        default=600,
        ge=0,
        description=(
            "How often `haechi serve` runs the key job (rotate epochs whose keys were "
            "shredded, destroy expired epoch keys), in seconds; 0 disables it."
        ),
    )
    chunk_size: int = Field(
        default=1000,
        ge=1,
        le=50_000,
        description="Data keys re-wrapped per transaction by the key job.",
    )
    pkcs11_library: Path | None = Field(
        default=None,
        description="PKCS#11 module (.so) of the token, e.g. /usr/lib/softhsm/libsofthsm2.so.",
    )
    pkcs11_token: str = Field(
        default="haechi",
        min_length=1,
        max_length=32,
        description="Label of the PKCS#11 token that holds the keys.",
    )
    pkcs11_pin: SecretStr | None = Field(
        default=None,
        description="User PIN of the token; set it by HAECHI__KEYS__PKCS11_PIN, not in a file.",
    )

    @field_validator("backup_window")
    @classmethod
    def _duration(cls, value: str) -> str:
        text = value.strip().upper()
        if not _DURATION.fullmatch(text) or text == "P":
            raise ValueError("keys.backup_window must be an ISO-8601 duration such as P30D")
        return text

    @model_validator(mode="after")
    def _pkcs11_complete(self) -> KeySettings:
        if self.provider == "pkcs11" and (self.pkcs11_library is None or self.pkcs11_pin is None):
            raise ValueError("the pkcs11 provider needs keys.pkcs11_library and keys.pkcs11_pin")
        return self


class ServerSettings(BaseModel):
    """The HTTP server of ``haechi serve``."""

    host: str = Field(default="127.0.0.1", description="Address to listen on.")
    port: int = Field(default=8000, ge=1, le=65535, description="TCP port to listen on.")
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description=(
            "CIDR networks of the reverse proxies in front of the server. Only a request "
            "arriving from one of them may name its client in X-Forwarded-For; the client "
            "is then the rightmost address that is not a listed proxy. Empty: the header "
            "is ignored and the socket peer is the client."
        ),
    )
    max_body_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        le=64 * 1024 * 1024,
        description="Largest request body accepted (bytes); a larger one is refused with 413.",
    )
    body_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        le=600,
        description="Longest wait for the next part of a request body; a stalled one gets 408.",
    )
    threads: int = Field(
        default=16,
        ge=1,
        le=1000,
        description=(
            "Worker threads of each server process that run requests' database work "
            "(at most database.pool_size)."
        ),
    )
    header_timeout_seconds: float = Field(
        default=10,
        gt=0,
        le=600,
        description=(
            "Longest time a request's line and headers may take to arrive (and a new "
            "connection to send its first request); a slower one gets 408."
        ),
    )
    collect_threads: int | None = Field(
        default=None,
        ge=1,
        le=1000,
        description=(
            "Collections each server process works on at once, in as many of "
            "server.threads; the others wait their turn holding no thread. Unset: 1 on "
            "SQLite, where threads collecting side by side cost more CPU than they "
            "overlap, and server.threads on PostgreSQL."
        ),
    )
    workers: int = Field(
        default=1,
        ge=1,
        le=64,
        description="Server processes sharing the port (`haechi serve --workers`).",
    )

    @model_validator(mode="before")
    @classmethod
    def _renamed(cls, data: Any) -> Any:
        if isinstance(data, dict) and "trust_forwarded_for" in data:
            raise ValueError(
                "server.trust_forwarded_for is replaced by server.trusted_proxies: "
                'list the CIDRs of your proxies (e.g. ["127.0.0.1/32"])'
            )
        return data

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, value: list[str]) -> list[str]:
        return _cidrs("server.trusted_proxies", value)


class CollectSettings(BaseModel):
    """Rules applied on every collection beyond the policy file."""

    refuse_identifiers_in_text: bool = Field(
        default=True,
        description=(
            "Refuse free-text items holding a unique identifier (resident registration, "
            "passport, driver's licence, foreign registration number)."
        ),
    )


class AuditSettings(BaseModel):
    """The tamper-evident access log and its monitors."""

    seal_interval_seconds: float = Field(
        default=1.0,
        gt=0,
        le=3600,
        description="How often `haechi serve` seals new events under a signed tree head.",
    )
    seal_batch: int = Field(
        default=50_000, ge=1, description="Most events sealed under one tree head."
    )
    seal_margin_seconds: int = Field(
        default=60,
        ge=1,
        description=(
            "PostgreSQL: how long an id the sealer skipped over stays awaited after every "
            "transaction that could hold it has finished. Late commits are sealed whenever "
            "they come; this only holds back the signed watermark."
        ),
    )
    large_installation_subjects: int = Field(
        default=50_000,
        ge=1,
        description="From this many subjects the access log is kept at least two years.",
    )


class MonitorSettings(BaseModel):
    """Thresholds of the access-log monitors (the policy's intrusion detection)."""

    interval_seconds: float = Field(
        default=30.0, gt=0, description="How often `haechi serve` runs the monitors."
    )
    distinct_subjects_per_hour: int = Field(
        default=100, ge=1, description="Alert when one actor reads more subjects in an hour."
    )
    denied_burst: int = Field(
        default=10, ge=1, description="Alert on this many refused decisions by one actor…"
    )
    denied_window_minutes: int = Field(default=10, ge=1, description="…within this many minutes.")
    failed_logins: int = Field(
        default=5, ge=1, description="Alert on this many failed logins for one account…"
    )
    failed_login_window_minutes: int = Field(
        default=10, ge=1, description="…within this many minutes."
    )
    workday_start: str = Field(
        default="09:00", pattern=r"^\d\d:\d\d$", description="Working hours start (HH:MM)."
    )
    workday_end: str = Field(
        default="19:00", pattern=r"^\d\d:\d\d$", description="Working hours end (HH:MM)."
    )
    workdays: list[int] = Field(
        default=[0, 1, 2, 3, 4], description="Working days, 0 = Monday … 6 = Sunday."
    )
    timezone: str = Field(default="Asia/Seoul", description="Time zone of the working hours.")

    @field_validator("workday_start", "workday_end")
    @classmethod
    def _clock_time(cls, value: str) -> str:
        try:
            time.fromisoformat(value)
        except ValueError:
            raise ValueError("a time of day is HH:MM, from 00:00 to 23:59") from None
        return value

    @field_validator("workdays")
    @classmethod
    def _weekdays(cls, value: list[int]) -> list[int]:
        if any(not 0 <= day <= 6 for day in value):
            raise ValueError("working days are 0 (Monday) to 6 (Sunday)")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        # ZoneInfo also opens paths: only plain IANA names are looked up.
        if not value or value.startswith(("/", ".")) or ".." in value:
            raise ValueError("not an IANA time zone name (e.g. Asia/Seoul)")
        try:
            ZoneInfo(value)
        except (KeyError, ValueError, OSError):  # ZoneInfoNotFoundError is a KeyError
            raise ValueError("not an IANA time zone name (e.g. Asia/Seoul)") from None
        return value


class MailSettings(BaseModel):
    """Outgoing mail (alerts to the privacy officer, notices, one-time codes)."""

    smtp_host: str | None = Field(default=None, description="SMTP server; empty disables mail.")
    smtp_port: int = Field(default=25, ge=1, le=65535, description="SMTP port.")
    starttls: bool = Field(default=False, description="Upgrade the connection with STARTTLS.")
    username: str | None = Field(default=None, description="SMTP login, if the server needs one.")
    password: str | None = Field(default=None, description="SMTP password.")
    sender: str = Field(
        default="haechi@localhost", description="From address of the mail Haechi sends."
    )
    outbox_interval_seconds: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description=(
            "How often `haechi serve` sends what waits in the mail outbox (mail the SMTP "
            "server did not take at once); each message also backs off on its own."
        ),
    )


class AuthSettings(BaseModel):
    """Staff logins: passwords, lockout, second factor, sessions (Standards Art. 5-6)."""

    password_min_length: int = Field(
        default=10, ge=8, le=128, description="A password of this many characters is accepted."
    )
    password_short_min_length: int = Field(
        default=8,
        ge=8,
        le=128,
        description="A shorter password is accepted from this length when it mixes classes.",
    )
    password_short_min_classes: int = Field(
        default=2,
        ge=1,
        le=4,
        description=(
            "Character classes (lower case, upper case, digits, others) a short password must mix."
        ),
    )
    lockout_threshold: int = Field(
        default=5,
        ge=1,
        le=100,
        description="Consecutive failed logins that lock an account until the officer unlocks it.",
    )
    trusted_networks: list[str] = Field(
        default_factory=lambda: ["127.0.0.0/8", "::1/128"],
        description=(
            "CIDR networks staff may log in from with a password alone; from anywhere "
            "else a TOTP code is required as well."
        ),
    )
    idle_timeout_minutes: int = Field(
        default=30, ge=1, le=1440, description="A staff session idle this long ends."
    )
    # The floors are OWASP's minimum for Argon2id (Password Storage Cheat Sheet:
    # m = 19 MiB, t = 2, p = 1); below them a stolen hash file is cheap to attack.
    argon2_time_cost: int = Field(
        default=3,
        ge=ARGON2_MIN_TIME_COST,
        le=20,
        description="Argon2id iterations for password hashes (at least 2).",
    )
    argon2_memory_cost_kib: int = Field(
        default=65536,
        ge=ARGON2_MIN_MEMORY_KIB,
        le=4 * 1024 * 1024,
        description="Argon2id memory per password hash, in KiB (at least 19456, 19 MiB).",
    )
    argon2_parallelism: int = Field(
        default=4,
        ge=ARGON2_MIN_PARALLELISM,
        le=16,
        description="Argon2id lanes per password hash (at least 1).",
    )
    totp_issuer: str = Field(
        default="Haechi",
        min_length=1,
        max_length=50,
        description="Issuer name shown by authenticator apps next to the account.",
    )

    @field_validator("trusted_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        return _cidrs("auth.trusted_networks", value)


class RetentionSettings(BaseModel):
    """The retention sweep (the grace period itself is in the policy: destruction.grace_days)."""

    sweep_interval_seconds: int = Field(
        default=3600,
        ge=0,
        description="How often `haechi serve` runs the sweep, in seconds; 0 disables it.",
    )
    chunk_size: int = Field(
        default=2000,
        ge=1,
        le=50_000,
        description=(
            "Most collections destroyed per transaction (each with its certificates). "
            "Larger chunks sweep faster (see docs/benchmarks.md) but hold SQLite's write "
            "lock, which every use() needs for its audit event, for longer; on SQLite "
            "chunks are also sized to hold it about 20 ms each."
        ),
    )


class Settings(BaseSettings):
    """All settings of one installation."""

    model_config = SettingsConfigDict(
        env_prefix="HAECHI__",
        env_nested_delimiter="__",
        extra="forbid",
    )

    data_dir: Path = Field(
        default=Path("haechi-data"),
        description="Data directory: settings, policy, keys and the SQLite database.",
    )
    policy_file: Path | None = Field(
        default=None,
        description="Policy file; empty means policy.toml in the data directory.",
    )
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    keys: KeySettings = Field(default_factory=KeySettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    collect: CollectSettings = Field(default_factory=CollectSettings)
    audit: AuditSettings = Field(default_factory=AuditSettings)
    monitor: MonitorSettings = Field(default_factory=MonitorSettings)
    mail: MailSettings = Field(default_factory=MailSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)

    @model_validator(mode="after")
    def _threads_within_pool(self) -> Settings:
        if self.server.threads > self.database.pool_size:
            raise ValueError(
                f"server.threads ({self.server.threads}) must not exceed "
                f"database.pool_size ({self.database.pool_size})"
            )
        lane = self.server.collect_threads
        if lane is not None and lane > self.server.threads:
            raise ValueError(
                f"server.collect_threads ({lane}) must not exceed "
                f"server.threads ({self.server.threads})"
            )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Keyword arguments beat the environment, which beats the data directory's file."""
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        file = _settings_file.get()
        if file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=file))
        return tuple(sources)

    @classmethod
    def load(cls, data_dir: Path | None = None, **overrides: Any) -> Settings:
        """Build settings for ``data_dir``, reading its ``haechi.toml`` when present."""
        overrides = _drop_none(overrides)
        if data_dir is not None:
            overrides["data_dir"] = data_dir
        probe = _validated(cls, overrides, source="settings")
        file = probe.data_dir / SETTINGS_FILE
        if not file.is_file():
            return probe
        token = _settings_file.set(file)
        try:
            return _validated(cls, overrides, source=str(file))
        finally:
            _settings_file.reset(token)

    @property
    def database_url(self) -> str:
        """The database URL in use, defaulting to the embedded SQLite file."""
        if self.database.url:
            return self.database.url
        return f"sqlite:///{(self.data_dir / 'haechi.db').resolve()}"

    @property
    def policy_path(self) -> Path:
        """The policy file in use."""
        return self.policy_file or self.data_dir / "policy.toml"

    @property
    def signing_key_path(self) -> Path:
        """The tree-head signing key, beside the master key."""
        return self.master_key_path.parent / "signing.key"

    @property
    def master_key_path(self) -> Path:
        """The master key file in use."""
        return self.keys.master_key_file or self.data_dir / "master.key"

    @property
    def key_directory(self) -> Path:
        """The local key directory (epoch keys), apart from the database files."""
        return self.keys.directory or self.data_dir / "keys"


def _cidrs(setting: str, value: list[str]) -> list[str]:
    for network in value:
        try:
            ip_network(network, strict=False)
        except ValueError:
            raise ValueError(f"{setting}: {network!r} is not a CIDR") from None
    return value


def _drop_none(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


def _validated(cls: type[Settings], overrides: dict[str, Any], *, source: str) -> Settings:
    """``cls(**overrides)``, a validation failure raised as one error naming every field."""
    try:
        return cls(**overrides)
    except tomllib.TOMLDecodeError as exc:
        # The parser's message gives the line and column, never the text around them.
        raise ConfigurationError(f"{source}: malformed TOML: {exc}") from None
    except UnicodeDecodeError:
        raise ConfigurationError(f"{source}: not UTF-8 text") from None
    except SettingsError:
        # An environment variable that is not the JSON its field needs (the value unsaid).
        raise ConfigurationError(
            f"{source}: a HAECHI__ environment variable cannot be parsed (lists are JSON)"
        ) from None
    except ValidationError as exc:
        # Pydantic's own text repeats the input value (a password, for one): only the
        # field's location and the rule it breaks are kept.
        problems = tuple(
            Problem(
                field=".".join(str(part) for part in error["loc"]),
                code="INVALID_SETTING",
                message=error["msg"],
            )
            for error in exc.errors(include_url=False, include_input=False)
        )
        first = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise ConfigurationError(
            f"{source}: {first.field}: {first.message}{more}", field=first.field, problems=problems
        ) from None
