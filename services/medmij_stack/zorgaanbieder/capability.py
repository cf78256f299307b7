"""The CapabilityStatement of one FHIR base: what this endpoint serves, and nothing more.

FHIR's capabilities interaction (``GET [base]/metadata``, STU3 and R4 http page) is
answered without a token, as FHIR servers do, but on the back channel like everything
else here (mutual TLS, Whitelist). The statement is made from the same tables that
decide what a request may do: the gegevensdienst's queries and reads in
:mod:`medmij_stack.protocol.catalogue` (the Nictiz qualification requests: which resource types are
searched and read) and the store's tables of token parameters and ``_include`` values
(:mod:`zorgaanbieder.store.searchparams`: what a search on those types may use).
BgZ (48) is FHIR 3.0.2 with ``Observation/$lastn``; Vaccinaties (63) is FHIR 4.0.1
(CapabilityStatement ``imm-RetrieveServe`` plus the ``Immunization:location`` include
that the qualification script sends).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from medmij_stack.protocol.catalogue import Gegevensdienst
from medmij_stack.protocol.fhir import FhirVersion

from .store.searchparams import INCLUDES, TOKEN_PARAMS

__all__ = ["Capabilities", "capabilities_for", "capability_statement"]

_LASTN = "$lastn"
_LASTN_DEFINITION = "http://hl7.org/fhir/OperationDefinition/Observation-lastn"


@dataclass
class _ResourceCapability:
    search: bool = False
    read: bool = False
    lastn: bool = False
    params: dict[str, None] = field(default_factory=dict)  # ordered set
    includes: dict[str, None] = field(default_factory=dict)


@dataclass(frozen=True)
class Capabilities:
    """What one gegevensdienst's endpoint allows, by resource type."""

    fhir_version: FhirVersion
    searchable: frozenset[str]
    readable: frozenset[str]
    lastn: frozenset[str]
    resources: Mapping[str, _ResourceCapability]


def capabilities_for(dienst: Gegevensdienst) -> Capabilities:
    """The capabilities of a served gegevensdienst, from its catalogue entry."""
    fhir_version = dienst.fhir_version
    if fhir_version is None:
        raise ValueError(f"gegevensdienst {dienst.id} has no FHIR version this server speaks")
    resources: dict[str, _ResourceCapability] = {}

    def entry(resource_type: str) -> _ResourceCapability:
        return resources.setdefault(resource_type, _ResourceCapability())

    for query in dienst.queries:
        found = entry(query.resource_type)
        found.search = True
        found.read = True
        if query.resource_path.endswith("/" + _LASTN):
            found.lastn = True
        for name, value in query.params:
            if name == "_include":
                found.includes[value] = None
            else:
                found.params[name] = None
        for included in query.includes:
            entry(included).read = True
    # What the store can do beyond the qualification requests, on the same resource types.
    for resource_type, found in resources.items():
        if not found.search:
            continue
        for name in TOKEN_PARAMS[fhir_version].get(resource_type, {}):
            found.params[name] = None
        for spec in INCLUDES[fhir_version].values():
            if spec.source_type == resource_type:
                found.includes[spec.name] = None
    for resource_type in dienst.reads:
        entry(resource_type).read = True
    return Capabilities(
        fhir_version=fhir_version,
        searchable=frozenset(t for t, c in resources.items() if c.search),
        readable=frozenset(t for t, c in resources.items() if c.read),
        lastn=frozenset(t for t, c in resources.items() if c.lastn),
        resources=dict(sorted(resources.items())),
    )


def capability_statement(
    capabilities: Capabilities,
    *,
    dienst: Gegevensdienst,
    zorgaanbieder: str,
    base: str,
    published: date,
) -> dict[str, Any]:
    """The CapabilityStatement JSON of one endpoint (STU3 or R4 by the gegevensdienst)."""
    r4 = capabilities.fhir_version is FhirVersion.R4
    resources: list[dict[str, Any]] = []
    for resource_type, found in capabilities.resources.items():
        interactions = [{"code": "read"}] if found.read else []
        if found.search:
            interactions.append({"code": "search-type"})
        item: dict[str, Any] = {"type": resource_type, "interaction": interactions}
        if found.includes:
            item["searchInclude"] = list(found.includes)
        if found.params:
            # Every parameter the store supports is a token search (store.searchparams).
            item["searchParam"] = [{"name": name, "type": "token"} for name in found.params]
        if found.lastn and r4:
            item["operation"] = [{"name": "lastn", "definition": _LASTN_DEFINITION}]
        resources.append(item)
    rest: dict[str, Any] = {
        "mode": "server",
        "documentation": (
            "Searches are scoped to the person the access token stands for; requests carry "
            "no patient parameter. Served without a token: this statement only."
        ),
        "security": {
            "cors": False,
            "service": [
                {
                    "coding": [
                        {
                            "system": "http://hl7.org/fhir/restful-security-service",
                            "code": "OAuth",
                            "display": "OAuth",
                        }
                    ],
                    "text": "OAuth 2.0 bearer token of the MedMij Afsprakenstelsel",
                }
            ],
            "description": "Mutual TLS with a certificate on the MedMij Whitelist, and an "
            "access token from this DVA's authorisation server (RFC 6750).",
        },
        "resource": resources,
    }
    if capabilities.lastn and not r4:
        # STU3 has no per-resource operation element: operations are listed on rest.
        rest["operation"] = [{"name": "lastn", "definition": {"reference": _LASTN_DEFINITION}}]
    statement: dict[str, Any] = {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": published.isoformat(),
        "publisher": zorgaanbieder,
        "description": f"{dienst.naam} (gegevensdienst {dienst.id}) of {zorgaanbieder}",
        "kind": "instance",
        "software": {"name": "MedMij reference stack, resource server"},
        "implementation": {
            "description": f"{zorgaanbieder}, gegevensdienst {dienst.id}",
            "url": base,
        },
        "fhirVersion": capabilities.fhir_version.full,
        "format": ["json", "xml"],
        "rest": [rest],
    }
    if not r4:
        statement["acceptUnknown"] = "no"  # STU3 requires it; we refuse unknown elements
    return statement
