"""Scenarios of ``medmij simulate``: a behaviour model per scenario, as plain TOML data.

A scenario file (``<name>.toml`` next to this module, or any path) holds:

``[scenario]``        ``description``; ``only_known`` (true: a person only ever chooses a
                      zorgaanbieder that holds their data, as ``baseline`` does);
                      ``complete_target``: the share of users expected to complete every
                      step (:mod:`medmij_stack.wiring.completion`), also per ``[[pgo]]``
``[population]``      ``attempts_per_month``: weights of 0, 1, 2, … attempts a user makes in
                      a month; ``devices``: weights of ``app``, ``pc``, ``web``
``[zorgaanbieders]``  choice weights by Zorgaanbiedernaam (the one that shares nothing too)
``[[pgo]]``           ``hostname``, ``weight`` (share of the users) and ``[pgo.steps]``: the
                      chance, at each step a person reaches, of each way out (see
                      :class:`Steps`), and of ticking "langdurig"
``[world]``           an override of the default world: ``[[world.pgo]]`` adds PGOs (on
                      the OCL and the Whitelist), ``[[world.zorgaanbieder]]`` adds
                      zorgaanbieders to the first DVA, ``[world.gedrag."naam@medmij"]`` sets a
                      zorgaanbieder's resource-server misbehaviour
                      (:class:`medmij_stack.zorgaanbieder.settings.Gedrag`), ``persons`` the
                      minimum number of test persons

Failing, slow and hanging resource servers are always the zorgaanbieder's own ``gedrag``
in the world: nothing is faked in the PGO.
"""

from __future__ import annotations

import random
import tomllib
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from medmij_stack.protocol.funnel import Device
from medmij_stack.wiring.patient.behaviour import Abandon, AtConsent, AtDigid, AtLanding, Behaviour
from medmij_stack.wiring.world import World

__all__ = [
    "Population",
    "Scenario",
    "ScenarioError",
    "ScenarioPgo",
    "Steps",
    "WorldOverride",
    "load_scenario",
    "scenario_names",
]

Chance = Annotated[float, Field(ge=0.0, le=1.0)]
Weight = Annotated[float, Field(ge=0.0)]


class ScenarioError(ValueError):
    """A scenario that cannot be read or does not fit its world."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Steps(_Model):
    """Conditional chances: each applies to the persons who reached that step."""

    abandon_search: Chance = 0.0  # saw the search results, chose nothing
    cancel_landing: Chance = 0.0  # "annuleren" on the DVA's landing page
    abandon_landing: Chance = 0.0  # closed the tab at the landing page
    digid_fail: Chance = 0.0  # the DigiD login fails
    digid_cancel: Chance = 0.0  # cancelled at DigiD
    abandon_digid: Chance = 0.0  # closed the tab at DigiD
    consent_deny: Chance = 0.0  # refused at the toestemmingsverklaring
    abandon_consent: Chance = 0.0  # closed the tab at the toestemmingsverklaring
    langdurig: Chance = 0.0  # ticked "voor onbepaalde tijd" when allowing

    @model_validator(mode="after")
    def _per_step(self) -> Self:
        for names in (
            ("cancel_landing", "abandon_landing"),
            ("digid_fail", "digid_cancel", "abandon_digid"),
            ("consent_deny", "abandon_consent"),
        ):
            if sum(getattr(self, n) for n in names) > 1.0:
                raise ValueError(f"{' + '.join(names)} exceeds 1")
        return self

    def draw(self, rng: random.Random) -> Behaviour:
        """One attempt's choices, step by step, from ``rng`` (always the same draws)."""
        draws = [rng.random() for _ in range(5)]
        if draws[0] < self.abandon_search:
            return Behaviour(abandon=Abandon.AT_SEARCH)
        if draws[1] < self.cancel_landing:
            return Behaviour(landing=AtLanding.CANCEL)
        if draws[1] < self.cancel_landing + self.abandon_landing:
            return Behaviour(abandon=Abandon.AT_LANDING)
        at_digid = draws[2]
        if at_digid < self.digid_fail:
            return Behaviour(digid=AtDigid.FAIL)
        if at_digid < self.digid_fail + self.digid_cancel:
            return Behaviour(digid=AtDigid.CANCEL)
        if at_digid < self.digid_fail + self.digid_cancel + self.abandon_digid:
            return Behaviour(abandon=Abandon.AT_DIGID)
        if draws[3] < self.consent_deny:
            return Behaviour(consent=AtConsent.DENY)
        if draws[3] < self.consent_deny + self.abandon_consent:
            return Behaviour(abandon=Abandon.AT_CONSENT)
        return Behaviour(langdurig=draws[4] < self.langdurig)


class ScenarioPgo(_Model):
    hostname: str
    weight: Weight = 1.0
    steps: Steps = Steps()
    # The share of this PGO's users expected to complete every step
    # (medmij_stack.wiring.completion), held against the run's 95% interval.
    complete_target: Chance | None = None


class Population(_Model):
    attempts_per_month: tuple[Weight, ...] = (0.0, 1.0)
    devices: dict[Device, Weight] = {Device.PC: 1.0}

    @model_validator(mode="after")
    def _usable(self) -> Self:
        if not any(self.attempts_per_month):
            raise ValueError("attempts_per_month: give at least one weight above zero")
        if Device.SYSTEM in self.devices:
            raise ValueError("devices: a person uses app, pc or web; 'system' is the PGO's own")
        if not any(self.devices.values()):
            raise ValueError("devices: give at least one weight above zero")
        return self


