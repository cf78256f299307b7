"""Settings of the collector (read once, immutable)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from medmij_stack.runtime.config import NodeSettings

__all__ = ["EAGLEEYE_MAX_BYTES", "CollectorSettings", "database_url_in"]

EAGLEEYE_MAX_BYTES = 62_914_560
"""EagleEye's largest message, "60 MB / 62.914.560 karakters" (Implementatiehandleiding
ketenlogging en monitoring AS v2.2.X,
https://documentatie.medmij.nl/ketenmonitoring-en-logging-aanvullende-documentatie/actueel/implementatie-handleiding-ketenlogging-en-monitori).
Counted here in bytes of the body, which is never fewer than its characters."""


class CollectorSettings(NodeSettings):
    model_config = SettingsConfigDict(env_prefix="MEDMIJ_COLLECTOR_", frozen=True, extra="forbid")

    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default: SQLite file in data_dir"
    )
    max_batch_bytes: int = Field(
        default=EAGLEEYE_MAX_BYTES, gt=0, description="Largest batch body taken (413 beyond)"
    )
    max_batch_records: int = Field(
        default=10_000, gt=0, le=100_000, description="Most entries in one batch (413 beyond)"
    )
    max_read_records: int = Field(
        default=1000, gt=0, le=10_000, description="Most records in one page of GET /v1/records"
    )
    locations: dict[str, tuple[str, ...]] = Field(
        default_factory=dict,
        description="Sender host → the other host names it may record events under "
        "(an authorisation server's front channel is served by the process whose certificate "
        "is its back channel's)",
    )
    readers: tuple[str, ...] = Field(
        default=(),
        description="Hosts that may read every sender's records over GET /v1/records; every "
        "other host on the Whitelist reads only what it delivered itself",
    )

    @field_validator("locations")
    @classmethod
    def _lower_locations(cls, value: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        return {k.lower(): tuple(v.lower() for v in names) for k, names in value.items()}

    @field_validator("readers")
    @classmethod
    def _lower_readers(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(name.lower() for name in value)

    @property
    def database(self) -> str:
        """The SQLAlchemy URL of the collector's own database."""
        if self.database_url:
            return self.database_url
        return database_url_in(Path(self.data_dir))


def database_url_in(data_dir: Path) -> str:
    """The default database of a collector whose data dir is ``data_dir`` (for a report that
    reads it directly, as ``medmij report --data-dir`` may)."""
    return f"sqlite:///{data_dir / 'collector.sqlite3'}"
