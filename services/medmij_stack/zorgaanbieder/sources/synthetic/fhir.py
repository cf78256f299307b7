"""Small builders for the FHIR JSON the generator writes, shared by STU3 and R4.

They enforce the content rules the qualification scripts check on every resource
(docs/qualification.md#generic-asserts): a Coding always has system, code and display, a Reference
always a display, an Identifier system and value, every resource a ``meta.profile``;
a BSN is only ever written masked (data-absent-reason ``masked``, no value).
"""

from __future__ import annotations

from typing import Any, NamedTuple

__all__ = [
    "BSN_SYSTEM",
    "Json",
    "Term",
    "coding",
    "concept",
    "extension",
    "identifier",
    "masked_bsn",
    "new_resource",
    "record_identifier",
    "reference",
    "ucum",
]

Json = dict[str, Any]

BSN_SYSTEM = "http://fhir.nl/fhir/NamingSystem/bsn"
_DATA_ABSENT_REASON = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"
_UCUM = "http://unitsofmeasure.org"


class Term(NamedTuple):
    """A code in a code system, with the display the generator shows for it."""

    system: str
    code: str
    display: str


def coding(term: Term) -> Json:
    return {"system": term.system, "code": term.code, "display": term.display}


def concept(*terms: Term, text: str | None = None) -> Json:
    """A CodeableConcept of one or more codings, optionally with text."""
    result: Json = {"coding": [coding(term) for term in terms]}
    if text is not None:
        result["text"] = text
    return result


def reference(resource: Json, display: str, *, typed: bool = False) -> Json:
    """A literal reference to `resource`; R4 fixtures also carry ``type`` (`typed`)."""
    result: Json = {"reference": f"{resource['resourceType']}/{resource['id']}"}
    if typed:
        result["type"] = resource["resourceType"]
    result["display"] = display
    return result


def identifier(system: str, value: str) -> Json:
    return {"system": system, "value": value}


def record_identifier(resource: Json) -> Json:
    """The business identifier of a generated record: its id as a ``urn:uuid`` URI."""
    return {"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{resource['id']}"}


def masked_bsn() -> Json:
    """The BSN identifier as the fixtures write it: system, and a value that is absent."""
    return {
        "system": BSN_SYSTEM,
        "_value": {"extension": [{"url": _DATA_ABSENT_REASON, "valueCode": "masked"}]},
    }


def ucum(value: float | int, unit: str, code: str) -> Json:
    return {"value": value, "unit": unit, "system": _UCUM, "code": code}


def extension(url: str, value_type: str, value: Any) -> Json:
    """An extension with one value, e.g. ``extension(url, "valueString", "…")``."""
    return {"url": url, value_type: value}


def new_resource(resource_type: str, resource_id: str, profile: str) -> Json:
    return {"resourceType": resource_type, "id": resource_id, "meta": {"profile": [profile]}}
