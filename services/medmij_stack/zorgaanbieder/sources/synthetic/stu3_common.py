"""Pieces several BgZ (STU3) sections share: code specifications and dosages."""

from __future__ import annotations

from . import codes
from .fhir import Json, Term, concept
from .profiles import CODE_SPECIFICATION

__all__ = ["code_specification", "dosage"]


def code_specification(term: Term) -> Json:
    """The ``_element`` of a FHIR code that also carries the zib's own code for it."""
    return {"extension": [{"url": CODE_SPECIFICATION, "valueCodeableConcept": concept(term)}]}


def dosage(product: codes.Product) -> Json:
    unit, unit_code = codes.PIECE
    return {
        "sequence": 1,
        "text": f"{product.per_day} maal per dag 1 {product.dose}, oraal",
        "timing": {"repeat": {"frequency": product.per_day, "period": 1, "periodUnit": "d"}},
        "route": concept(codes.ORAL),
        "doseQuantity": {
            "value": 1,
            "unit": unit,
            "system": codes.G_STANDARD_UNIT,
            "code": unit_code,
        },
    }
