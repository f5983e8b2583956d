"""Settings of a Haechi installation, one class per section.

Values come, highest first, from keyword arguments, ``HAECHI__SECTION__FIELD``
environment variables, then ``haechi.toml`` in the data directory. Domain code never
reads settings from a global: surfaces build a :class:`Settings` and pass it in.
"""

from __future__ import annotations

from contextvars import ContextVar
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

__all__ = [
    "SETTINGS_FILE",
    "CollectSettings",
    "DatabaseSettings",
    "KeySettings",
    "RetentionSettings",
    "ServerSettings",
    "Settings",
]

SETTINGS_FILE = "haechi.toml"
_settings_file: ContextVar[Path | None] = ContextVar("_settings_file", default=None)


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

    @field_validator("url")
    @classmethod
    def _known_backend(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        scheme = value.split(":", 1)[0].split("+", 1)[0]
        if scheme not in {"sqlite", "postgresql", "postgres"}:
            raise ValueError("database.url must start with sqlite:// or postgresql://")
        return value


class KeySettings(BaseModel):
    """Where the master key lives."""

    provider: str = Field(
        default="local",
        description="Key provider: 'local' (a key file in the data directory).",
    )
    master_key_file: Path | None = Field(
        default=None,
        description="Path of the master key file; empty means master.key in the data directory.",
    )


class ServerSettings(BaseModel):
    """The HTTP server of ``haechi serve``."""

    host: str = Field(default="127.0.0.1", description="Address to listen on.")
    port: int = Field(default=8000, ge=1, le=65535, description="TCP port to listen on.")
    trust_forwarded_for: bool = Field(
        default=False,
        description="Take the client address from X-Forwarded-For (only behind a proxy).",
    )


class CollectSettings(BaseModel):
    """Rules applied on every collection beyond the policy file."""

    refuse_identifiers_in_text: bool = Field(
        default=True,
        description=(
            "Refuse free-text items holding a unique identifier (resident registration, "
            "passport, driver's licence, foreign registration number)."
        ),
    )


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
            "Collections destroyed per transaction (each with its certificates). Larger "
            "chunks sweep faster (see docs/benchmarks.md) but hold SQLite's write lock, "
            "which every use() needs for its audit event, for longer."
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
    retention: RetentionSettings = Field(default_factory=RetentionSettings)

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
        probe = cls(**overrides)
        file = probe.data_dir / SETTINGS_FILE
        if not file.is_file():
            return probe
        token = _settings_file.set(file)
        try:
            return cls(**overrides)
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
    def master_key_path(self) -> Path:
        """The master key file in use."""
        return self.keys.master_key_file or self.data_dir / "master.key"


def _drop_none(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}
