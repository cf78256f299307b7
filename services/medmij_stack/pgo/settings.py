"""Settings of the PGO server (read once, immutable)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from medmij_stack.runtime.config import NodeSettings

__all__ = ["PgoSettings"]


class PgoSettings(NodeSettings):
    model_config = SettingsConfigDict(env_prefix="MEDMIJ_PGO_", frozen=True, extra="forbid")

    naam: str = Field(description="OAuthclientOrganisatienaam on the OCL")
    public_url: str = Field(description="https://<OCL hostname>[:port]: base of redirect URIs")
