"""Settings of the PGO server (read once, immutable).

Only what is the PGO's own goes here: who it is, its database, its lifetimes and time
limits, and the demo accounts of a local world. What the network says (ZAL, GNL, OCL,
Whitelist) is never copied into settings: the pages read the node's current lists.
"""

from __future__ import annotations

from pathlib import Path
from typing import Self
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from medmij_stack.runtime.config import NodeSettings

__all__ = ["CALLBACK_PATH", "DemoAccount", "PgoSettings"]

CALLBACK_PATH = "/medmij/terug"
"""The redirect URI's path: ``public_url + CALLBACK_PATH`` on the PGO's OCL hostname."""


class DemoAccount(BaseModel):
    """An account the PGO makes at start-up when it does not exist (a local world's demo)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    gebruikersnaam: str
    wachtwoord: str
    naam: str


class PgoSettings(NodeSettings):
    model_config = SettingsConfigDict(env_prefix="MEDMIJ_PGO_", frozen=True, extra="forbid")

    naam: str = Field(description="OAuthclientOrganisatienaam on the OCL")
    public_url: str = Field(description="https://<OCL hostname>[:port]: base of redirect URIs")
    helpdesk: str | None = Field(
        default=None,
        description="How a person reaches the PGO's helpdesk (shown on error pages), "
        "e.g. a phone number; default: 'de helpdesk van <naam>'",
    )
    weergavenamen: dict[str, str] = Field(
        default_factory=dict,
        description="Zorgaanbiedernaam → the name people search for (the ZAL carries none)",
    )
    demo_accounts: tuple[DemoAccount, ...] = Field(
        default=(), description="Accounts made at start-up when missing (local worlds only)"
    )
    simulated_accounts: bool = Field(
        default=False,
        description="The demo accounts are a simulation world's synthetic persons: hashed "
        "at passwords.SIMULATED, the cheapest cost, instead of passwords.DEMO (development "
        "worlds only)",
    )
    workers: int = Field(
        default=1,
        ge=1,
        description="How many processes serve this PGO (medmij serve pgo --workers): with "
        "more than one, a retrieval another worker runs is known by its heartbeat",
    )
    leader: bool = Field(
        default=True,
        description="This process does the PGO's once-only work: the demo accounts, ending "
        "what a killed process left under way, and the background job (sweeps, refreshes "
        "of langdurige toestemming). False in every worker process but the first",
    )
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default: SQLite file in data_dir"
    )
    token_key_file: Path | None = Field(
        default=None,
        description="32-byte key that seals refresh tokens at rest; default: made in data_dir",
    )
    password_cost: int = Field(
        default=17, ge=14, le=20, description="scrypt cost of new passwords: log2 of N"
    )
    session_idle_seconds: int = Field(default=1800, gt=0, description="Logged out when idle")
    session_max_seconds: int = Field(default=12 * 3600, gt=0, description="Logged out anyway")
    state_ttl_seconds: int = Field(
        default=900, gt=0, le=3600, description="How long a person has at the DVA"
    )
    abandon_after_seconds: int = Field(
        default=1800,
        gt=0,
        description="An attempt that stops at the search (or at the DVA) this long is ended "
        "as abandoned",
    )
    login_failures_before_lock: int = Field(default=5, gt=0)
    login_lock_seconds: int = Field(
        default=60, gt=0, description="First lock-out; doubles with every further failure"
    )
    login_lock_max_seconds: int = Field(default=3600, gt=0)
    token_timeout_seconds: float = Field(
        default=10, gt=0, description="Token, refresh, revocation and metadata requests"
    )
    resource_timeout_seconds: float = Field(default=30, gt=0, description="Each FHIR request")
    resource_max_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    resource_concurrency: int = Field(default=4, gt=0, le=32)
    callback_wait_seconds: float = Field(
        default=20,
        ge=0,
        description="How long the callback waits for the retrieval before showing "
        "'bezig' (the retrieval goes on in the background)",
    )
    consent_refresh_days: int = Field(
        default=30,
        gt=0,
        le=170,
        description="Langdurige toestemming: the PGO refreshes data this long after the last "
        "retrieval, well before the DVA's six-month lapse",
    )
    consent_lapse_months: int = Field(
        default=6, gt=0, description="The DVA lets a langdurige toestemming lapse after this"
    )
    refresh_concurrency: int = Field(
        default=4,
        ge=1,
        le=64,
        description="Langdurige toestemming: how many due refreshes run at once, so that a "
        "slow or hanging DVA holds up only its own",
    )
    background_interval_seconds: float = Field(
        default=300, gt=0, description="How often the refresh job and the sweeps run"
    )
    staged_results_max_age_seconds: int = Field(
        default=24 * 3600,
        gt=0,
        description="A retry reuses the queries that succeeded before for this long",
    )

    @field_validator("public_url")
    @classmethod
    def _https_base(cls, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme != "https" or not parts.hostname or parts.query or parts.fragment:
            raise ValueError(f"must be an https URL without query or fragment, not {url!r}")
        return url.rstrip("/")

    @model_validator(mode="after")
    def _simulated_only_in_development(self) -> Self:
        # The cheapest hash is for made-up persons with published passwords: a world that
        # could hold real people never gets it.
        if self.simulated_accounts and not self.development:
            raise ValueError("simulated_accounts needs development = true")
        return self

    @property
    def redirect_uri(self) -> str:
        return self.public_url + CALLBACK_PATH

    @property
    def database(self) -> str:
        """The SQLAlchemy URL of the PGO's own database."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{Path(self.data_dir) / 'pgo.sqlite3'}"

    @property
    def token_key_path(self) -> Path:
        return self.token_key_file or Path(self.data_dir) / "pgo-token.key"

    @property
    def helpdesk_text(self) -> str:
        return self.helpdesk or f"de helpdesk van {self.naam}"
