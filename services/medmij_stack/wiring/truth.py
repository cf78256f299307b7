"""The ground truth of one simulated attempt, found without the PGO's word for it.

``medmij simulate`` holds the PGO's stores against what really happened, so what really
happened may not come from the PGO. An attempt's ending is derived from, in this order:

1. the behaviour model and the world (:func:`medmij_stack.wiring.simulate.expected_endings`):
   when they allow exactly one ending (the person cancelled at DigiD; the zorgaanbieder
   shares nothing; its ``gedrag.foutkans`` is 1.0), that is the ending (basis ``model``);
2. otherwise (a zorgaanbieder with a failure chance, a langdurige toestemming that may let
   the PGO fetch without the DVA, a service the run took down) what the patient observed on
   the wire and what the other services recorded of the flow, never the PGO's verdict:

   ``browser``          the browser stopped at a screen (the person closed the tab, or
                        gave up at a DVA page that would not load while a service was down)
   ``callback``         the DVA's answer on the redirect URI, as the browser was sent there
                        (``error`` and ``error_description``, read with the exception table
                        of docs/protocol.md#errors)
   ``authserver``       the DVA's token answer for the flow, in its own ketenlog
   ``resource-server``  the resource server's answers for the flow (its ketenlog, whose
                        ``trace_id`` is the flow's X-Correlation-ID): any error answer is a
                        ``resource-fout``, only good answers a success
   ``page``             last resort: the heading of the PGO's outcome page the person read

While a service the run killed was down (:class:`Fault`), the resource server's ketenlog is
no witness (a SIGKILL loses the records still queued in memory): an attempt overlapping the
outage ends as the patient saw it end (browser, callback, token answer, page).

A PGO the run killed (service ``pgo:<hostname>``) is not there to show a page: the person
whose browser lost it mid-attempt saw the browser's "cannot reach" page and closed the tab
(``pgo_unreachable``; at the login or the search page they reload until it answers, the same
attempt). The attempt then ends as the restarted PGO must end it, read from where the browser
stopped and the DVA's token records, which survive the PGO:

* before the DVA (choosing at the search): ``afgehaakt-bij-zoeken`` (the person's choice
  never reached the PGO, which ends the open search when it is left);
* at the DVA's pages, or back on the redirect URI while the DVA has no token request of the
  flow: the PGO never took the answer, the person did not come back: ``niet-teruggekeerd``
  (``digid-geannuleerd``);
* on the redirect URI after the PGO exchanged the code: a token refusal is ``token-fout``;
  an issued token means the retrieval was cut off by the kill: ``onderbroken``
  (``client-fout``), as the restarted PGO ends at its start a retrieval nobody runs.

Those rules cannot tell a retrieval the kill cut off from one the PGO finished and stored
an instant before it died, its page lost on the way to the browser: nothing outside the PGO
tells the two apart. So the person does what a person does and comes back: once the PGO
answers again they open it (still logged in, or logging in again) and read the attempt's
outcome page (``return-visit``). What that page shows the person is how the attempt ended
for them: the retrieval that finished is a success, one the restart cut off is the
failure the page names (``onderbroken``). The same holds for an "ophalen" whose answer
never came: the form named its attempt (``poging``), so the person opens that attempt's
page. A choice the PGO recorded but never sent on is ``onderbroken`` there (the restarted
PGO ends it at once). A page that shows the attempt still waiting at the DVA (sent on, but
the browser never got there or never brought the answer back) is left there by the person:
``niet-teruggekeerd``. A page still at the search tells that the choice never arrived, and
the rules above decide; so they do when the PGO has no outcome view. A success read there
is still held against the DVA's records (:func:`return_visit_disagrees`): the token was
issued and the resource server answered, without errors.

The PGO's own claim (its outcome view) is kept beside the truth, never mixed into it.
"""

# ruff: noqa: S105 - "token" names the DVA's answer, not a secret

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from medmij_stack.authserver import paths as dva_paths
from medmij_stack.pgo.settings import CALLBACK_PATH
from medmij_stack.pgo.situations import Situation
from medmij_stack.protocol.funnel import FailureReason, Outcome
from medmij_stack.protocol.ketenlog import EventType

from .patient import AttemptResult
from .world import World

__all__ = [
    "Basis",
    "Fault",
    "FlowRecords",
    "Observed",
    "dva_answer",
    "ending_of",
    "flow_of",
    "judge",
    "observe",
    "observe_unreachable",
    "read_flow_records",
    "return_visit_disagrees",
]

SUCCESS = Outcome.SUCCESS.value


