"""Settings of the Stelselnode (read once, immutable)."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["StelselnodeSettings"]


class StelselnodeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MEDMIJ_STELSELNODE_", frozen=True)

    hostname: str = "stelselnode.localhost"
    development: bool = False
    data_dir: Path = Path("data/stelselnode")

    @property
    def state_file(self) -> Path:
        return self.data_dir / "published.json"
