"""Settings of the DVA resource server (read once, immutable).

The stack fills them from the world (``medmij_stack.wiring.roles``); a container can give them as
``MEDMIJ_ZORGAANBIEDER_*`` environment variables, complex ones as JSON.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_settings import SettingsConfigDict

from medmij_stack.runtime.config import NodeSettings

__all__ = ["Gedrag", "ServedZorgaanbieder", "ZorgaanbiederSettings"]

# The Resource interface's norm (core.rscint.202): an answer within 60 s. A simulated hang
# lasts a little longer, so that a client that keeps to the norm gives up first.
_HANG_SECONDS = 65.0


class Gedrag(BaseModel):
    """How a zorgaanbieder misbehaves, for measurement and demos; all off by default.

    One random draw per FHIR request (seeded, so a run can be repeated) decides whether it
    hangs (``timeoutkans``: ``timeout_seconden`` of silence, then 504) or fails
    (``foutkans``: 500); ``latentie_ms`` is added to every FHIR request; ``onvolledig``
    serves synthetic records with parts left out.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    latentie_ms: Annotated[int, Field(ge=0, le=600_000)] = 0
    foutkans: Annotated[float, Field(ge=0.0, le=1.0)] = 0.0
    timeoutkans: Annotated[float, Field(ge=0.0, le=1.0)] = 0.0
    timeout_seconden: Annotated[float, Field(gt=0.0, le=600.0)] = _HANG_SECONDS
    onvolledig: bool = False

    @model_validator(mode="after")
    def _chances(self) -> Self:
        if self.foutkans + self.timeoutkans > 1.0:
            raise ValueError("foutkans + timeoutkans cannot exceed 1")
        return self

    @property
    def active(self) -> bool:
        return bool(self.latentie_ms or self.foutkans or self.timeoutkans)


class ServedZorgaanbieder(BaseModel):
    """A zorgaanbieder whose gegevensdiensten this resource server serves."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    naam: Annotated[str, Field(pattern=r"^[a-z]+@medmij$")]
    gegevensdiensten: tuple[str, ...]
    deelt: bool = True  # false: the beschikbaarheidstoets says no, searches find nothing
    nictiz: bool = False  # serves the Nictiz qualification patients, when found
    gedrag: Gedrag = Gedrag()
    # The age rule of the beschikbaarheidstoets (Verantwoordelijkheden, Zorg): younger
    # persons have nothing available here (zorgaanbieder.availability).
    minimumleeftijd: Annotated[int, Field(ge=0, le=120)] | None = None

    @property
    def bare(self) -> str:
        """The name without "@medmij", as in scopes and in the URL path."""
        return self.naam.removesuffix("@medmij")


class ZorgaanbiederSettings(NodeSettings):
    model_config = SettingsConfigDict(
        env_prefix="MEDMIJ_ZORGAANBIEDER_", frozen=True, extra="forbid"
    )

    dva_naam: str
    public_url: Annotated[str, Field(pattern=r"^https://[^/?#]+$")] = Field(
        description="Scheme, host and port of this node as peers reach it (no path)"
    )
    zorgaanbieders: tuple[ServedZorgaanbieder, ...] = Field(
        description="The zorgaanbieders served here, with their gegevensdiensten"
    )
    introspection_url: str | None = Field(
        default=None,
        description="RFC 7662 endpoint of this DVA's authorisation server (back channel)",
    )
    introspection_cache_seconds: Annotated[float, Field(ge=0.0, le=60.0)] = 5.0
    seed: int = Field(default=1, description="The world's seed: persons and their records")
    persons_count: Annotated[int, Field(ge=0, le=100_000)] = 0
    sharing_zorgaanbieders: tuple[str, ...] = Field(
        default=(),
        description="Every sharing zorgaanbieder of the world, in the world's order: "
        "medmij_stack.protocol.persons.assign_zorgaanbieders divides the persons over exactly "
        "this list",
    )
    nictiz: Path | None = Field(
        default=None, description="The Nictiz qualification material (Nictiz-testscripts)"
    )
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default a SQLite file in data_dir"
    )
    answer_cache_entries: Annotated[int, Field(ge=0)] = 20_000
    xml_cache_entries: Annotated[int, Field(ge=0)] = 100_000
    xml_prewarm_resources: Annotated[int, Field(ge=0)] = Field(
        default=5_000,
        description="Datasets up to this many resources that ask it (the qualification "
        "material) get their XML made at load time; the rest on first demand",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        names = [za.naam for za in self.zorgaanbieders]
        if len(names) != len(set(names)):
            raise ValueError("a zorgaanbieder is listed twice")
        missing = [
            za.naam
            for za in self.zorgaanbieders
            if za.deelt and not za.nictiz and za.naam not in self.sharing_zorgaanbieders
        ]
        if missing and self.persons_count:
            raise ValueError(
                f"sharing_zorgaanbieders lacks {', '.join(missing)}: nobody would have data there"
            )
        return self

    @property
    def effective_database_url(self) -> str:
        if self.database_url is not None:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'zorgaanbieder.sqlite3').resolve()}"