class Basis(StrEnum):
    """What an attempt's true ending was taken from (see the module's docstring)."""

    MODEL = "model"
    BROWSER = "browser"
    CALLBACK = "callback"
    AUTHSERVER = "authserver"
    RESOURCE_SERVER = "resource-server"
    PAGE = "page"
    RETURN_VISIT = "return-visit"  # the attempt's page read again after a PGO came back
    NONE = "none"  # nothing to go on: the patient got stuck


@dataclass(frozen=True)
class Fault:
    """A service the run took down on purpose, from the kill until it answered again."""

    service: str
    down: datetime
    up: datetime

    def overlaps(self, started: datetime | None, ended: datetime | None) -> bool:
        if started is None or ended is None:
            return False
        return started <= self.up and ended >= self.down

    def to_json(self) -> dict[str, str]:
        return {"service": self.service, "down": self.down.isoformat(), "up": self.up.isoformat()}


@dataclass(frozen=True)
class Observed:
    """What the person's browser saw of one attempt, and what the DVA's services recorded of
    its flow; nothing the PGO concluded."""

    abandoned_at: str | None = None  # the screen the person closed the tab at
    dva_pages: tuple[str, ...] = ()  # paths of the DVA's pages the browser opened, in order
    callback_error: str | None = None  # on the redirect URI the DVA sent the browser to
    callback_description: str | None = None
    callback_code: bool = False  # the DVA sent a code (the value is not kept)
    without_dva: bool = False  # the PGO fetched at once: no DVA screen came up
    page_title: str | None = None  # the heading of the PGO's page the attempt ended on
    resource_ok: int = 0  # the resource server's good answers for the flow
    resource_errors: tuple[int, ...] = ()  # and the statuses of its error answers
    token_answer: str | None = None  # the DVA's token answer: "issued", "refused" or None (none)
    stuck_at: str | None = None  # the patient's step where a page would not load
    pgo_unreachable: bool = False  # there, the PGO itself did not answer
    # Coming back after that: the heading of the attempt's outcome page (None: no visit),
    # and where its outcome view said the attempt was (None: no visit, or no view).
    returned_title: str | None = None
    returned_stage: str | None = None

    @property
    def page_ending(self) -> str | None:
        """The ending the page's heading stands for (every situation has its own heading)."""
        return _ending_of_title(self.page_title)

    @property
    def returned_ending(self) -> str | None:
        """The ending the outcome page showed on coming back (None: no visit, or the page
        showed no ending yet)."""
        return _ending_of_title(self.returned_title)

    def with_records(self, records: FlowRecords) -> Observed:
        return replace(
            self,
            resource_ok=records.resource_ok,
            resource_errors=records.resource_errors,
            token_answer=records.token_answer,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "abandoned_at": self.abandoned_at,
            "dva_pages": list(self.dva_pages),
            "callback": {
                "error": self.callback_error,
                "error_description": self.callback_description,
                "code": self.callback_code,
            },
            "without_dva": self.without_dva,
            "page_title": self.page_title,
            "page_ending": self.page_ending,
            "resource_server": {"ok": self.resource_ok, "errors": list(self.resource_errors)},
            "token": self.token_answer,
            "stuck_at": self.stuck_at,
            "pgo_unreachable": self.pgo_unreachable,
            "return_visit": None
            if self.returned_title is None
            else {
                "page_title": self.returned_title,
                "page_ending": self.returned_ending,
                "stage": self.returned_stage,
            },
        }


_BY_TITLE = {situation.message.title: situation for situation in Situation}


def _ending_of_title(title: str | None) -> str | None:
    """The ending a PGO page's heading stands for (every situation has its own heading)."""
    situation = _BY_TITLE.get(title or "")
    if situation is None:
        return None
    reason = situation.reason
    return SUCCESS if reason is None else reason.value


def observe(result: AttemptResult) -> Observed:
    """The browser's side of an attempt: where it stopped, the redirect URI it was sent to,
    the DVA's pages it opened and the heading of the last page."""
    return replace(
        _from_urls(result.visited),
        abandoned_at=result.abandoned.value if result.abandoned else None,
        without_dva=result.without_dva,
        page_title=result.message.title if result.message else None,
    )


def _from_urls(visited: Sequence[str]) -> Observed:
    """The DVA's pages among the browser's URLs, and the last redirect URI's answer."""
    callback = next((url for url in reversed(visited) if urlsplit(url).path == CALLBACK_PATH), None)
    query = parse_qs(urlsplit(callback).query) if callback else {}
    dva_pages: list[str] = []
    for url in visited:
        path = urlsplit(url).path
        if _is_dva_screen(path) and (not dva_pages or dva_pages[-1] != _screen(path)):
            dva_pages.append(_screen(path))
    return Observed(
        dva_pages=tuple(dva_pages),
        callback_error=_first(query, "error"),
        callback_description=_first(query, "error_description"),
        callback_code=bool(query.get("code")),
    )


