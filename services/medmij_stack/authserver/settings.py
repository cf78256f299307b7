"""Settings of the DVA authorisation server (read once, immutable).

Only what is the DVA's own goes here: who it is, whom it serves, its lifetimes and its
database. What the network says (OCL, ZAL, GNL, Whitelist) is never copied into settings:
the handlers read the node's current lists on every request.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from medmij_stack.runtime.config import NodeSettings

__all__ = ["AuthserverSettings"]


def _https_base(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname or parts.query or parts.fragment:
        raise ValueError(f"must be an https URL without query or fragment, not {url!r}")
    return url.rstrip("/")


class AuthserverSettings(NodeSettings):
    """`hostname`/`cert`/`key` are the back-channel node (token endpoint), which is also the
    identity the server uses for its own back-channel calls; the front channel has its own."""

    model_config = SettingsConfigDict(env_prefix="MEDMIJ_AUTHSERVER_", frozen=True, extra="forbid")

    dva_naam: str
    dva_telefoonnummer: str = Field(
        min_length=1, description="Shown on the 'technische storing' page, which must show it"
    )
    front_hostname: str = Field(description="Front-channel node: the authorization endpoint")
    front_url: str = Field(description="https://<front_hostname>[:port], as the ZAL publishes it")
    issuer: str = Field(
        description="https://<hostname>[:port]: the back-channel node, RFC 8414 issuer"
    )
    zorgaanbieders: tuple[str, ...] = Field(description="Zorgaanbiedernamen this DVA serves")
    weergavenamen: dict[str, str] = Field(
        default_factory=dict,
        description="Zorgaanbiedernaam → the name shown to people (the ZAL carries none)",
    )
    persons_seed: int = Field(default=1, description="The world's seed for the DigiD test persons")
    persons_count: int = Field(default=12, ge=0, le=100_000)
    pkce: Literal["required", "optional"] = Field(
        default="optional", description="Whether an authorization request must carry PKCE (S256)"
    )
    allow_requests_without_state_or_pkce: bool = Field(
        default=False,
        description="Serve an authorization request that carries neither state nor PKCE "
        "(no CSRF protection at all; for a legacy client only: warned about at startup and "
        "in /health)",
    )
    availability_url: str = Field(
        description="The resource server's beschikbaarheidstoets "
        "(medmij_stack.protocol.dva_contract)"
    )
    introspection_clients: tuple[str, ...] = Field(
        default=(),
        description="Back-channel hostnames (this DVA's resource servers) that may introspect",
    )
    code_ttl_seconds: int = Field(default=900, gt=0, le=900)
    # At most 15 minutes: [SPEC-1.x] "exact 15 minuten (900 seconden)" for codes and access
    # tokens; langdurige toestemming (AS 2.0.0) added refresh tokens, not longer access tokens.
    access_token_ttl_seconds: int = Field(default=900, gt=0, le=900)
    refresh_idle_months: int = Field(
        default=6, gt=0, description="Langdurige toestemming lapses after this long unused"
    )
    flow_ttl_seconds: int = Field(
        default=900, gt=0, description="How long a person has from authorize to consent"
    )
    session_ttl_seconds: int = Field(default=3600, gt=0)
    purge_interval_seconds: float = Field(
        default=300, gt=0, description="How often expired rows are purged (authserver.housekeeping)"
    )
    purge_grace_seconds: int = Field(
        default=86_400, ge=0, description="How long past its expiry a row is kept before the purge"
    )
    purge_batch: int = Field(
        default=500, gt=0, le=10_000, description="Rows deleted per table per transaction"
    )
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default: SQLite file in data_dir"
    )

    @field_validator("front_url", "issuer", "availability_url")
    @classmethod
    def _https(cls, url: str) -> str:
        return _https_base(url)

    @property
    def warnings(self) -> tuple[str, ...]:
        """What this configuration weakens, for the startup log and /health."""
        if self.allow_requests_without_state_or_pkce:
            return (
                "authorization requests without state and without PKCE are served: "
                "their redirect carries no CSRF protection (allow_requests_without_state_or_pkce)",
            )
        return ()

    @property
    def database(self) -> str:
        """The SQLAlchemy URL of this server's own database."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{Path(self.data_dir) / 'authserver.sqlite3'}"
