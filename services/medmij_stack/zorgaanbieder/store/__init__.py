"""The resource server's store: datasets in a database, patient-bound FHIR search and read.

The HTTP layer plans each search once (`plan_search`) and hands the `SearchPlan` to the
`Repository`, which runs it; data sources hand the repository `Dataset`s
(`zorgaanbieder.dataset`). SQLite by default, PostgreSQL by URL.
"""

from __future__ import annotations

from .loading import DatasetError
from .repository import Repository
from .search import (
    SearchError,
    SearchPlan,
    SearchResult,
    StoredResource,
    plan_search,
)

__all__ = [
    "DatasetError",
    "Repository",
    "SearchError",
    "SearchPlan",
    "SearchResult",
    "StoredResource",
    "plan_search",
]