def observe_unreachable(step: str | None, visited: Sequence[str]) -> Observed:
    """The browser's side of an attempt the PGO stopped answering at ``step``: the DVA's
    pages it opened and the redirect URI it was sent to (``visited``: the attempt's URLs)."""
    return replace(_from_urls(visited), stuck_at=step, pgo_unreachable=True)


def flow_of(visited: Sequence[str]) -> str | None:
    """The flow's id, from the authorization request the browser was sent to (or, when a
    langdurige toestemming let the PGO fetch at once, its outcome page's path)."""
    for url in visited:
        found = parse_qs(urlsplit(url).query).get("X-Correlation-ID")
        if found:
            return found[0]
        path = urlsplit(url).path
        if path.startswith(_OUTCOME_PATH) and len(path) > len(_OUTCOME_PATH):
            return path[len(_OUTCOME_PATH) :]
    return None


_OUTCOME_PATH = "/ophalen/"  # the PGO's outcome page of an attempt: /ophalen/{flow_id}


def _first(query: Mapping[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[0] if values else None


def _is_dva_screen(path: str) -> bool:
    return path.startswith((dva_paths.FLOW, dva_paths.AUTHORIZE, dva_paths.DIGID_LOGIN))


def _screen(path: str) -> str:
    # /oauth/flow/{flow_id}/toestemming → /oauth/flow/…/toestemming: the id says nothing here.
    if path.startswith(dva_paths.FLOW + "/"):
        parts = path[len(dva_paths.FLOW) + 1 :].split("/", 1)
        return dva_paths.FLOW + "/…" + ("/" + parts[1] if len(parts) > 1 else "")
    return path


# The exception table of the Afsprakenstelsel (docs/protocol.md#errors): which failure an
# OAuth error on the redirect URI is, with the error_description values of AS 2.x.
_ACCESS_DENIED = {
    "Authorization cancelled.": FailureReason.DIGID_CANCELLED,
    "No such resources.": FailureReason.NO_DATA,
}


def dva_answer(error: str, description: str | None) -> FailureReason:
    """The failure an error on the redirect URI stands for."""
    if error == "access_denied":
        return _ACCESS_DENIED.get((description or "").strip(), FailureReason.CONSENT_DENIED)
    if error == "unauthorized_client":
        return FailureReason.DIGID_FAILED
    return FailureReason.INVALID_REQUEST


# The outcome view's stage of an attempt sent on to the DVA (medmij_stack.pgo.attempts).
_AT_DVA_STAGE = "bij-dva"

# The patient's steps at the DVA's pages (medmij_stack.wiring.patient.results.Step).
_AT_THE_DVA = ("authorize", "digid", "consent", "cancellation")


def _pgo_lost(observed: Observed) -> tuple[str, Basis]:
    """How the restarted PGO ends an attempt it stopped answering (see the module's
    docstring)."""
    back = observed.callback_code or observed.callback_error is not None
    if back and observed.token_answer == "issued":
        return FailureReason.CLIENT_ERROR.value, Basis.AUTHSERVER
    if back and observed.token_answer == "refused":
        return FailureReason.TOKEN_ERROR.value, Basis.AUTHSERVER
    if back or observed.dva_pages:
        return FailureReason.DIGID_CANCELLED.value, Basis.BROWSER
    return FailureReason.ABANDONED_AT_SEARCH.value, Basis.BROWSER


def _observed_ending(observed: Observed, *, faulty: bool) -> tuple[str | None, Basis]:
    if faulty and observed.pgo_unreachable:
        returned = observed.returned_ending
        if returned is not None:
            return returned, Basis.RETURN_VISIT
        if observed.returned_stage == _AT_DVA_STAGE:
            # The PGO had sent the attempt on to the DVA, but the browser never got there;
            # the person saw it waiting and left it: niet-teruggekeerd.
            return FailureReason.DIGID_CANCELLED.value, Basis.RETURN_VISIT
        return _pgo_lost(observed)
    if faulty and observed.stuck_at in _AT_THE_DVA:
        # A DVA page would not load while a service was down: the person gave up there and
        # never came back to the PGO, which must end the attempt as niet-teruggekeerd.
        return FailureReason.DIGID_CANCELLED.value, Basis.BROWSER
    if observed.abandoned_at is not None:
        # The PGO's sweep must end it: afgehaakt-bij-zoeken, or niet-teruggekeerd.
        at_search = observed.abandoned_at == "search"
        reason = FailureReason.ABANDONED_AT_SEARCH if at_search else FailureReason.DIGID_CANCELLED
        return reason.value, Basis.BROWSER
    if observed.callback_error is not None:
        return dva_answer(observed.callback_error, observed.callback_description).value, (
            Basis.CALLBACK
        )
    if observed.callback_code or observed.without_dva:
        if observed.token_answer == "refused":
            return FailureReason.TOKEN_ERROR.value, Basis.AUTHSERVER
        if not faulty and observed.resource_errors:
            return FailureReason.RESOURCE_ERROR.value, Basis.RESOURCE_SERVER
        if not faulty and observed.resource_ok:
            return SUCCESS, Basis.RESOURCE_SERVER
    ending = observed.page_ending
    return (ending, Basis.PAGE) if ending is not None else (None, Basis.NONE)


def judge(
    expected: Sequence[str], observed: Observed, *, faulty: bool = False
) -> tuple[str | None, Basis]:
    """The true ending of an attempt (``succes`` or a failure reason's value) and its basis.

    ``expected``: what the model and the world allow (empty: anything); ``faulty``: the
    attempt overlapped a service the run took down, where the world is not as modelled."""
    if len(expected) == 1 and not faulty:
        return expected[0], Basis.MODEL
    return _observed_ending(observed, faulty=faulty)


def observed_disagrees(expected: Sequence[str], observed: Observed) -> str | None:
    """Where the model allows one ending but the wire or the DVA's records show another:
    the services did not do what the world is known to do."""
    if len(expected) != 1:
        return None
    seen, basis = _observed_ending(observed, faulty=False)
    if basis in (Basis.PAGE, Basis.NONE) or seen is None or seen == expected[0]:
        return None
    return f"the model allows only {expected[0]}, but the {basis.value} showed {seen}"


def return_visit_disagrees(observed: Observed) -> str | None:
    """Where the outcome page read on coming back shows a success the DVA's records do not
    bear out: a retrieval needs the DVA's token (or a langdurige toestemming's, without the
    DVA's screens) and the resource server's answers, none of them an error."""
    if observed.returned_ending != SUCCESS:
        return None
    if not observed.without_dva and observed.token_answer != "issued":
        return "the page showed a success on coming back, but the DVA issued no token"
    if observed.resource_errors or not observed.resource_ok:
        return (
            "the page showed a success on coming back, but the resource server answered "
            f"{observed.resource_ok} good, errors {list(observed.resource_errors)}"
        )
    return None


def ending_of(ending: str | None) -> tuple[Outcome | None, FailureReason | None]:
    if ending is None:
        return None, None
    if ending == SUCCESS:
        return Outcome.SUCCESS, None
    return Outcome.FAILURE, FailureReason(ending)


# --- the DVA's own records of a flow -----------------------------------------------------


@dataclass(frozen=True)
class FlowRecords:
    resource_ok: int = 0
    resource_errors: tuple[int, ...] = ()
    token_answer: str | None = None


@dataclass
class _Counts:
    ok: int = 0
    errors: list[int] = field(default_factory=list)
    token_answer: str | None = None


def _rows(database: Path, types: Sequence[EventType]) -> list[tuple[str, str, str]]:
    if not database.is_file():
        return []
    marks = ",".join("?" for _ in types)
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30) as connection:
        return connection.execute(
            f"SELECT trace_id, type, record FROM ketenlog WHERE type IN ({marks}) ORDER BY id",  # noqa: S608 - only placeholders
            [t.value for t in types],
        ).fetchall()


def read_flow_records(world: World, data_dir: Path) -> Mapping[str, FlowRecords]:
    """Per flow (X-Correlation-ID), the answers the DVAs of ours recorded in their own
    ketenlogs (SQLite stores of the stack in ``data_dir``): the resource server's answers
    and the token endpoint's."""
    counts: dict[str, _Counts] = {}
    for dva in world.ours():
        resource = data_dir / f"zorgaanbieder-{dva.id}" / "zorgaanbieder.sqlite3"
        for trace, kind, record in _rows(
            resource, (EventType.SEND_RESOURCE_RESPONSE, EventType.SEND_RESOURCE_ERROR_RESPONSE)
        ):
            entry = counts.setdefault(trace, _Counts())
            if kind == EventType.SEND_RESOURCE_RESPONSE.value:
                entry.ok += 1
            else:
                status = ((json.loads(record).get("response") or {}).get("status")) or 0
                entry.errors.append(int(status))
        authserver = data_dir / f"authserver-{dva.id}" / "authserver.sqlite3"
        for trace, kind, _ in _rows(
            authserver, (EventType.SEND_TOKEN_RESPONSE, EventType.SEND_TOKEN_ERROR)
        ):
            entry = counts.setdefault(trace, _Counts())
            # A token issued after a refusal (a retry) is a token the PGO got.
            if kind == EventType.SEND_TOKEN_RESPONSE.value:
                entry.token_answer = "issued"
            elif entry.token_answer is None:
                entry.token_answer = "refused"
    return {
        trace: FlowRecords(c.ok, tuple(sorted(c.errors)), c.token_answer)
        for trace, c in counts.items()
    }
