"""Short calls for the store tests."""

from __future__ import annotations

from collections.abc import Iterable

from medmij_stack.protocol import catalogue
from medmij_stack.protocol.fhir import FhirFormat, FhirVersion
from medmij_stack.zorgaanbieder.dataset import EndpointKey
from medmij_stack.zorgaanbieder.store import (
    Repository,
    SearchPlan,
    SearchResult,
    StoredResource,
    plan_search,
)

from .data import BGZ


def query(query_string: str) -> tuple[tuple[str, str], ...]:
    """`a=1&b=2` as decoded pairs, the way the HTTP layer hands them over."""
    if not query_string:
        return ()
    return tuple(
        (name, value) for name, _, value in (p.partition("=") for p in query_string.split("&"))
    )


def plan(
    path: str, version: FhirVersion = FhirVersion.STU3, *, lenient: bool = False
) -> SearchPlan:
    """The plan of `GET [base]/<path>`, e.g. `Observation/$lastn?code=…`, as the HTTP layer
    makes it (JSON)."""
    resource_path, _, query_string = path.partition("?")
    resource_type, _, operation = resource_path.partition("/")
    return plan_search(
        version,
        resource_type,
        query(query_string),
        lastn=operation == "$lastn",
        fmt=FhirFormat.JSON,
        lenient=lenient,
    )


def search(
    repository: Repository,
    path: str,
    patient: str = "pat-a",
    endpoint: EndpointKey = BGZ,
) -> SearchResult:
    """Plan `GET [base]/<path>` for the endpoint's FHIR version, and run it."""
    version = catalogue.get(endpoint.gegevensdienst).fhir_version
    assert version is not None
    return repository.search(endpoint, patient, plan(path, version))


def ids(resources: Iterable[StoredResource]) -> list[str]:
    return [f"{r.resource_type}/{r.id}" for r in resources]


def match_ids(repository: Repository, path: str, patient: str = "pat-a") -> list[str]:
    return ids(search(repository, path, patient).matches)
