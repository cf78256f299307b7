"""The Nictiz fixtures and qualification tokens, as a simulated server holds them.

docs/qualification.md#fixtures: fixtures are FHIR XML files, one resource per file, in
``_reference/resources/`` beside the script folders; a file's name is not always its
id, so ids are read from the resources; some hold ``${DATE, T, …}`` placeholders, filled
in at load time. Patients are bound to fixed bearer tokens in
``Configuration/QualificationTokens.json`` (docs/qualification.md#tokens), which the server
maps to a patient.

Nothing here is copied into the project: the folders are read where the user has them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from medmij_stack.protocol.fhir import FhirVersion
from medmij_stack.testscript.fhirxml import parse_xml, xml_to_json
from medmij_stack.testscript.structure import structure_for
from medmij_stack.testscript.variables import fill_dates

__all__ = ["FixtureError", "FixtureStore", "TokenRegistry", "fixture_folder", "token_file"]

_MAX_FIXTURE = 5 * 1024 * 1024


class FixtureError(ValueError):
    """A fixture folder or token file that cannot be used."""


def fixture_folder(script_path: Path) -> Path | None:
    """The ``_reference/resources`` folder that belongs to a script (nearest ancestor)."""
    for folder in script_path.resolve().parents:
        candidate = folder / "_reference" / "resources"
        if candidate.is_dir():
            return candidate
    return None


def token_file(start: Path) -> Path | None:
    """``Configuration/QualificationTokens.json`` above ``start``, as in Nictiz-testscripts."""
    for folder in [start.resolve(), *start.resolve().parents]:
        candidate = folder / "Configuration" / "QualificationTokens.json"
        if candidate.is_file():
            return candidate
    return None


@dataclass
class TokenRegistry:
    """Bearer token (the whole header value, ``Bearer …``) → patient resource id."""

    patients: dict[str, str] = field(default_factory=dict)

    @classmethod
    def read(cls, path: Path) -> TokenRegistry:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise FixtureError(f"{path}: not a readable token list: {exc}") from exc
        if not isinstance(data, list):
            raise FixtureError(f"{path}: expected a JSON list of token entries")
        patients = {}
        for entry in data:
            if not isinstance(entry, dict):
                continue
            token, patient = entry.get("accessToken"), entry.get("resourceId")
            if isinstance(token, str) and isinstance(patient, str):
                patients[token.strip()] = patient
        return cls(patients)

    def patient_for(self, authorization: str | None) -> str | None:
        if not authorization:
            return None
        value = authorization.strip()
        if value in self.patients:
            return self.patients[value]
        # Tolerate a lower-case scheme: "bearer abc" is the same credential.
        scheme, _, token = value.partition(" ")
        if scheme.lower() == "bearer":
            return self.patients.get(f"Bearer {token.strip()}")
        return None


@dataclass
class FixtureStore:
    """Resources by type and id, of one FHIR release."""

    version: FhirVersion
    resources: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    sources: list[Path] = field(default_factory=list)

    @classmethod
    def load(
        cls, folders: Iterable[Path], version: FhirVersion, today: date | None = None
    ) -> FixtureStore:
        store = cls(version)
        day = today or date.today()
        structure = structure_for(version)
        for folder in folders:
            if not folder.is_dir():
                raise FixtureError(f"{folder}: not a folder of fixtures")
            store.sources.append(folder)
            for path in sorted(folder.glob("*")):
                if path.suffix not in (".xml", ".json") or not path.is_file():
                    continue
                if path.stat().st_size > _MAX_FIXTURE:
                    raise FixtureError(f"{path}: larger than {_MAX_FIXTURE} bytes")
                text = fill_dates(path.read_text(encoding="utf-8"), day)
                try:
                    if path.suffix == ".json":
                        resource = json.loads(text)
                    else:
                        resource = xml_to_json(parse_xml(text.encode("utf-8")), structure)
                except ValueError as exc:
                    raise FixtureError(f"{path}: {exc}") from exc
                if not isinstance(resource, dict) or not resource.get("id"):
                    raise FixtureError(f"{path}: not a FHIR resource with an id")
                store.add(resource)
        return store

    def add(self, resource: dict[str, Any]) -> None:
        self.resources[(str(resource["resourceType"]), str(resource["id"]))] = resource

    def get(self, resource_type: str, resource_id: str) -> dict[str, Any] | None:
        return self.resources.get((resource_type, resource_id))

    def of_type(self, resource_type: str) -> Iterator[dict[str, Any]]:
        for (kind, _), resource in self.resources.items():
            if kind == resource_type:
                yield resource

    def owner(self, resource: dict[str, Any]) -> str | None:
        """The patient a resource belongs to: itself, or the Patient it refers to."""
        if resource.get("resourceType") == "Patient":
            return str(resource.get("id"))
        for reference in _references(resource, top=True):
            kind, _, identifier = reference.rpartition("/")
            if kind.endswith("Patient") and (kind == "Patient" or kind.endswith("/Patient")):
                return identifier
        return None


def _references(data: Any, *, top: bool = False) -> Iterator[str]:
    if isinstance(data, dict):
        for key, value in data.items():
            if top and key == "contained":
                continue
            if key == "reference" and isinstance(value, str):
                yield value.split("/_history/")[0]
            else:
                yield from _references(value)
    elif isinstance(data, list):
        for item in data:
            yield from _references(item)
