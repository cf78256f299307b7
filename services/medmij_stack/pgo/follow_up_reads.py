"""The reads a gegevensdienst's searches lead to: references no ``_include`` can reach.

Vaccinaties (63): an Immunization names its vaccine product in the extension
``ext-imm-Vaccination.PharmaceuticalProduct``, a Reference to a Medication (profile
``imm-PharmaceuticalProduct``) that no search parameter of the Immunization can include.
The Nictiz qualification scripts for the serving side read it after the search, one
``GET [base]/Medication/<id>`` per Immunization (``imm-serve-cert-1-1-json.xml``,
variables ``pharmaceuticalProduct-url-N``), and the CapabilityStatement
``imm-RetrieveServe`` lists ``read`` on Medication; the PGO does the same, so that the
product and its batch are part of what it stores.

Only references that resolve on the resource endpoint itself are read (``Medication/<id>``,
or the endpoint's own absolute URL of it): the bearer token may go to that endpoint and
nowhere else. Contained (``#id``) references need no read; a Medication the answer
already holds is not read again.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from medmij_stack.protocol.catalogue import Gegevensdienst, Query

__all__ = ["PHARMACEUTICAL_PRODUCT", "follow_up_reads", "is_read"]

PHARMACEUTICAL_PRODUCT = (
    "http://nictiz.nl/fhir/StructureDefinition/ext-imm-Vaccination.PharmaceuticalProduct"
)

# FHIR's id datatype: 1-64 of letters, digits, "-" and ".".
_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")


@dataclass(frozen=True)
class _Follow:
    """Read the ``target`` an extension ``url`` of a ``source`` resource refers to."""

    source: str
    url: str
    target: str
    description: str


_FOLLOW_UPS: Mapping[str, tuple[_Follow, ...]] = {
    "63": (_Follow("Immunization", PHARMACEUTICAL_PRODUCT, "Medication", "Vaccin (product)"),),
}


def is_read(query: Query) -> bool:
    """True for a read (``Medication/<id>``), False for a search (``Observation/$lastn?…``)."""
    if "?" in query.path:
        return False
    parts = query.resource_path.split("/")
    return len(parts) == 2 and bool(_ID.fullmatch(parts[1]))


def _target_id(reference: str, target: str, resource_base: str) -> str | None:
    own = resource_base.rstrip("/") + "/"
    if reference.startswith(own):
        reference = reference[len(own) :]
    reference = reference.split("/_history/")[0]
    kind, slash, identifier = reference.partition("/")
    if slash and kind == target and _ID.fullmatch(identifier):
        return identifier
    return None


def _extension_references(resource: Mapping[str, Any], url: str) -> Iterable[str]:
    for extension in resource.get("extension") or ():
        if not isinstance(extension, Mapping) or extension.get("url") != url:
            continue
        value = extension.get("valueReference")
        if isinstance(value, Mapping) and isinstance(value.get("reference"), str):
            yield value["reference"]


def follow_up_reads(
    dienst: Gegevensdienst, resources: Iterable[Mapping[str, Any]], resource_base: str
) -> list[Query]:
    """The reads ``resources`` (a gegevensdienst's search results) still need, in order."""
    follows = _FOLLOW_UPS.get(dienst.id, ())
    if not follows:
        return []
    pool = list(resources)
    held = {(r.get("resourceType"), r.get("id")) for r in pool}
    reads: list[Query] = []
    wanted: set[tuple[str, str]] = set()
    for follow in follows:
        for resource in pool:
            if resource.get("resourceType") != follow.source:
                continue
            for reference in _extension_references(resource, follow.url):
                identifier = _target_id(reference, follow.target, resource_base)
                key = (follow.target, identifier or "")
                if identifier is None or key in held or key in wanted:
                    continue
                wanted.add(key)
                path = f"{follow.target}/{identifier}"
                reads.append(Query(path, path, follow.description, follow.target))
    return reads
