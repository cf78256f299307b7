"""Synthetic Dutch patients for a zorgaanbieder: a rich demo without the Nictiz material.

`synthetic_datasets` makes one `Dataset` per gegevensdienst the zorgaanbieder serves:

* 48, BgZ 3.0 (FHIR STU3): for each person a zib2017 record with a section per BgZ
  search (patient and general practitioner, payer, directives, problems, lifestyle,
  alerts, allergies, medication, devices, vaccinations, vital signs, laboratory results,
  procedures, contacts and planned care), profiled as the Nictiz qualification
  fixtures are (``meta.profile``), with the codes the BgZ queries select on (`bgz`);
* 63, Vaccinaties (FHIR R4): vaccination histories in the Vaccination-Immunization 2.x
  shape (`r4_vaccination`).

The output is a pure function of its inputs: ids, choices and dates derive from the
seed, the zorgaanbieder and the persons (`context`), never from the clock. Persons are
those of `medmij_stack.protocol.persons`, whose test BSNs link a DigiD login to a record; a BSN is
never written into a resource (the Patient's BSN identifier is masked, as in the
fixtures) and lives only in the dataset's `PatientRecord`.
"""

from __future__ import annotations

import gc
import hashlib
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from medmij_stack.protocol.fhir import FhirVersion
from medmij_stack.protocol.persons import TestPerson
from medmij_stack.zorgaanbieder.dataset import Dataset, EndpointKey, PatientRecord

from .bgz import bgz_records
from .context import reference_date
from .r4_vaccination import vaccination_records

__all__ = ["GEGEVENSDIENSTEN", "synthetic_datasets"]

#: The gegevensdiensten the generator can fill, with their FHIR version (as in the catalogue).
GEGEVENSDIENSTEN: dict[str, FhirVersion] = {"48": FhirVersion.STU3, "63": FhirVersion.R4}


def synthetic_datasets(
    zorgaanbieder: str,
    gegevensdiensten: Sequence[str],
    persons: Sequence[TestPerson],
    *,
    seed: int,
    incomplete: bool = False,
) -> tuple[Dataset, ...]:
    """One dataset per gegevensdienst (in the order given, repeats ignored).

    The first of `persons` gets every BgZ section (the demo login); the others vary.
    `incomplete` leaves out a random part of each person's data. Raises ValueError for a
    gegevensdienst the generator cannot fill.
    """
    unknown = [g for g in gegevensdiensten if g not in GEGEVENSDIENSTEN]
    if unknown:
        raise ValueError(
            f"no synthetic data for gegevensdienst {', '.join(unknown)}; "
            f"the generator fills {', '.join(GEGEVENSDIENSTEN)}"
        )
    bsns = [person.bsn for person in persons]
    if len(set(bsns)) != len(bsns):
        raise ValueError("persons must have distinct BSNs")
    today = reference_date(seed)
    datasets = []
    for gegevensdienst in dict.fromkeys(gegevensdiensten):
        build = bgz_records if gegevensdienst == "48" else vaccination_records
        with _without_cycle_collection():
            resources, patients = build(seed, zorgaanbieder, persons, today, incomplete=incomplete)
        datasets.append(
            Dataset(
                endpoint=EndpointKey(zorgaanbieder, gegevensdienst),
                fhir_version=GEGEVENSDIENSTEN[gegevensdienst],
                resources=tuple(resources),
                patients=tuple(PatientRecord(pid, bsn) for pid, bsn in patients),
                source=f"synthetic:seed={seed}" + (",incomplete" if incomplete else ""),
                version=_digest(resources, patients),
            )
        )
    return tuple(datasets)


def _digest(resources: Sequence[dict[str, object]], patients: Sequence[tuple[str, str]]) -> str:
    # Resources are built in a fixed key order, so no key sorting is needed to be stable.
    digest = hashlib.sha256()
    for part in (patients, resources):
        digest.update(json.dumps(part, separators=(",", ":"), check_circular=False).encode())
    return digest.hexdigest()


@contextmanager
def _without_cycle_collection() -> Iterator[None]:
    """Pause the cycle collector while building: the generator makes only trees of dicts
    and lists (no cycles to find), and the collector's repeated passes over hundreds of
    thousands of new containers would otherwise take half the time."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
