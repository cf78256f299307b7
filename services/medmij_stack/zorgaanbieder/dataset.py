"""What the resource server serves: datasets, one per (zorgaanbieder, gegevensdienst).

A dataset is what a data source (the Nictiz qualification fixtures, the synthetic
generator) hands the store: FHIR resources as JSON, which Patient resources are which
person, and — for qualification only — the fixed bearer tokens bound to patients.
Everything the resource server answers for one ResourceEndpointuri comes from exactly
one dataset, so that a token for one gegevensdienst can never reach another's data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from medmij_stack.protocol.fhir import FhirVersion

__all__ = ["Dataset", "EndpointKey", "PatientRecord", "QualificationToken"]


@dataclass(frozen=True, order=True)
class EndpointKey:
    """One FHIR base of the resource server: a zorgaanbieder's gegevensdienst."""

    zorgaanbieder: str  # Zorgaanbiedernaam, with "@medmij"
    gegevensdienst: str  # GegevensdienstId, e.g. "48"


@dataclass(frozen=True)
class PatientRecord:
    """A person in a dataset: the id of their Patient resource, and their BSN if known.

    The BSN is how a token from the DigiD flow finds the patient (introspection answers
    the BSN); it is never served. Nictiz qualification patients are found by token.
    """

    patient_id: str
    bsn: str | None = None


@dataclass(frozen=True)
class QualificationToken:
    """A fixed bearer token of the qualification material, bound to one patient."""

    token: str  # the token itself, without "Bearer "
    patient_id: str


@dataclass(frozen=True)
class Dataset:
    endpoint: EndpointKey
    fhir_version: FhirVersion
    resources: tuple[dict[str, Any], ...]  # FHIR JSON; every resource has an id
    patients: tuple[PatientRecord, ...]
    source: str  # where it came from, e.g. "nictiz:BgZ-3-0/Cert" or "synthetic:seed=1"
    version: str  # digest of the content: the store reloads only when it changed
    tokens: tuple[QualificationToken, ...] = field(default=())
    # Make every resource's XML (and find what has none) at load time, not on a request's:
    # the qualification material, whose TestScripts ask every answer in XML too. Other
    # data is asked JSON (the PGOs), so its XML is made on first demand.
    xml_at_load: bool = False
