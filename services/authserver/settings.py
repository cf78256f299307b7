"""Settings of the DVA authorisation server (read once, immutable)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from medmij.config import NodeSettings

__all__ = ["AuthserverSettings"]


class AuthserverSettings(NodeSettings):
    """`hostname`/`cert`/`key` are the back-channel node (token endpoint), which is also the
    identity the server uses for its own back-channel calls; the front channel has its own."""

    model_config = SettingsConfigDict(env_prefix="MEDMIJ_AUTHSERVER_", frozen=True, extra="forbid")

    dva_naam: str
    front_hostname: str = Field(description="Front-channel node: the authorization endpoint")
    zorgaanbieders: tuple[str, ...] = Field(description="Zorgaanbiedernamen this DVA serves")
