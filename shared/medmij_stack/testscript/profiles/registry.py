"""A folder of conformance resources: StructureDefinitions, ValueSets, CodeSystems.

``medmij qualify --profiles PATH`` names a folder such as ``fhir-profiles/`` (the Nictiz
zib2017 STU3 profiles, the R4 nl-core ones and Vaccination-Immunization; see its
PROVENANCE.md). Files may be XML or JSON, in any subfolder. The folder is indexed once
by each file's canonical ``url`` and FHIR release, reading only the start of each file;
a resource is converted to JSON when first asked for. The same canonical may exist for
STU3 and for R4: the release of the script decides.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lxml import etree

from medmij_stack.protocol.fhir import FhirVersion
from medmij_stack.testscript.fhirxml import FHIR_NS, parse_xml, xml_to_json
from medmij_stack.testscript.structure import structure_for

__all__ = ["ProfileRegistry"]

_KINDS = ("StructureDefinition", "ValueSet", "CodeSystem")
_F = f"{{{FHIR_NS}}}"
_MAX_FILE = 20 * 1024 * 1024


@dataclass(frozen=True)
class _Entry:
    kind: str
    url: str
    version: FhirVersion | None
    path: Path


def _release(text: str | None) -> FhirVersion | None:
    if not text:
        return None
    if text.startswith("3."):
        return FhirVersion.STU3
    if text.startswith("4.0"):
        return FhirVersion.R4
    return None


def _peek_xml(path: Path) -> tuple[str, str | None, FhirVersion | None] | None:
    kind: str | None = None
    url: str | None = None
    version: FhirVersion | None = None
    depth = 0
    try:
        with path.open("rb") as handle:
            for event, element in etree.iterparse(
                handle,
                events=("start", "end"),
                resolve_entities=False,
                no_network=True,
                load_dtd=False,
            ):
                if event == "end":
                    depth -= 1
                    if depth == 0:
                        break
                    continue
                depth += 1
                if depth == 1:
                    local = etree.QName(element).localname
                    if local not in _KINDS:
                        return None
                    kind = local
                elif depth == 2 and element.tag == _F + "url":
                    url = element.get("value")
                elif depth == 2 and element.tag == _F + "fhirVersion":
                    version = _release(element.get("value"))
                elif depth == 4 and element.tag == _F + "code" and version is None:
                    # ValueSets carry their release as a meta tag (FHIR-version).
                    version = _release(element.get("value"))
                if url and version and depth >= 2 and element.tag == _F + "element":
                    break
    except (OSError, etree.XMLSyntaxError):
        return None
    if kind is None:
        return None
    return kind, url, version


class ProfileRegistry:
    """The conformance resources of one folder, by canonical URL and release."""

    def __init__(self, root: Path) -> None:
        if not root.is_dir():
            raise ValueError(f"{root} is not a folder of profiles")
        self.root = root
        self._entries: dict[tuple[str, str], list[_Entry]] = {}
        self._loaded: dict[Path, dict[str, Any] | None] = {}
        self._lock = threading.Lock()
        for path in sorted(root.rglob("*")):
            if path.suffix not in (".xml", ".json") or not path.is_file():
                continue
            found = _peek_xml(path) if path.suffix == ".xml" else self._peek_json(path)
            if found is None:
                continue
            kind, url, version = found
            if not url:
                continue
            self._entries.setdefault((kind, url), []).append(_Entry(kind, url, version, path))

    def _peek_json(self, path: Path) -> tuple[str, str | None, FhirVersion | None] | None:
        try:
            if path.stat().st_size > _MAX_FILE:
                return None
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict) or data.get("resourceType") not in _KINDS:
            return None
        self._loaded[path] = data
        return str(data["resourceType"]), data.get("url"), _release(data.get("fhirVersion"))

    def __len__(self) -> int:
        return sum(len(entries) for entries in self._entries.values())

    def _find(
        self, kind: str, canonical: str, version: FhirVersion | None
    ) -> dict[str, Any] | None:
        url, _, wanted_version = canonical.partition("|")
        entries = self._entries.get((kind, url), [])
        if version is not None:
            exact = [entry for entry in entries if entry.version is version]
            unknown = [entry for entry in entries if entry.version is None]
            entries = exact or unknown
        for entry in entries:
            resource = self._load(entry, version)
            if resource is None:
                continue
            if wanted_version and resource.get("version") not in (None, wanted_version):
                continue
            return resource
        return None

    def _load(self, entry: _Entry, version: FhirVersion | None) -> dict[str, Any] | None:
        with self._lock:
            if entry.path in self._loaded:
                return self._loaded[entry.path]
            resource: dict[str, Any] | None = None
            try:
                if entry.path.stat().st_size <= _MAX_FILE:
                    root = parse_xml(entry.path.read_bytes())
                    release = entry.version or version or FhirVersion.R4
                    resource = xml_to_json(root, structure_for(release), [])
            except (OSError, ValueError):
                resource = None
            self._loaded[entry.path] = resource
            return resource

    def structure_definition(
        self, canonical: str, version: FhirVersion | None = None
    ) -> dict[str, Any] | None:
        return self._find("StructureDefinition", canonical, version)

    def value_set(
        self, canonical: str, version: FhirVersion | None = None
    ) -> dict[str, Any] | None:
        return self._find("ValueSet", canonical, version)

    def code_system(
        self, canonical: str, version: FhirVersion | None = None
    ) -> dict[str, Any] | None:
        return self._find("CodeSystem", canonical, version)
