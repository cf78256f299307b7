"""The FHIR searches and reads the Nictiz scripts make, answered from a fixture store.

docs/qualification.md#xis-server-scripts list what the XIS answers: searches scoped to the
token's patient (never by a patient parameter), token filters on ``category``, ``code``,
``status`` and ``class`` with comma OR-lists and ``system|code``, ``_include`` of the
listed references (typed includes such as ``Coverage:payor:Organization`` too),
``Observation/$lastn`` (the latest observation per code), and reads. The searchset
Bundle has absolute ``fullUrl``s, ``search.mode`` match/include, ``total`` = the number
of matches, and a self link that echoes the parameters the search used.

Parameters this simulator does not know are ignored and left out of the self link, as
FHIR's lenient handling prescribes (RESTful API, "Handling Errors"); contained
references (``#id``) are never included (Cert 1.1 expects Location = 0).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from medmij_stack.protocol.fhir import FhirVersion
from medmij_stack.testscript.simulator.fixtures import FixtureStore
from medmij_stack.testscript.structure import structure_for

__all__ = ["SearchRequest", "read", "search"]

_INCLUDE_PATHS: dict[tuple[str, str], tuple[str, ...]] = {
    ("Patient", "general-practitioner"): ("generalPractitioner",),
    ("Coverage", "payor"): ("payor",),
    ("MedicationStatement", "medication"): ("medicationReference",),
    ("MedicationRequest", "medication"): ("medicationReference",),
    ("MedicationDispense", "medication"): ("medicationReference",),
    ("DeviceUseStatement", "device"): ("device",),
    ("DeviceRequest", "device"): ("codeReference",),
    ("Observation", "related-target"): ("related", "target"),
    ("Observation", "specimen"): ("specimen",),
    ("Immunization", "patient"): ("patient",),
    ("Immunization", "location"): ("location",),
}
_PERFORMER = {
    FhirVersion.STU3: ("practitioner", "actor"),
    FhirVersion.R4: ("performer", "actor"),
}


@dataclass(frozen=True)
class SearchRequest:
    resource_type: str
    params: tuple[tuple[str, str], ...]
    """Decoded ``name=value`` pairs in the order received."""
    lastn: bool = False


def _camel(name: str) -> str:
    head, *rest = name.split("-")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _values(resource: dict[str, Any], path: Sequence[str]) -> list[Any]:
    current: list[Any] = [resource]
    for key in path:
        following: list[Any] = []
        for item in current:
            if isinstance(item, dict) and key in item:
                value = item[key]
                following += value if isinstance(value, list) else [value]
        current = following
    return current


def _token_matches(element: Any, token: str) -> bool:
    system, bar, code = token.partition("|")
    if not bar:
        system, code = "", token
    if isinstance(element, str):
        return not system and element == code
    if not isinstance(element, dict):
        return False
    if "coding" in element:
        return any(_token_matches(coding, token) for coding in element.get("coding") or [])
    if "code" in element or "system" in element:
        same_system = not bar or (element.get("system") or "") == system
        same_code = not code or element.get("code") == code
        return same_system and same_code
    return False


def _known(store: FixtureStore, resource_type: str, name: str) -> bool:
    """Whether a search parameter names an element of the type (a token search on it)."""
    if name.startswith("_"):
        return False
    return _camel(name) in structure_for(store.version).elements(resource_type)


def _matches(resource: dict[str, Any], name: str, value: str) -> bool:
    found = _values(resource, (_camel(name),))
    return any(_token_matches(item, token) for token in value.split(",") for item in found)


def _effective(resource: dict[str, Any]) -> str:
    period = resource.get("effectivePeriod")
    if isinstance(period, dict):
        return str(period.get("end") or period.get("start") or "")
    return str(resource.get("effectiveDateTime") or resource.get("issued") or "")


def _code_key(resource: dict[str, Any]) -> str:
    codings = (resource.get("code") or {}).get("coding") or []
    if not codings:
        return str((resource.get("code") or {}).get("text", ""))
    return f"{codings[0].get('system')}|{codings[0].get('code')}"


def _reference_target(reference: str) -> tuple[str, str] | None:
    if reference.startswith("#"):
        return None
    parts = reference.split("/_history/")[0].rstrip("/").split("/")
    if len(parts) < 2 or not parts[-2][:1].isupper():
        return None
    return parts[-2], parts[-1]


def _include(
    store: FixtureStore, matches: list[dict[str, Any]], spec: str, patient: str
) -> list[dict[str, Any]]:
    source, _, rest = spec.partition(":")
    param, _, target_type = rest.partition(":")
    path = _INCLUDE_PATHS.get((source, param))
    if path is None and (source, param) == ("Immunization", "performer"):
        path = _PERFORMER[store.version]
    if path is None:
        path = (_camel(param),)
    included: list[dict[str, Any]] = []
    for resource in matches:
        if resource.get("resourceType") != source:
            continue
        references = _values(resource, path) or _values(resource, (f"{path[0]}Reference",))
        for reference in references:
            if not isinstance(reference, dict) or not isinstance(reference.get("reference"), str):
                continue
            target = _reference_target(reference["reference"])
            if target is None or (target_type and target[0] != target_type):
                continue
            found = store.get(*target)
            if found is None or store.owner(found) not in (None, patient):
                continue
            if found not in included:
                included.append(found)
    return included


def search(store: FixtureStore, patient: str, request: SearchRequest, base: str) -> dict[str, Any]:
    """The searchset Bundle for ``request``, scoped to ``patient``."""
    candidates = [
        resource
        for resource in store.of_type(request.resource_type)
        if store.owner(resource) == patient
    ]
    used: list[tuple[str, str]] = []
    for name, value in request.params:
        if not _known(store, request.resource_type, name):
            continue
        candidates = [resource for resource in candidates if _matches(resource, name, value)]
        used.append((name, value))
    if request.lastn:
        latest: dict[str, dict[str, Any]] = {}
        for resource in candidates:
            key = _code_key(resource)
            if key not in latest or _effective(resource) > _effective(latest[key]):
                latest[key] = resource
        candidates = list(latest.values())
    included: list[dict[str, Any]] = []
    for name, value in request.params:
        if name == "_include":
            used.append((name, value))
            for resource in _include(store, candidates, value, patient):
                if resource not in included and resource not in candidates:
                    included.append(resource)
    base = base.rstrip("/")
    path = f"{request.resource_type}/$lastn" if request.lastn else request.resource_type
    query = "&".join(f"{name}={quote(value, safe=':/|,$')}" for name, value in used)
    entries = [_entry(base, resource, "match") for resource in candidates] + [
        _entry(base, resource, "include") for resource in included
    ]
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(candidates),
        "link": [{"relation": "self", "url": f"{base}/{path}" + (f"?{query}" if query else "")}],
        "entry": entries,
    }


def _entry(base: str, resource: dict[str, Any], mode: str) -> dict[str, Any]:
    return {
        "fullUrl": f"{base}/{resource['resourceType']}/{resource['id']}",
        "resource": resource,
        "search": {"mode": mode},
    }


def read(
    store: FixtureStore, patient: str, resource_type: str, resource_id: str
) -> dict[str, Any] | None:
    """The resource, unless it is missing or belongs to another patient."""
    resource = store.get(resource_type, resource_id)
    if resource is None or store.owner(resource) not in (None, patient):
        return None
    return resource
