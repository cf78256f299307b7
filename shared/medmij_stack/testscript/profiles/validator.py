"""The ``validateProfileId`` check as the runner calls it.

The Nictiz asserts name the base Bundle profile and say "…and the resources to the
stated profiles in the meta.profile tag" (docs/qualification.md#generic-asserts rule 8). So:

1. the resource (with every entry and contained resource) against the base structure;
2. against the profile the assert names, when that is not a base profile;
3. every resource (the root, and each Bundle entry) against each of its ``meta.profile``
   canonicals found in the profile folder (``--profiles``), with references between
   entries resolved inside the Bundle (slices that discriminate on ``resolve()`` need it).

A profile that is not in the folder, or no folder at all, is reported as not checked.
"""

from __future__ import annotations

from typing import Any

from medmij_stack.protocol.fhir import FhirVersion
from medmij_stack.testscript.profiles.base import validate_base
from medmij_stack.testscript.profiles.registry import ProfileRegistry
from medmij_stack.testscript.profiles.report import ValidationReport
from medmij_stack.testscript.profiles.walker import Resolver, validate_profile

__all__ = ["ProfileValidator"]

_BASE_PREFIX = "http://hl7.org/fhir/StructureDefinition/"


class ProfileValidator:
    """Validates resources; ``registry`` holds the StructureDefinitions and ValueSets."""

    def __init__(self, registry: ProfileRegistry | None = None) -> None:
        self.registry = registry

    def validate(
        self, resource: dict[str, Any], profile: str, version: FhirVersion
    ) -> ValidationReport:
        report = validate_base(resource, version)
        resolve = _resolver(resource)
        resource_type = str(resource.get("resourceType", ""))
        if profile.startswith(_BASE_PREFIX) and "/" not in profile[len(_BASE_PREFIX) :]:
            wanted = profile[len(_BASE_PREFIX) :]
            if wanted != resource_type:
                report.error(resource_type, f"is a {resource_type}, the profile is for {wanted}")
        else:
            self._against(resource, resource_type, profile, version, report, resolve)
        for location, item in _resources(resource):
            for canonical in _meta_profiles(item):
                self._against(item, location, canonical, version, report, resolve)
        return report

    def _against(
        self,
        resource: dict[str, Any],
        location: str,
        canonical: str,
        version: FhirVersion,
        report: ValidationReport,
        resolve: Resolver,
    ) -> None:
        if self.registry is None:
            report.skip(f"{canonical}: no profile folder given (--profiles)")
            return
        definition = self.registry.structure_definition(canonical, version)
        if definition is None:
            report.skip(f"{canonical}: not in the profile folder {self.registry.root}")
            return
        report.merge(
            validate_profile(resource, location, definition, self.registry, version, resolve)
        )


def _resolver(resource: dict[str, Any]) -> Resolver:
    """References to the entries of a Bundle, by fullUrl and by ``Type/id``."""
    by_url: dict[str, dict[str, Any]] = {}
    by_key: dict[str, dict[str, Any]] = {}
    if resource.get("resourceType") == "Bundle":
        for entry in resource.get("entry", []) or []:
            if not isinstance(entry, dict) or not isinstance(entry.get("resource"), dict):
                continue
            item = entry["resource"]
            if entry.get("fullUrl"):
                by_url[str(entry["fullUrl"])] = item
            if item.get("id"):
                by_key[f"{item.get('resourceType')}/{item['id']}"] = item

    def resolve(reference: str) -> dict[str, Any] | None:
        if reference in by_url:
            return by_url[reference]
        parts = reference.split("/_history/")[0].rstrip("/").split("/")
        return by_key.get("/".join(parts[-2:])) if len(parts) >= 2 else None

    return resolve


def _resources(resource: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    found = [(str(resource.get("resourceType", "")), resource)]
    if resource.get("resourceType") == "Bundle":
        for index, entry in enumerate(resource.get("entry", []) or []):
            if isinstance(entry, dict) and isinstance(entry.get("resource"), dict):
                inner = entry["resource"]
                found.append(
                    (f"Bundle.entry[{index}].resource({inner.get('resourceType')})", inner)
                )
    return found


def _meta_profiles(resource: dict[str, Any]) -> list[str]:
    meta = resource.get("meta")
    if not isinstance(meta, dict):
        return []
    return [str(item) for item in meta.get("profile", []) or [] if isinstance(item, str)]
