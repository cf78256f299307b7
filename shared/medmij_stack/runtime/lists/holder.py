"""The lists a node currently trusts, and how a new version replaces them.

Receivers validate every new list against its schema and keep using the last good
one when a new one fails ("XML-schema's" page; docs/protocol.md#the-lists). On top
of that a holder refuses a list that may not follow the last one it accepted
(`medmij_stack.protocol.lists.succession`): a lower Volgnummer (so an old list cannot be
replayed; the spec raises Volgnummer by one per publication but does not state this
rule), the same Volgnummer with other content, a Volgnummer that jumps absurdly far, a
Tijdstempel that goes backwards or lies in the future. The last two kinds would
otherwise lock the node out of every later list.

With a `state_dir` the mark of the last accepted list is kept on disk
(`medmij_stack.runtime.lists.state`), so a restarted node still refuses what it refused
before the restart. A refusal is kept as `last_refusal` until a list is accepted, for
the node's health report.

`ListHolder` holds one list; `ListSet` holds all four and refreshes them from the
network via `medmij_stack.runtime.lists.fetch`. Parsing and validating run in a worker
thread there: a large list must not stall the node's event loop.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
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
from medmij_stack.protocol.lists.succession import MAX_VOLGNUMMER_STEP, Mark, refusal
from medmij_stack.runtime.lists.fetch import FetchError, fetch_document
from medmij_stack.runtime.lists.state import read_mark, state_file, write_mark

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
        state_dir: Path | None = None,
        clock: Callable[[], datetime] = ...,
        max_step: int = MAX_VOLGNUMMER_STEP,
    ) -> None: ...
    @overload
    def __init__(
        self: ListHolder[OAuthclientlist],
        kind: Literal[ListKind.OCL],
        *,
        development: bool = False,
        max_bytes: int = DEFAULT_MAX_BYTES,
        state_dir: Path | None = None,
        clock: Callable[[], datetime] = ...,
        max_step: int = MAX_VOLGNUMMER_STEP,
    ) -> None: ...
    @overload
    def __init__(
        self: ListHolder[Gegevensdienstnamenlijst],
        kind: Literal[ListKind.GNL],
        *,
        development: bool = False,
        max_bytes: int = DEFAULT_MAX_BYTES,
        state_dir: Path | None = None,
        clock: Callable[[], datetime] = ...,
        max_step: int = MAX_VOLGNUMMER_STEP,
    ) -> None: ...
    @overload
    def __init__(
        self: ListHolder[Whitelist],
        kind: Literal[ListKind.WHITELIST],
        *,
        development: bool = False,
        max_bytes: int = DEFAULT_MAX_BYTES,
        state_dir: Path | None = None,
        clock: Callable[[], datetime] = ...,
        max_step: int = MAX_VOLGNUMMER_STEP,
    ) -> None: ...
    @overload
    def __init__(
        self: ListHolder[MedMijList],
        kind: ListKind,
        *,
        development: bool = False,
        max_bytes: int = DEFAULT_MAX_BYTES,
        state_dir: Path | None = None,
        clock: Callable[[], datetime] = ...,
        max_step: int = MAX_VOLGNUMMER_STEP,
    ) -> None: ...
    def __init__(
        self,
        kind: ListKind,
        *,
        development: bool = False,
        max_bytes: int = DEFAULT_MAX_BYTES,
        state_dir: Path | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        max_step: int = MAX_VOLGNUMMER_STEP,
    ) -> None:
        self.kind = kind
        self.development = development
        self.max_bytes = max_bytes
        self.max_step = max_step
        self._clock = clock
        self._lock = threading.Lock()
        # One attribute, so readers always see a model with its own bytes.
        self._state: tuple[L_co, bytes] | None = None
        self._file = None if state_dir is None else state_file(state_dir, kind)
        # The last accepted list, also from before a restart (raises ListStateError
        # for a damaged file: see medmij_stack.runtime.lists.state).
        self._mark: Mark | None = None if self._file is None else read_mark(self._file)
        self.last_refusal: Refusal | None = None

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

    @property
    def mark(self) -> Mark | None:
        """The last accepted list's Volgnummer, Tijdstempel and digest (kept on disk)."""
        return self._mark

    def offer(self, data: bytes) -> L_co:
        """Validate `data` and make it the current list; return the list in force.

        Raises `ListRefused` (keeping the current list) when the document is not a
        valid list or may not follow the last accepted one (see the module docstring).
        An identical re-offer of the current list is accepted and changes nothing;
        after a restart, so is the list the mark on disk describes.
        """
        try:
            parsed = parse_list(
                self.kind, data, development=self.development, max_bytes=self.max_bytes
            )
        except ListValidationError as exc:
            raise self._refused(None, str(exc)) from exc
        if not isinstance(parsed, _MODEL_TYPES[self.kind]):
            raise TypeError(f"parser returned {type(parsed).__name__} for {self.kind}")
        new = cast("L_co", parsed)
        with self._lock:
            state = self._state
            held = None if state is None else state[0]
            if held is not None and new == held:
                # The usual refresh: nothing changed (compared as models, no digest).
                self.last_refusal = None
                return held
            reason = refusal(self._mark, new, now=self._clock(), max_step=self.max_step)
            if reason is not None:
                raise self._refused(new, reason)
            mark = self._mark
            if mark is None or new.volgnummer != mark.volgnummer:
                mark = Mark.of(new)
                if self._file is not None:
                    try:
                        write_mark(self._file, mark)
                    except OSError as exc:
                        # A list whose Volgnummer cannot be kept is not taken: after a
                        # restart the node would not know to refuse an older one.
                        where = f"{self._file}: {exc.strerror or exc}"
                        raise self._refused(new, f"cannot keep its Volgnummer in {where}") from exc
            self._mark = mark
            self._state = (new, data)
            self.last_refusal = None
        logger.info("%s Volgnummer %d accepted", self.kind.root, new.volgnummer)
        return new

    def _refused(self, lst: MedMijList | None, reason: str) -> ListRefused:
        self.last_refusal = Refusal(
            volgnummer=None if lst is None else lst.volgnummer,
            tijdstempel=None if lst is None else lst.tijdstempel,
            reason=reason,
        )
        return ListRefused(self.kind, reason)


