"""Which codes a ValueSet holds, when the profile folder says so without a terminology server.

A required binding can be checked offline only when the ValueSet's content is written
out: an ``expansion``, or a ``compose`` that lists concepts (directly, or via included
ValueSets, or a whole CodeSystem that is in the folder with its concepts). A ValueSet
that uses ``filter`` (SNOMED hierarchies, for instance), or includes a whole code system
the folder does not hold, cannot be checked here; :func:`expand` then says why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from medmij_stack.protocol.fhir import FhirVersion
from medmij_stack.testscript.profiles.registry import ProfileRegistry

__all__ = ["Expansion", "expand"]

_MAX_DEPTH = 8


@dataclass
class Expansion:
    """The codes of a ValueSet, or the reason they are unknown (``reason``)."""

    codes: set[tuple[str, str]] = field(default_factory=set)
    reason: str | None = None

    def holds(self, system: str | None, code: str | None) -> bool:
        if code is None:
            return False
        if system is None:
            return any(known == code for _, known in self.codes)
        return (system, code) in self.codes


def _contains(items: list[Any], codes: set[tuple[str, str]]) -> None:
    for item in items:
        if not isinstance(item, dict):
            continue
        if item.get("system") and item.get("code") and not item.get("abstract", False):
            codes.add((str(item["system"]), str(item["code"])))
        _contains(item.get("contains", []) or [], codes)


def _concepts(items: list[Any], system: str, codes: set[tuple[str, str]]) -> None:
    for item in items:
        if isinstance(item, dict) and item.get("code"):
            codes.add((system, str(item["code"])))
            _concepts(item.get("concept", []) or [], system, codes)


def _value_set_urls(include: dict[str, Any]) -> list[str]:
    value = include.get("valueSet")
    if isinstance(value, list):
        return [str(item) for item in value if item]
    return [str(value)] if value else []


def _part(
    include: dict[str, Any],
    registry: ProfileRegistry,
    version: FhirVersion,
    depth: int,
) -> Expansion:
    if include.get("filter"):
        return Expansion(reason="it selects codes with a filter")
    codes: set[tuple[str, str]] = set()
    system = include.get("system")
    concepts = include.get("concept")
    if system and concepts:
        _concepts(concepts, str(system), codes)
    elif system:
        code_system = registry.code_system(str(system), version)
        if code_system is None or not code_system.get("concept"):
            return Expansion(reason=f"it includes all of {system}, which is not in the folder")
        _concepts(code_system["concept"], str(system), codes)
    for url in _value_set_urls(include):
        inner = expand(url, registry, version, depth + 1)
        if inner.reason is not None:
            return inner
        codes = inner.codes if not (system or concepts) and not codes else codes & inner.codes
    return Expansion(codes=codes)


def expand(
    canonical: str, registry: ProfileRegistry, version: FhirVersion, depth: int = 0
) -> Expansion:
    """The codes of ValueSet ``canonical``, from the registry."""
    if depth > _MAX_DEPTH:
        return Expansion(reason=f"{canonical} includes ValueSets too deeply")
    value_set = registry.value_set(canonical, version)
    if value_set is None:
        return Expansion(reason=f"the ValueSet {canonical} is not in the folder")
    expansion = value_set.get("expansion")
    if isinstance(expansion, dict) and expansion.get("contains"):
        codes: set[tuple[str, str]] = set()
        _contains(expansion["contains"], codes)
        return Expansion(codes=codes)
    compose = value_set.get("compose")
    if not isinstance(compose, dict) or not compose.get("include"):
        return Expansion(reason=f"the ValueSet {canonical} has neither expansion nor compose")
    codes = set()
    for include in compose.get("include", []) or []:
        part = _part(include, registry, version, depth)
        if part.reason is not None:
            return Expansion(reason=f"{canonical}: {part.reason}")
        codes |= part.codes
    for exclude in compose.get("exclude", []) or []:
        part = _part(exclude, registry, version, depth)
        if part.reason is not None:
            return Expansion(reason=f"{canonical}: its exclude: {part.reason}")
        codes -= part.codes
    return Expansion(codes=codes)
