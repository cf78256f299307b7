"""Turn a Dataset into the rows the store writes: checked, indexed, access computed.

Everything here happens once per load and without a database, so that the work a search
needs (tokens, owners, $lastn keys, which shared resources each patient may read) is
done before any request arrives (docs/architecture.md#performance-budgets: "validation and
serialization work belongs at load time, not on the hot path").

Which shared resources a patient may read: those their own resources reference,
anywhere in the resource (extensions and contained resources included), and, following
references from shared resource to shared resource, whatever those reach (a Practitioner-
Role's Organization). Nothing else: a token cannot enumerate other patients' providers.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from medmij_stack.zorgaanbieder.dataset import Dataset

from . import compartment, indexing
from .indexing import Token

__all__ = ["DatasetError", "PreparedDataset", "PreparedResource", "prepare", "token_digest"]

_TYPE = re.compile(r"[A-Z][A-Za-z]{1,63}")
_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_BSN = re.compile(r"[0-9]{9}")


class DatasetError(ValueError):
    """A dataset the store refuses to load; the message names the resource or record."""


def token_digest(token: str) -> str:
    """How a qualification token is stored and looked up: its SHA-256, hex."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(slots=True)
class PreparedResource:
    position: int
    resource_type: str
    fhir_id: str
    patient_key: str | None
    lastn_code: str | None
    effective: str | None
    content: str
    tokens: set[Token]
    references: list[int] = field(default_factory=list)  # positions of resolvable targets


@dataclass(frozen=True)
class PreparedDataset:
    resources: list[PreparedResource]
    shared_access: dict[str, set[int]]  # patient_key → positions of readable shared resources
    patients: list[tuple[str, str | None, bool]]  # (patient_id, bsn, has_data)
    tokens: list[tuple[str, str]]  # (token SHA-256, patient_id)


def _serialise(resource: Mapping[str, Any], where: str) -> str:
    try:
        return json.dumps(resource, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as error:
        raise DatasetError(f"{where} is not JSON: {error}") from error


def _prepare_resources(dataset: Dataset) -> list[PreparedResource]:
    prepared: list[PreparedResource] = []
    seen: dict[tuple[str, str], int] = {}
    version = dataset.fhir_version
    for position, resource in enumerate(dataset.resources):
        resource_type, fhir_id = resource.get("resourceType"), resource.get("id")
        where = f"resource #{position} of {dataset.source}"
        if not isinstance(resource_type, str) or not _TYPE.fullmatch(resource_type):
            raise DatasetError(f"{where} has no valid resourceType")
        if not isinstance(fhir_id, str) or not _ID.fullmatch(fhir_id):
            raise DatasetError(f"{where} ({resource_type}) has no valid id: {fhir_id!r}")
        key = (resource_type, fhir_id)
        if key in seen:
            raise DatasetError(f"{resource_type}/{fhir_id} occurs twice in {dataset.source}")
        seen[key] = position
        is_observation = resource_type == "Observation"
        prepared.append(
            PreparedResource(
                position=position,
                resource_type=resource_type,
                fhir_id=fhir_id,
                patient_key=compartment.owner(version, resource),
                lastn_code=indexing.lastn_code(resource) if is_observation else None,
                effective=indexing.effective(resource) if is_observation else None,
                content=_serialise(resource, f"{where} ({resource_type}/{fhir_id})"),
                tokens=indexing.tokens(version, resource),
            )
        )
    for item in prepared:
        targets = {seen.get(reference) for reference in indexing.all_references(item.content)}
        item.references = sorted(target for target in targets if target is not None)
    return prepared


def _shared_access(resources: list[PreparedResource]) -> dict[str, set[int]]:
    by_patient: dict[str, list[PreparedResource]] = defaultdict(list)
    for item in resources:
        if item.patient_key is not None:
            by_patient[item.patient_key].append(item)
    access: dict[str, set[int]] = {}
    for patient_key, own in by_patient.items():
        reachable: set[int] = set()
        frontier = [t for item in own for t in item.references]
        while frontier:  # bounded: each shared resource enters `reachable` once
            target = frontier.pop()
            if target in reachable or resources[target].patient_key is not None:
                continue
            reachable.add(target)
            frontier.extend(resources[target].references)
        access[patient_key] = reachable
    return access


def prepare(dataset: Dataset) -> PreparedDataset:
    """Check and index a dataset; raises DatasetError when it cannot be served safely."""
    resources = _prepare_resources(dataset)
    patient_ids = {r.fhir_id for r in resources if r.resource_type == "Patient"}
    with_data = {r.patient_key for r in resources if r.resource_type != "Patient"}

    patients: list[tuple[str, str | None, bool]] = []
    seen_patients: set[str] = set()
    seen_bsns: set[str] = set()
    for record in dataset.patients:
        if record.patient_id not in patient_ids:
            raise DatasetError(f"patient record {record.patient_id!r} has no Patient resource")
        if record.patient_id in seen_patients:
            raise DatasetError(f"patient record {record.patient_id!r} occurs twice")
        seen_patients.add(record.patient_id)
        if record.bsn is not None:
            if not _BSN.fullmatch(record.bsn):
                raise DatasetError(f"patient record {record.patient_id!r}: BSN is not 9 digits")
            if record.bsn in seen_bsns:
                raise DatasetError(f"two patient records share the BSN of {record.patient_id!r}")
            seen_bsns.add(record.bsn)
        patients.append((record.patient_id, record.bsn, record.patient_id in with_data))

    tokens: dict[str, str] = {}
    for token in dataset.tokens:
        if not token.token:
            raise DatasetError(f"empty qualification token for {token.patient_id!r}")
        if token.patient_id not in patient_ids:
            raise DatasetError(f"a qualification token names no Patient: {token.patient_id!r}")
        digest = token_digest(token.token)
        if tokens.setdefault(digest, token.patient_id) != token.patient_id:
            raise DatasetError("one qualification token is bound to two patients")

    return PreparedDataset(
        resources=resources,
        shared_access=_shared_access(resources),
        patients=patients,
        tokens=list(tokens.items()),
    )