@dataclass(frozen=True)
class Refusal:
    """A list a holder did not take, for the node's health report.

    Volgnummer and Tijdstempel are None when the document was no valid list at all.
    """

    volgnummer: int | None
    tijdstempel: datetime | None
    reason: str


class ListSet:
    """The four lists of a node, each in its own holder."""

    def __init__(
        self,
        *,
        development: bool = False,
        max_bytes: int = DEFAULT_MAX_BYTES,
        state_dir: Path | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        """`state_dir`: where each holder keeps the mark of its last accepted list;
        `clock`: the node's time, which a list's Tijdstempel may not lie too far ahead of."""
        self.zal = ListHolder(
            ListKind.ZAL,
            development=development,
            max_bytes=max_bytes,
            state_dir=state_dir,
            clock=clock,
        )
        self.ocl = ListHolder(
            ListKind.OCL,
            development=development,
            max_bytes=max_bytes,
            state_dir=state_dir,
            clock=clock,
        )
        self.gnl = ListHolder(
            ListKind.GNL,
            development=development,
            max_bytes=max_bytes,
            state_dir=state_dir,
            clock=clock,
        )
        self.whitelist = ListHolder(
            ListKind.WHITELIST,
            development=development,
            max_bytes=max_bytes,
            state_dir=state_dir,
            clock=clock,
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
            # Parsing and validating take time in proportion to the list: in a worker
            # thread, so that the node keeps serving meanwhile.
            await asyncio.to_thread(self.holder(kind).offer, data)
        except (FetchError, ListRefused) as exc:
            # The caller reports it: only it knows whether a failure is news (a node
            # that is still waiting for a starting Stelselnode expects a few).
            return exc.reason if isinstance(exc, ListRefused) else str(exc)
        return None
