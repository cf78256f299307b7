"""The checks every Nictiz XIS-Server search test makes, for use on our own Bundles.

The FHIRPath expressions are the generic asserts of the BgZ and Vaccinaties
qualification scripts, verbatim, numbered as in docs/qualification.md#generic-asserts
(assert numbers in brackets), evaluated with fhirpathpy and the right FHIR model (without
the model, type tests such as ``$this.is(Coding)`` match nothing and every check passes vacuously,
docs/qualification.md#fhirpath). The self-link rule is the Touchstone groovy rule
``assert_response_queryParamsInSelfLink`` redone in Python from its description.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

from fhirpathpy import evaluate
from fhirpathpy.models import models

from medmij_stack.protocol.fhir import FhirVersion

_OID = r"'^urn:oid:[0-2](\\.(0|[1-9]\\d*))*$'"
_UUID = r"'^urn:uuid:[A-Fa-f\\d]{8}-[A-Fa-f\\d]{4}-[A-Fa-f\\d]{4}-[A-Fa-f\\d]{4}-[A-Fa-f\\d]{12}$'"

GENERIC_ASSERTS: tuple[tuple[str, str], ...] = (
    ("[3] searchset", "Bundle.type = 'searchset'"),
    (
        "[4] every entry has an id",
        f"Bundle.entry.all( $this.fullUrl.matches({_OID}) or $this.fullUrl.matches({_UUID}) "
        "or $this.resource.id.exists())",
    ),
    (
        "[5] meta.profile",
        "Bundle.entry.resource.where(is(OperationOutcome).not()).where(is(Binary).not())"
        ".where(meta.profile.empty()).empty()",
    ),
    (
        "[6] fullUrl ends in the id",
        "Bundle.entry.where(fullUrl.exists() and resource.id.exists())"
        ".all($this.fullUrl.endsWith($this.resource.id))",
    ),
    (
        "[7] fullUrl absolute",
        "Bundle.entry.fullUrl.all( startsWith('http://') or startsWith('https://') "
        f"or matches({_OID}) or matches({_UUID}) )",
    ),
    (
        "[9] Coding system and code",
        "Bundle.descendants().where($this.is(Coding)).all(system.exists() and code.exists())",
    ),
    (
        "[10] no zib value-set OID",
        "Bundle.descendants().where($this.is(coding))"
        ".where(system.startsWith('urn:oid:2.16.840.1.113883.2.4.3.11.60.40.2')).exists().not()",
    ),
    (
        "[11] CodeableConcept display or text",
        "Bundle.descendants().where($this.is(CodeableConcept)) "
        ".all(coding.display.exists() or text.exists() or extension.exists())",
    ),
    (
        "[12] Reference display",
        "Bundle.descendants().where($this.is(Reference)).all(display.exists() or "
        "extension.where(url = 'http://hl7.org/fhir/StructureDefinition/data-absent-reason')"
        ".exists() or extension.where(url = "
        "'http://hl7.org/fhir/StructureDefinition/iso21090-nullFlavor').exists())",
    ),
    (
        "[13] Identifier system and value",
        "Bundle.descendants().where($this.is(Identifier))"
        ".all((system.exists() or type.exists()) and value.exists())",
    ),
    (
        "[14] no BSN",
        "Bundle.descendants().select(identifier.where(system = "
        "'http://fhir.nl/fhir/NamingSystem/bsn').where(value.empty().not() and "
        "value.extension.exists().not())).count() = 0",
    ),
    (
        "[15] total <= matches",
        "Bundle.total.exists() implies (Bundle.total.toInteger() <= "
        "Bundle.entry.where(search.empty() or search.mode = 'match').count())",
    ),
    ("[16] self link", "Bundle.link.where(relation = 'self' and url.exists()).exists()"),
    (
        "[17] no BSN in the self link",
        "Bundle.link.url.contains('http://fhir.nl/fhir/NamingSystem/bsn') = false",
    ),
)


def fhirpath(resource: dict[str, Any], expression: str, version: FhirVersion) -> list[Any]:
    # fhirpathpy names its models by release in lower case: "stu3", "r4".
    result: list[Any] = evaluate(resource, expression, {}, models[version.release.lower()])
    return result


def generic_failures(bundle: dict[str, Any], version: FhirVersion) -> list[str]:
    """The generic asserts this Bundle fails (none, for a good server)."""
    return [
        name
        for name, expression in GENERIC_ASSERTS
        if fhirpath(bundle, expression, version) != [True]
    ]


def _pairs(url: str) -> list[tuple[str, str]]:
    query = urlsplit(url).query
    pairs = []
    for part in query.split("&") if query else ():
        name, _, value = part.partition("=")
        pairs.append((unquote(name), unquote(value)))
    return pairs


def params_missing_from_self_link(request_url: str, bundle: dict[str, Any]) -> list[str]:
    """Request parameters the self link does not repeat (rule queryParamsInSelfLink).

    Both URLs are decoded; each ``name=value`` of the request must be among the self
    link's, where a reference value may be given as ``Type/id`` or as the bare id.
    """
    links = [link["url"] for link in bundle.get("link", []) if link.get("relation") == "self"]
    if not links:
        return ["(no self link)"]
    offered = _pairs(links[0])
    missing = []
    for name, value in _pairs(request_url):
        lenient = {value, value.rpartition("/")[2]}
        if not any(n == name and (v in lenient or value.endswith("/" + v)) for n, v in offered):
            missing.append(f"{name}={value}")
    return missing
