"""The lists at run time: fetching them over HTTPS (`fetch`) and the holder a node keeps its
current, validated lists in, falling back to the last good one (`holder`)."""

from medmij_stack.runtime.lists.fetch import FetchError, fetch_document
from medmij_stack.runtime.lists.holder import ListHolder, ListSet

__all__ = ["FetchError", "ListHolder", "ListSet", "fetch_document"]
