"""The lists a node currently trusts, and how a new version replaces them.

Receivers validate every new list against its schema and keep using the last good
one when a new one fails ("XML-schema's" page; docs/MEDMIJ.md section 2.1). On top
of that a holder refuses a list whose Volgnummer is lower than the one it holds, so
an old list cannot be replayed (anti-rollback; the spec raises Volgnummer by one
per publication but does not state this rule). A list with the same Volgnummer is
accepted only when its content is identical (then nothing changes): a changed list
must have a new number.

`ListHolder` holds one list; `ListSet` holds all four and refreshes them from the
network via `medmij_stack.runtime.lists.fetch`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Generic, Literal, TypeVar, cast, overload

from medmij_stack.protocol.lists.errors import ListRefused, ListValidationError
from medmij_stack.protocol.lists.hardened import DEFAULT_MAX_BYTES
from medmij_stack.protocol.lists.models import (
    Gegevensdienstnamenlijst,
    ListKind,
    MedMijList,
    OAuthclientlist,
    Whitelist,
    Zorgaanbiederslijst,
)
from medmij_stack.protocol.lists.reader import parse_list
from medmij_stack.runtime.lists.fetch import FetchError, fetch_document

if TYPE_CHECKING:
    import httpx

logger = logging.getLogger(__name__)

L_co = TypeVar("L_co", bound=MedMijList, covariant=True)

_MODEL_TYPES: dict[ListKind, type[MedMijList]] = {
    ListKind.ZAL: Zorgaanbiederslijst,
    ListKind.OCL: OAuthclientlist,
    ListKind.GNL: Gegevensdienstnamenlijst,
    ListKind.WHITELIST: Whitelist,
}


class ListHolder(Generic[L_co]):
    """The current version of one list, replaced atomically by `offer`. Thread-safe.

    `ListHolder(ListKind.ZAL)` is typed `ListHolder[Zorgaanbiederslijst]`, and so on.
    """

    @overload
    def __init__(
        self: ListHolder[Zorgaanbiederslijst],
        kind: Literal[ListKind.ZAL],
        *,
        development: bool = False,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None: ...
    @overload
    def __init__(
        self: ListHolder[OAuthclientlist],
        kind: Literal[ListKind.OCL],
        *,
        development: bool = False,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None: ...
    @overload
    def __init__(
        self: ListHolder[Gegevensdienstnamenlijst],
        kind: Literal[ListKind.GNL],
        *,
        development: bool = False,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None: ...
    @overload
    def __init__(
        self: ListHolder[Whitelist],
        kind: Literal[ListKind.WHITELIST],
        *,
        development: bool = False,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None: ...
    @overload
    def __init__(
        self: ListHolder[MedMijList],
        kind: ListKind,
        *,
        development: bool = False,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None: ...
    def __init__(
        self,
        kind: ListKind,
        *,
        development: bool = False,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        self.kind = kind
        self.development = development
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        # One attribute, so readers always see a model with its own bytes.
        self._state: tuple[L_co, bytes] | None = None

    @property
    def current(self) -> L_co | None:
        """The list in force, or None before the first one was accepted."""
        state = self._state
        return None if state is None else state[0]

    @property
    def raw(self) -> bytes | None:
        """The document the current list was read from, for serving it on unchanged."""
        state = self._state
        return None if state is None else state[1]

    @property
    def volgnummer(self) -> int | None:
        current = self.current
        return None if current is None else current.volgnummer

    def offer(self, data: bytes) -> L_co:
        """Validate `data` and make it the current list; return the list in force.

        Raises `ListRefused` (keeping the current list) when the document is not a
        valid list, when its Volgnummer is lower than the current one, or when it
        has the current Volgnummer but different content. An identical re-offer of
        the current list is accepted and changes nothing.
        """
        try:
            parsed = parse_list(
                self.kind, data, development=self.development, max_bytes=self.max_bytes
            )
        except ListValidationError as exc:
            raise ListRefused(self.kind, str(exc)) from exc
        if not isinstance(parsed, _MODEL_TYPES[self.kind]):
            raise TypeError(f"parser returned {type(parsed).__name__} for {self.kind}")
        new = cast("L_co", parsed)
        with self._lock:
            state = self._state
            if state is not None:
                held = state[0]
                if new.volgnummer < held.volgnummer:
                    raise ListRefused(
                        self.kind,
                        f"Volgnummer {new.volgnummer} is lower than the held {held.volgnummer}",
                    )
                if new.volgnummer == held.volgnummer:
                    if new != held:
                        raise ListRefused(
                            self.kind,
                            f"Volgnummer {new.volgnummer} is already held with different "
                            "content; a changed list needs a higher Volgnummer",
                        )
                    return held
            self._state = (new, data)
        logger.info("%s Volgnummer %d accepted", self.kind.root, new.volgnummer)
        return new


class ListSet:
    """The four lists of a node, each in its own holder."""

    def __init__(self, *, development: bool = False, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.zal = ListHolder(ListKind.ZAL, development=development, max_bytes=max_bytes)
        self.ocl = ListHolder(ListKind.OCL, development=development, max_bytes=max_bytes)
        self.gnl = ListHolder(ListKind.GNL, development=development, max_bytes=max_bytes)
        self.whitelist = ListHolder(
            ListKind.WHITELIST, development=development, max_bytes=max_bytes
        )
        self.max_bytes = max_bytes

    def holder(self, kind: ListKind) -> ListHolder[MedMijList]:
        holders: dict[ListKind, ListHolder[MedMijList]] = {
            ListKind.ZAL: self.zal,
            ListKind.OCL: self.ocl,
            ListKind.GNL: self.gnl,
            ListKind.WHITELIST: self.whitelist,
        }
        return holders[kind]

    __getitem__ = holder

    async def refresh(
        self, client: httpx.AsyncClient, urls: Mapping[ListKind, str]
    ) -> dict[ListKind, str | None]:
        """Fetch each list from its URL and offer it to its holder, concurrently.

        Returns, per kind in `urls`, None when the list was accepted (or was already
        held unchanged) and otherwise the reason it was not. Never raises for one
        bad list: a failed fetch or a refused document leaves the last good list.
        """
        kinds = list(urls)
        outcomes = await asyncio.gather(*(self._refresh_one(client, k, urls[k]) for k in kinds))
        return dict(zip(kinds, outcomes, strict=True))

    async def _refresh_one(self, client: httpx.AsyncClient, kind: ListKind, url: str) -> str | None:
        try:
            data = await fetch_document(client, url, max_bytes=self.max_bytes)
            self.holder(kind).offer(data)
        except (FetchError, ListRefused) as exc:
            # The caller reports it: only it knows whether a failure is news (a node
            # that is still waiting for a starting Stelselnode expects a few).
            return exc.reason if isinstance(exc, ListRefused) else str(exc)
        return None
