"""What the HTTP layer asks of the store: the part of ``zorgaanbieder.store.Repository`` it uses.

Written as a Protocol so that the HTTP layer depends on these seven calls and nothing
else of the store, and so that the app can be given another implementation (a database
of a vendor's own, or a small one in a test).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Protocol

from .dataset import Dataset, EndpointKey
from .store import SearchPlan, SearchResult, StoredResource

__all__ = ["Records"]


class Records(Protocol):
    def load(self, dataset: Dataset) -> bool:
        """Make the endpoint hold exactly this dataset; False when it already did."""
        ...

    def retain(self, endpoints: Collection[EndpointKey]) -> tuple[EndpointKey, ...]:
        """Remove the data of every endpoint not listed; returns the endpoints removed."""
        ...

    def search(self, endpoint: EndpointKey, patient_id: str, plan: SearchPlan) -> SearchResult:
        """Run a planned search (``store.plan_search``, already checked) on one patient's
        records: what matches its filters, and what its includes reach."""
        ...

    def read(
        self, endpoint: EndpointKey, patient_id: str, resource_type: str, resource_id: str
    ) -> StoredResource | None:
        """A resource this patient may read (their own, or shared ones they reference)."""
        ...

    def patient_for_bsn(self, endpoint: EndpointKey, bsn: str) -> str | None: ...

    def available(
        self, zorgaanbieder: str, bsn: str, gegevensdiensten: tuple[str, ...]
    ) -> tuple[str, ...]:
        """The gegevensdiensten among these for which this person has data here."""
        ...

    def token_patient(self, token: str) -> tuple[EndpointKey, str] | None:
        """The endpoint and patient a qualification token is bound to."""
        ...