class WorldOverride(_Model):
    persons: Annotated[int, Field(ge=1)] | None = None
    pgo: tuple[dict[str, Any], ...] = ()
    zorgaanbieder: tuple[dict[str, Any], ...] = ()
    gedrag: dict[str, dict[str, Any]] = {}

    def apply(self, world: World, *, minimum_persons: int = 0) -> World:
        """``world`` with this override, as a simulation world (``simulation = true``)."""
        data = world.model_dump(mode="python")
        data["world"]["simulation"] = True
        wanted = max(minimum_persons, self.persons or 0, data["persons"]["count"])
        data["persons"]["count"] = wanted
        # One worker per role unless the world asks for more: the simulator drives every
        # role from the same cores, which the five services already keep busy, so a second
        # worker adds no parallelism, only its cost (a second process's caches, the
        # SQLite writers' turn): 6-20% more CPU per attempt by role, measured on two cores
        # (benchmarks/README.md, "Simulation").
        data["workers"] = {role: n or 1 for role, n in data["workers"].items()}
        data["pgo"] = [*data["pgo"], *self.pgo]
        ours = [d for d in data["dva"] if not d["external"]]
        if self.zorgaanbieder:
            if not ours:
                raise ScenarioError("the world has no DVA of ours to add zorgaanbieders to")
            ours[0]["zorgaanbieder"] = [*ours[0]["zorgaanbieder"], *self.zorgaanbieder]
        known = {za["naam"]: za for dva in ours for za in dva["zorgaanbieder"]}
        for naam, gedrag in self.gedrag.items():
            if naam not in known:
                raise ScenarioError(f"world.gedrag: no zorgaanbieder {naam!r} of ours")
            known[naam]["gedrag"] = {**known[naam]["gedrag"], **gedrag}
        try:
            return World.model_validate(data)
        except ValidationError as exc:
            raise ScenarioError(f"the scenario's world override: {exc}") from exc


class Scenario(_Model):
    name: str
    description: str = ""
    only_known: bool = False
    # The weight of a zorgaanbieder that does not hold the person's data is multiplied by
    # this: people mostly look where they are a patient (only_known: never elsewhere).
    unknown_factor: Chance = 1.0
    complete_target: Chance | None = None  # the share of all users completing every step
    population: Population = Population()
    zorgaanbieders: dict[str, Weight]
    pgo: tuple[ScenarioPgo, ...]
    world: WorldOverride = WorldOverride()

    @model_validator(mode="after")
    def _usable(self) -> Self:
        if not self.pgo or not any(p.weight for p in self.pgo):
            raise ValueError("pgo: give at least one PGO with a weight above zero")
        if not any(self.zorgaanbieders.values()):
            raise ValueError("zorgaanbieders: give at least one weight above zero")
        return self

    def choices(self, known_at: Sequence[str]) -> dict[str, float]:
        """The zorgaanbieder weights for a person known at ``known_at``; empty: none."""
        factor = 0.0 if self.only_known else self.unknown_factor
        chosen = {
            naam: weight if naam in known_at else weight * factor
            for naam, weight in self.zorgaanbieders.items()
        }
        chosen = {naam: weight for naam, weight in chosen.items() if weight > 0}
        if not chosen and self.only_known and known_at:
            return {known_at[0]: 1.0}
        return chosen

    def check(self, world: World) -> None:
        """Refuse a world that lacks a PGO or zorgaanbieder this scenario uses."""
        ours = {p.hostname for p in world.pgo if not p.external}
        missing = [p.hostname for p in self.pgo if p.weight and p.hostname not in ours]
        names = {za.naam for dva in world.ours() for za in dva.zorgaanbieder}
        missing += [n for n, w in self.zorgaanbieders.items() if w and n not in names]
        if missing:
            raise ScenarioError(
                f"scenario {self.name}: the world has no {', '.join(missing)} of ours"
            )
        if not world.world.simulation:
            raise ScenarioError(
                "the stack does not run a simulation world (world.simulation = true): "
                "its services read the system clock, so months cannot pass"
            )


def weighted(rng: random.Random, weights: Mapping[Any, float] | Sequence[float]) -> Any:
    """One key (or index) of ``weights``, drawn in proportion to its weight."""
    items = list(weights.items()) if isinstance(weights, Mapping) else list(enumerate(weights))
    return rng.choices([k for k, _ in items], weights=[w for _, w in items])[0]


def scenario_names() -> tuple[str, ...]:
    """The scenarios shipped with the stack."""
    folder = resources.files(__name__)
    return tuple(
        sorted(p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml"))
    )


def load_scenario(name_or_path: str) -> Scenario:
    """A shipped scenario by name (``realistic``), or a scenario file by path."""
    path = Path(name_or_path)
    if path.suffix == ".toml" and path.is_file():
        text, name = path.read_text("utf-8"), path.stem
    elif name_or_path in scenario_names():
        text = resources.files(__name__).joinpath(f"{name_or_path}.toml").read_text("utf-8")
        name = name_or_path
    else:
        raise ScenarioError(
            f"no scenario {name_or_path!r}: give a .toml file or one of "
            f"{', '.join(scenario_names())}"
        )
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"scenario {name}: not valid TOML: {exc}") from exc
    header = data.pop("scenario", {})
    if not isinstance(header, dict):
        raise ScenarioError(f"scenario {name}: [scenario] is a table")
    try:
        return Scenario.model_validate({"name": name, **header, **data})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ScenarioError(f"scenario {name}: {problems}") from exc
