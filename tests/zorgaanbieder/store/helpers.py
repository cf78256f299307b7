"""Short calls for the store tests."""

from __future__ import annotations

from collections.abc import Iterable

from medmij_stack.zorgaanbieder.dataset import EndpointKey
from medmij_stack.zorgaanbieder.store import Repository, SearchRequest, SearchResult, StoredResource

from .data import BGZ


def query(query_string: str) -> tuple[tuple[str, str], ...]:
    """`a=1&b=2` as decoded pairs, the way the HTTP layer hands them over."""
    if not query_string:
        return ()
    return tuple(
        (name, value) for name, _, value in (p.partition("=") for p in query_string.split("&"))
    )


def search(
    repository: Repository,
    path: str,
    patient: str = "pat-a",
    endpoint: EndpointKey = BGZ,
) -> SearchResult:
    """Search as `GET [base]/<path>`, e.g. `Observation/$lastn?code=…`."""
    resource_path, _, query_string = path.partition("?")
    resource_type, _, operation = resource_path.partition("/")
    request = SearchRequest(resource_type, operation == "$lastn", query(query_string))
    return repository.search(endpoint, patient, request)


def ids(resources: Iterable[StoredResource]) -> list[str]:
    return [f"{r.resource_type}/{r.id}" for r in resources]


def match_ids(repository: Repository, path: str, patient: str = "pat-a") -> list[str]:
    return ids(search(repository, path, patient).matches)
