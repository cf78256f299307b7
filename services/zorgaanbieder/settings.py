"""Settings of the DVA resource server (read once, immutable)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from medmij.config import NodeSettings

__all__ = ["ZorgaanbiederSettings"]


class ZorgaanbiederSettings(NodeSettings):
    model_config = SettingsConfigDict(
        env_prefix="MEDMIJ_ZORGAANBIEDER_", frozen=True, extra="forbid"
    )

    dva_naam: str
    zorgaanbieders: tuple[str, ...] = Field(description="Zorgaanbiedernamen served here")
