"""Settings every MedMij node shares: its identity, whom it trusts, where the lists are.

Each service's settings class extends `NodeSettings` (pydantic-settings), so a service can
be configured by the stack from a world, or by environment variables in a container.
Settings are read once and are immutable afterwards.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from medmij_stack.protocol.lists import ListKind
from medmij_stack.runtime.devpki import LeafFiles

__all__ = ["NodeSettings"]


class NodeSettings(BaseSettings):
    """What a node needs to take part in the MedMij network."""

    model_config = SettingsConfigDict(frozen=True, extra="forbid")

    development: bool = False
    hostname: str = Field(description="The node's own hostname: CN and SAN of its certificate")
    cert: Path = Field(description="PEM: the node's certificate followed by its intermediate")
    key: Path = Field(description="PEM: the node's private key")
    trust: tuple[Path, ...] = Field(description="CA files that peers' certificates chain to")
    hosts: dict[str, str] = Field(
        default_factory=dict,
        description="hostname → address for the node's own outgoing calls (dev worlds)",
    )
    lists: dict[ListKind, str] = Field(description="URL of each MedMij list at the Stelselnode")
    lists_refresh_seconds: float = Field(default=900, gt=0, le=900)
    lists_wait_seconds: float = Field(
        default=0,
        ge=0,
        le=300,
        description="At start, wait up to this long for every list before serving: for a "
        "process that joins a role others already serve (a further worker or replica), "
        "which would otherwise take connections it can only refuse until its lists arrive",
    )
    data_dir: Path = Path("data")
    collector_url: str | None = Field(
        default=None,
        pattern=r"^https://",
        description="Where the node delivers its ketenlog (the collector's delivery URL, "
        "medmij_stack.runtime.ketenlog_delivery); None: no delivery",
    )

    @model_validator(mode="after")
    def _all_lists(self) -> NodeSettings:
        missing = [kind.name for kind in ListKind if kind not in self.lists]
        if missing:
            raise ValueError(f"no URL for list(s): {', '.join(missing)}")
        return self

    @property
    def identity(self) -> LeafFiles:
        return LeafFiles(cert=self.cert, key=self.key)
