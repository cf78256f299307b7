"""The resource server's store: datasets in a database, patient-bound FHIR search and read.

The HTTP layer uses `Repository` and the search types; data sources hand it `Dataset`s
(`zorgaanbieder.dataset`). SQLite by default, PostgreSQL by URL (DESIGN.md §8).
"""

from __future__ import annotations

from .loading import DatasetError
from .repository import Repository
from .search import (
    SearchError,
    SearchRequest,
    SearchResult,
    StoredResource,
    unsupported_params,
)

__all__ = [
    "DatasetError",
    "Repository",
    "SearchError",
    "SearchRequest",
    "SearchResult",
    "StoredResource",
    "unsupported_params",
]
