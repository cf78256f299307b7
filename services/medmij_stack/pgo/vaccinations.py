"""The vaccination page: what, when, where and by whom, from Vaccinaties (63) and BgZ (48).

R4 (Vaccinaties, Nictiz ``imm-Vaccination-event``) names the product in the extension
``ext-imm-Vaccination.PharmaceuticalProduct`` (a Medication the PGO read after the
search), the moment in ``occurrenceDateTime``, the place in ``location`` and who
vaccinated in ``performer.actor``. STU3 (BgZ ``zib-Vaccination``) has ``date``,
``vaccineCode`` and ``practitioner.actor``. Both are read here; what is missing is left
empty rather than guessed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .fhir_display import Resolver, concept, dutch_date
from .records import StoredRecord

__all__ = ["PRODUCT_EXTENSION", "Vaccination", "vaccinations"]

PRODUCT_EXTENSION = (
    "http://nictiz.nl/fhir/StructureDefinition/ext-imm-Vaccination.PharmaceuticalProduct"
)


@dataclass(frozen=True)
class Vaccination:
    vaccine: str
    product: str | None
    batch: str | None
    when: str | None
    sort_key: str
    where: str | None
    by: str | None
    dose: str | None
    record: StoredRecord


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else ([] if value is None else [value])


def _product(resource: Mapping[str, Any], resolver: Resolver) -> tuple[str | None, str | None]:
    for extension in _list(resource.get("extension")):
        if isinstance(extension, Mapping) and extension.get("url") == PRODUCT_EXTENSION:
            reference = extension.get("valueReference")
            target = resolver.target(reference)
            batch = None
            if target is not None and isinstance(target.get("batch"), Mapping):
                lot = target["batch"].get("lotNumber")
                batch = lot if isinstance(lot, str) else None
            return resolver.name(reference), batch
    return None, None


def _dose(resource: Mapping[str, Any]) -> str | None:
    for protocol in _list(resource.get("protocolApplied")) + _list(
        resource.get("vaccinationProtocol")
    ):
        if not isinstance(protocol, Mapping):
            continue
        number = protocol.get("doseNumberPositiveInt") or protocol.get("doseSequence")
        if isinstance(number, int):
            return f"dosis {number}"
    return None


def vaccinations(records: Iterable[StoredRecord]) -> list[Vaccination]:
    """Every Immunization of every source, newest first; each once per source."""
    every = list(records)
    resolvers = {
        key: Resolver.of(r.resource for r in every if (r.zorgaanbieder, r.gegevensdienst) == key)
        for key in {(r.zorgaanbieder, r.gegevensdienst) for r in every}
    }
    seen: set[tuple[str, str, str, str]] = set()
    found = []
    for record in every:
        resource = record.resource
        if record.resource_type != "Immunization" or record.key in seen:
            continue
        seen.add(record.key)
        resolver = resolvers[(record.zorgaanbieder, record.gegevensdienst)]
        product, batch = _product(resource, resolver)
        moment = resource.get("occurrenceDateTime") or resource.get("date")
        performers = [
            resolver.name(p.get("actor"))
            for p in _list(resource.get("performer")) + _list(resource.get("practitioner"))
            if isinstance(p, Mapping)
        ]
        found.append(
            Vaccination(
                vaccine=concept(resource.get("vaccineCode")) or product or "Vaccinatie",
                product=product,
                batch=batch,
                when=dutch_date(moment),
                sort_key=moment if isinstance(moment, str) else "",
                where=resolver.name(resource.get("location")),
                by=", ".join(dict.fromkeys(p for p in performers if p)) or None,
                dose=_dose(resource),
                record=record,
            )
        )
    found.sort(key=lambda v: v.sort_key, reverse=True)
    return found
