"""A scripted patient: the PGO's own pages over HTTPS, driven as a person drives them.

Nothing here talks to the PGO's or the DVA's internals. The patient opens the PGO's
pages (``medmij_stack.pgo`` routes and form names: the PGO contract), fills in and
submits the forms it finds there (CSRF tokens and all, read with lxml), follows every
redirect through the DVA's front channel with the cookies it was given, clicks what
its :class:`~.behaviour.Behaviour` says at the landing page, at DigiD and at the
toestemmingsverklaring, and reads the outcome: the PGO's outcome view as JSON
(``GET /ophalen/{flow_id}`` with ``Accept: application/json``) when it offers one, else
the outcome page the person sees.

One :class:`ScriptedPatient` is one person in one browser: its own
``httpx.AsyncClient`` (cookie jar included) and no state outside the object, so many run
side by side (``medmij simulate``, a Locust user). Every step is timed
(:mod:`.results`). Anything a person could not get past (a page without the form the
script needs, an error page without a way back, a refused login) raises
:class:`PatientError` naming the step, the URL and the page's heading.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import anyio
import httpx

from medmij_stack.authserver import paths as dva_paths
from medmij_stack.pgo.devices import APP_TOKEN
from medmij_stack.pgo.devices import FIELD as DEVICE_FIELD
from medmij_stack.pgo.settings import CALLBACK_PATH
from medmij_stack.pgo.situations import Situation
from medmij_stack.protocol.funnel import Device, FailureReason, Outcome
from medmij_stack.runtime.net import make_async_client

from .behaviour import Abandon, AtConsent, AtDigid, AtLanding, Behaviour
from .html_forms import HtmlForm, Page, read_page
from .results import (
    AttemptResult,
    OfferedService,
    OutcomeMessage,
    ReturnVisit,
    SearchHit,
    ServiceOutcome,
    Step,
    StepTiming,
)
from .stack import PgoAccount, StackInfo

__all__ = ["USER_AGENTS", "LoginFailed", "PatientError", "ScriptedPatient", "UnexpectedPage"]

USER_AGENTS: Mapping[Device, str] = {
    Device.PC: "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    Device.WEB: (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
    ),
    Device.APP: f"{APP_TOKEN}/1.0 (Android 14)",
}
"""What each kind of device says it is; the PGO reads the device from it
(``medmij_stack.pgo.devices``)."""

_HTML = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"
_JSON = "application/json"
_MAX_REDIRECTS = 20
_REDIRECTS = (301, 302, 303, 307, 308)
_OUTCOME_PATH = "/ophalen/"
_BY_TITLE = {situation.message.title: situation for situation in Situation}

StepHook = Callable[[Step], Awaitable[None]]


class PatientError(Exception):
    """The patient could not go on: which step, where, and what the page said."""

    def __init__(
        self,
        step: Step | None,
        message: str,
        *,
        url: str | None = None,
        status: int | None = None,
        timings: Sequence[StepTiming] = (),
    ) -> None:
        where = f" at {url}" if url else ""
        super().__init__(f"{step.value if step else 'start'}: {message}{where}")
        self.step = step
        self.detail = message
        self.url = url
        self.status = status
        self.timings = tuple(timings)


class UnexpectedPage(PatientError):
    """A page without what the script needs: not the page a person expects there."""


class LoginFailed(PatientError):
    """The PGO refused the user name and password (or locked the account)."""


class PgoUnreachable(PatientError):
    """The PGO did not answer (refused the connection, or dropped it mid-answer): the
    person saw the browser's "cannot reach this site" page. ``visited`` holds the attempt's
    URLs up to there (the authorization request names the flow); ``flow_id`` the attempt the
    posted "ophalen" form named (its ``poging``), if it named one."""

    def __init__(
        self,
        step: Step | None,
        message: str,
        *,
        visited: Sequence[str],
        flow_id: str | None = None,
    ) -> None:
        super().__init__(step, message)
        self.visited = tuple(visited)
        self.flow_id = flow_id


@dataclass(frozen=True)
class _Arrival:
    """Where following redirects ended: a page, or the PGO's redirect URI (not yet opened)."""

    page: Page | None
    callback: str | None = None


def _query_value(url: str, name: str) -> str | None:
    values = parse_qs(urlsplit(url).query).get(name)
    return values[0] if values else None


class ScriptedPatient:
    """One person with a PGO account, in one browser.

    ``client`` is the browser: give a fresh one per patient (it keeps the cookies) or let
    :meth:`for_account` make one that trusts the stack's CA and maps its hostnames.
    ``on_step`` is awaited before each step starts (think time, progress) and is not
    counted in the step's time. ``outcome_timeout``: how long to wait for a retrieval the
    PGO still runs after the callback page ("bezig").
    """

    def __init__(
        self,
        pgo_url: str,
        gebruikersnaam: str,
        wachtwoord: str,
        *,
        client: httpx.AsyncClient,
        bsn: str | None = None,
        device: Device = Device.PC,
        user_agent: str | None = None,
        on_step: StepHook | None = None,
        outcome_timeout: float = 120.0,
        poll_interval: float = 0.5,
        owns_client: bool = False,
    ) -> None:
        if device is Device.SYSTEM:
            raise ValueError("a person uses the PGO on app, pc or web, never as 'system'")
        self.pgo = pgo_url.rstrip("/")
        self.gebruikersnaam = gebruikersnaam
        self._wachtwoord = wachtwoord
        self.bsn = bsn
        self.device = device
        self.user_agent = user_agent or USER_AGENTS[device]
        self.client = client
        self.on_step = on_step
        self.outcome_timeout = outcome_timeout
        self.poll_interval = poll_interval
        self._owns_client = owns_client
        self._timings: list[StepTiming] = []
        self._attempt_start = 0  # index into _timings where the next attempt's steps begin
        self._visited: list[str] = []
        self._visited_start = 0  # index into _visited where the next attempt's URLs begin
        self._form_flow: str | None = None  # the attempt the posted "ophalen" form named
        self._requests = 0
        self._step_now: Step | None = None
        pgo = urlsplit(self.pgo)
        self._pgo_origin = (pgo.scheme, pgo.netloc.lower())

    @classmethod
    def for_account(
        cls,
        stack: StackInfo,
        account: PgoAccount,
        *,
        device: Device = Device.PC,
        timeout: float = 60.0,
        **options: Any,
    ) -> ScriptedPatient:
        """A patient for a demo account of ``stack``, with a browser of its own.

        ``timeout`` bounds each request; the callback waits for the retrieval (the PGO's
        ``callback_wait_seconds``, 20 s by default), so keep it above that.
        """
        client = make_async_client(trust=[stack.ca], hosts=stack.hosts, timeout=timeout)
        return cls(
            stack.pgo,
            account.gebruikersnaam,
            account.wachtwoord,
            client=client,
            bsn=account.bsn,
            device=device,
            owns_client=True,
            **options,
        )

    async def __aenter__(self) -> ScriptedPatient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._owns_client:
            await self.client.aclose()

    @property
    def timings(self) -> tuple[StepTiming, ...]:
        """Every step this patient took, in order."""
        return tuple(self._timings)

    # --- the browser ------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _step(self, step: Step) -> AsyncIterator[None]:
        if self.on_step is not None:
            await self.on_step(step)
        self._step_now = step
        started = datetime.now(UTC)
        begun = time.perf_counter()
        requests = self._requests
        try:
            yield
        finally:
            self._timings.append(
                StepTiming(step, started, time.perf_counter() - begun, self._requests - requests)
            )

    def _error(
        self, kind: type[PatientError], message: str, page: Page | None = None
    ) -> PatientError:
        return kind(
            self._step_now,
            message,
            url=None if page is None else page.url,
            status=None if page is None else page.status,
            timings=self._timings,
        )

    def _unexpected(self, page: Page, wanted: str) -> PatientError:
        said = "; ".join(page.alerts) or page.title or "(no heading)"
        return self._error(UnexpectedPage, f"{wanted} expected, got {page.status}: {said}", page)

    async def _request(
        self,
        method: str,
        url: str,
        *,
        form: Sequence[tuple[str, str]] | None = None,
        accept: str = _HTML,
    ) -> httpx.Response:
        headers = {"User-Agent": self.user_agent, "Accept": accept, "Accept-Language": "nl-NL,nl"}
        content = None
        if form is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            content = urlencode(list(form)).encode("ascii")
        self._requests += 1
        self._visited.append(url)
        try:
            return await self.client.request(method, url, content=content, headers=headers)
        except httpx.HTTPError as exc:
            said = f"{method} {url} failed: {type(exc).__name__} {exc}".strip()
            if isinstance(exc, httpx.TransportError) and self._is_pgo(url):
                unreachable = PgoUnreachable(
                    self._step_now,
                    said,
                    visited=self._visited[self._visited_start :],
                    flow_id=self._form_flow,
                )
                unreachable.timings = tuple(self._timings)
                raise unreachable from exc
            raise self._error(PatientError, said) from exc

    def _is_pgo(self, url: str) -> bool:
        parts = urlsplit(url)
        return (parts.scheme, parts.netloc.lower()) == self._pgo_origin

    def _is_callback(self, url: str) -> bool:
        return self._is_pgo(url) and urlsplit(url).path == CALLBACK_PATH

    async def _follow(self, response: httpx.Response) -> _Arrival:
        """Follow redirects as a browser does (each as a GET: the servers answer a form with
        303), up to the first page, or up to the PGO's redirect URI, which is left for the
        callback step so that it is timed on its own."""
        for _ in range(_MAX_REDIRECTS):
            location = response.headers.get("location")
            if response.status_code not in _REDIRECTS or not location:
                await response.aread()
                return _Arrival(read_page(response.text, str(response.url), response.status_code))
            target = urljoin(str(response.url), location)
            if self._is_callback(target):
                return _Arrival(None, target)
            response = await self._request("GET", target)
        raise self._error(PatientError, f"more than {_MAX_REDIRECTS} redirects")

    async def _open(self, url: str) -> _Arrival:
        return await self._follow(await self._request("GET", url))

    async def _submit(
        self,
        form: HtmlForm,
        fill: Mapping[str, str] | None = None,
        *,
        check: Mapping[str, Sequence[str]] | None = None,
    ) -> _Arrival:
        pairs = form.submission(fill, check=check)
        if form.method == "get":
            parts = urlsplit(form.action)
            url = parts._replace(query=urlencode(pairs), fragment="").geturl()
            return await self._open(url)
        return await self._follow(await self._request("POST", form.action, form=pairs))

    def _device_fill(self, form: HtmlForm) -> dict[str, str]:
        """The device hint in a form: the PGO's hidden field when the page has one; the
        PGO's app adds it itself (a browser only has its User-Agent)."""
        if form.has(DEVICE_FIELD) or self.device is Device.APP:
            return {DEVICE_FIELD: self.device.value}
        return {}

    def _page(self, arrival: _Arrival, wanted: str) -> Page:
        if arrival.page is None:
            raise self._error(UnexpectedPage, f"{wanted} expected, was sent back to the PGO")
        return arrival.page

    # --- at the PGO -------------------------------------------------------------------------

    async def log_in(self) -> None:
        """Open the login page, fill in the account, and arrive at the overview."""
        async with self._step(Step.LOGIN):
            page = self._page(await self._open(self.pgo + "/inloggen"), "the login page")
            if page.status == 200 and urlsplit(page.url).path == "/":
                return  # this browser is logged in already
            form = page.form_with("gebruikersnaam")
            if form is None or not form.has("wachtwoord"):
                raise self._unexpected(page, "the login form")
            fill = {"gebruikersnaam": self.gebruikersnaam, "wachtwoord": self._wachtwoord}
            landed = self._page(
                await self._submit(form, fill | self._device_fill(form)), "the overview"
            )
            if landed.status != 200 or urlsplit(landed.url).path != "/":
                said = "; ".join(landed.alerts) or landed.title
                raise self._error(LoginFailed, f"login refused ({landed.status}): {said}", landed)

    async def search(self, zoek: str = "", gegevensdienst: str = "") -> tuple[SearchHit, ...]:
        """ "Gegevens ophalen": the search page, searched by name and/or gegevensdienst."""
        async with self._step(Step.SEARCH):
            page = self._page(await self._open(self.pgo + "/zorgaanbieders"), "the search page")
            if page.status != 200 or urlsplit(page.url).path != "/zorgaanbieders":
                raise self._unexpected(page, "the search page (logged in)")
            if zoek or gegevensdienst:
                form = next((f for f in page.forms_with("zoek") if f.method == "get"), None)
                if form is None:
                    raise self._unexpected(page, "a search form with 'zoek'")
                fill = {"zoek": zoek}
                if gegevensdienst:
                    if not form.has("gegevensdienst"):
                        raise self._unexpected(page, "a search form with 'gegevensdienst'")
                    fill["gegevensdienst"] = gegevensdienst
                page = self._page(await self._submit(form, fill), "the search results")
                if page.status != 200:
                    raise self._unexpected(page, "the search results")
            return tuple(self._hits(page))

    def _hits(self, page: Page) -> list[SearchHit]:
        hits = []
        for form in page.forms:
            naam = form.value("zorgaanbieder")
            if form.method != "post" or urlsplit(form.action).path != "/ophalen" or not naam:
                continue
            services = tuple(
                OfferedService(id=box.value, label=box.label, checked=box.checked)
                for box in form.options("gegevensdienst")
            )
            hits.append(SearchHit(naam, form.heading or naam, services, form))
        return hits

    async def revoke(self, zorgaanbieder: str) -> bool | None:
        """ "Toestemming intrekken" for a langdurige toestemming: True when revoked, False
        when the PGO could not (it says so), None when there was none to revoke."""
        async with self._step(Step.REVOKE):
            page = self._page(await self._open(self.pgo + "/toestemmingen"), "the consents")
            if page.status != 200:
                raise self._unexpected(page, "the consents page")
            form = next(
                (
                    f
                    for f in page.forms_with("zorgaanbieder", zorgaanbieder)
                    if urlsplit(f.action).path == "/toestemmingen/intrekken"
                ),
                None,
            )
            if form is None:
                return None
            after = self._page(await self._submit(form), "the consents page")
            # The PGO names what happened in the page it sends the person to (?melding=).
            return {"ingetrokken": True, "geen": None}.get(
                _query_value(after.url, "melding") or "", False
            )

    async def look_back(self, flow_id: str) -> ReturnVisit:
        """Come back to attempt ``flow_id`` after its page broke off (the PGO stopped
        answering mid-attempt): open the PGO (logging in again if the session is gone) and
        read the attempt's outcome page as it is now. Read once: an attempt the PGO has not
        ended shows that, and the person leaves it there."""
        await self.log_in()
        async with self._step(Step.RETURN):
            url = f"{self.pgo}{_OUTCOME_PATH}{flow_id}"
            page = self._page(await self._open(url), "the attempt's outcome page")
            if page.status != 200 or urlsplit(page.url).path != urlsplit(url).path:
                raise self._unexpected(page, "the attempt's outcome page")
            view = await self._outcome_view(url)
            if view is None:
                situation = _BY_TITLE.get(page.title)
                reason = None if situation is None else situation.reason
                outcome = None
                if situation is not None:
                    outcome = Outcome.SUCCESS if reason is None else Outcome.FAILURE
                return ReturnVisit(
                    flow_id,
                    outcome,
                    reason,
                    None if situation is None else situation.value,
                    self._message(page),
                    "html",
                    page.url,
                )
            try:
                outcome = _enum(Outcome, view.get("outcome"))
                reason = _enum(FailureReason, view.get("reason"))
            except ValueError as exc:
                raise self._error(
                    PatientError, f"the outcome view is not as agreed: {exc}", page
                ) from exc
            situation_name = view.get("situation")
            stage = view.get("stage")
            return ReturnVisit(
                flow_id,
                outcome,
                reason,
                str(situation_name) if situation_name else None,
                self._message(page),
                "json",
                page.url,
                str(stage) if stage else None,
            )

    # --- one retrieval ----------------------------------------------------------------------

    async def retrieve(
        self,
        hit: SearchHit,
        behaviour: Behaviour | None = None,
        gegevensdiensten: Sequence[str] | None = None,
    ) -> AttemptResult:
        """ "Ophalen" at a search hit, and on through the DVA as ``behaviour`` says.

        ``gegevensdiensten``: the boxes to tick (default: those ticked on the page).
        """
        behaviour = behaviour or Behaviour()
        chosen = (
            tuple(gegevensdiensten)
            if gegevensdiensten is not None
            else tuple(s.id for s in hit.services if s.checked)
        )
        attempt = _Attempt(hit.zorgaanbieder, chosen, behaviour)
        try:
            result = await self._retrieve(hit, attempt)
            # Taken now: a result is made inside its last step, before that step's time is in.
            return dataclasses.replace(
                result,
                timings=tuple(self._timings[self._attempt_start :]),
                visited=tuple(self._visited[self._visited_start :]),
            )
        finally:
            self._attempt_start = len(self._timings)
            self._visited_start = len(self._visited)
            self._form_flow = None

    async def fetch(
        self,
        zorgaanbieder: str,
        behaviour: Behaviour | None = None,
        gegevensdiensten: Sequence[str] | None = None,
    ) -> AttemptResult:
        """Search a zorgaanbieder by its Zorgaanbiedernaam (``x@medmij``) or the name a
        person knows, and retrieve from the one hit it names."""
        hits = await self.search(zoek=zorgaanbieder.removesuffix("@medmij"))
        hit = pick_hit(hits, zorgaanbieder)
        if hit is None:
            shown = ", ".join(h.zorgaanbieder for h in hits) or "nothing"
            raise self._error(
                UnexpectedPage, f"searching {zorgaanbieder!r} found no single match ({shown})"
            )
        return await self.retrieve(hit, behaviour, gegevensdiensten)

    async def _retrieve(self, hit: SearchHit, attempt: _Attempt) -> AttemptResult:
        behaviour = attempt.behaviour
        if behaviour.abandon is Abandon.AT_SEARCH:
            return self._result(attempt, abandoned=Abandon.AT_SEARCH)
        async with self._step(Step.AUTHORIZE):
            pairs = hit.form.submission(
                self._device_fill(hit.form), check={"gegevensdienst": attempt.chosen}
            )
            # Remembered: should the answer never come, the person can look this attempt up.
            self._form_flow = next((v for k, v in pairs if k == "poging"), None) or None
            response = await self._request("POST", hit.form.action, form=pairs)
            attempt.note_authorize(response)
            arrival = await self._follow(response)
            landing = arrival.page
            if landing is not None and self._is_pgo(landing.url):
                if not urlsplit(landing.url).path.startswith(_OUTCOME_PATH):
                    raise self._unexpected(landing, "the DVA (or, with consent, the outcome)")
                attempt.without_dva = True
            elif landing is not None and not landing.forms_with("action", AtLanding.CONTINUE):
                arrival = self._way_back(landing, "the DVA's landing page")
        if landing is not None and attempt.without_dva:
            # The PGO fetched with the refresh token while the POST waited: only the
            # outcome is left to read (timed as the callback, which it stands in for).
            async with self._step(Step.CALLBACK):
                return await self._outcome_of(attempt, landing)
        if arrival.callback is None:
            assert landing is not None
            if behaviour.abandon is Abandon.AT_LANDING:
                return self._result(attempt, abandoned=Abandon.AT_LANDING)
            arrival = await self._at_landing(landing, attempt)
        if arrival.callback is None:
            return self._result(attempt, abandoned=behaviour.abandon)
        return await self._callback(arrival.callback, attempt)

    async def _at_landing(self, landing: Page, attempt: _Attempt) -> _Arrival:
        """From the landing page up to the redirect to the PGO (None: abandoned on the way)."""
        behaviour = attempt.behaviour
        if behaviour.landing is AtLanding.CANCEL:
            async with self._step(Step.CANCELLATION):
                form = self._choice(landing, "action", AtLanding.CANCEL.value)
                return await self._cancellation(await self._submit(form))
        async with self._step(Step.DIGID):
            form = self._choice(landing, "action", AtLanding.CONTINUE.value)
            digid = self._page(await self._submit(form), "DigiD")
            if not digid.forms_with("bsn"):
                arrival = self._way_back(digid, "DigiD")
            elif behaviour.abandon is Abandon.AT_DIGID:
                return _Arrival(digid)
            else:
                form = self._choice(digid, "action", behaviour.digid.value)
                fill = {}
                if behaviour.digid is AtDigid.LOG_IN:
                    bsn = behaviour.bsn or self.bsn
                    if not bsn:
                        raise self._error(PatientError, "no BSN to log in at DigiD with")
                    fill["bsn"] = bsn
                arrival = await self._submit(form, fill)
                if arrival.page is not None and arrival.page.forms_with("bsn"):
                    raise self._unexpected(arrival.page, "DigiD to accept the login")
        if arrival.page is not None and self._cancelled(arrival.page):
            async with self._step(Step.CANCELLATION):
                return await self._cancellation(arrival)
        if arrival.callback is not None:
            return arrival
        consent = arrival.page
        assert consent is not None
        if not consent.forms_with("decision"):
            return self._way_back(consent, "the toestemmingsverklaring")
        if behaviour.abandon is Abandon.AT_CONSENT:
            return _Arrival(consent)
        async with self._step(Step.CONSENT):
            form = self._choice(consent, "decision", behaviour.consent.value)
            ticked = ["ja"] if behaviour.langdurig and behaviour.consent is AtConsent.ALLOW else []
            check = {"langdurig": ticked} if form.options("langdurig") else None
            if behaviour.langdurig and check is None and behaviour.consent is AtConsent.ALLOW:
                raise self._unexpected(consent, "a 'langdurig' checkbox")
            back = await self._submit(form, check=check)
            if back.callback is None:
                assert back.page is not None
                return self._way_back(back.page, "the redirect to the PGO")
            return back

    def _choice(self, page: Page, name: str, value: str) -> HtmlForm:
        form = page.form_with(name, value)
        if form is None:
            raise self._unexpected(page, f"a form with {name}={value}")
        return form

    @staticmethod
    def _cancelled(page: Page) -> bool:
        """The DVA's annuleringspagina: its one form goes back to the PGO."""
        return any(
            urlsplit(f.action).path.startswith(dva_paths.FLOW + "/")
            and urlsplit(f.action).path.endswith("/terug")
            for f in page.forms
        )

    async def _cancellation(self, arrival: _Arrival) -> _Arrival:
        page = self._page(arrival, "the annuleringspagina")
        if not self._cancelled(page):
            return self._way_back(page, "the annuleringspagina")
        form = next(f for f in page.forms if urlsplit(f.action).path.endswith("/terug"))
        back = await self._submit(form)
        if back.callback is None:
            assert back.page is not None
            return self._way_back(back.page, "the redirect to the PGO")
        return back

    def _way_back(self, page: Page, wanted: str) -> _Arrival:
        """A page the script did not plan for: a person takes its link back to the PGO's
        redirect URI (the DVA's storing and verlopen pages have one), or is stuck."""
        for href, _ in page.links:
            if self._is_callback(href):
                return _Arrival(None, href)
        raise self._unexpected(page, wanted)

    # --- back at the PGO --------------------------------------------------------------------

    async def _callback(self, url: str, attempt: _Attempt) -> AttemptResult:
        async with self._step(Step.CALLBACK):
            page = self._page(await self._open(url), "the outcome page")
            return await self._outcome_of(attempt, page)

    async def _outcome_of(self, attempt: _Attempt, page: Page) -> AttemptResult:
        """Read the outcome of the attempt on ``page``: the JSON view, polled while the
        retrieval runs, else what the page says."""
        flow_id = attempt.flow_id
        path = urlsplit(page.url).path
        if self._is_pgo(page.url) and path.startswith(_OUTCOME_PATH):
            flow_id = path[len(_OUTCOME_PATH) :] or flow_id
            view = await self._outcome_view(page.url)
            if view is not None:
                waited = False
                deadline = time.perf_counter() + self.outcome_timeout
                while view.get("outcome") is None and time.perf_counter() < deadline:
                    await anyio.sleep(self.poll_interval)
                    waited = True
                    view = await self._outcome_view(page.url) or view
                if waited:  # the page showed "bezig": a person reloads it
                    page = self._page(await self._open(page.url), "the outcome page")
                return self._from_view(attempt, view, page, flow_id)
        return self._from_page(attempt, page, flow_id)

    async def _outcome_view(self, url: str) -> dict[str, Any] | None:
        response = await self._request("GET", url, accept=_JSON)
        await response.aread()
        kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if response.status_code != 200 or kind != _JSON:
            return None  # this PGO has no JSON view: the page is all there is
        try:
            data = response.json()
        except ValueError as exc:
            raise self._error(PatientError, f"the outcome view at {url} is not JSON") from exc
        if not isinstance(data, dict):
            raise self._error(PatientError, f"the outcome view at {url} is not a JSON object")
        return data

    @staticmethod
    def _message(page: Page) -> OutcomeMessage:
        # What happened and what to do next are announced (role alert or status); a page
        # without announcements says it in its text.
        return OutcomeMessage(page.title, " ".join(page.notices) or page.text)

    def _from_view(
        self, attempt: _Attempt, view: Mapping[str, Any], page: Page, flow_id: str | None
    ) -> AttemptResult:
        try:
            outcome = _enum(Outcome, view.get("outcome"))
            reason = _enum(FailureReason, view.get("reason"))
            services = tuple(_service(item) for item in view.get("gegevensdiensten") or ())
        except (TypeError, ValueError) as exc:
            raise self._error(
                PatientError, f"the outcome view is not as agreed: {exc}", page
            ) from exc
        step = view.get("step")
        situation = view.get("situation")
        return self._result(
            attempt,
            flow_id=str(view.get("flow_id") or flow_id or "") or None,
            outcome=outcome,
            reason=reason,
            step=str(step) if step else None,
            situation=str(situation) if situation else None,
            message=self._message(page),
            services=services,
            source="json",
            url=page.url,
        )

    def _from_page(self, attempt: _Attempt, page: Page, flow_id: str | None) -> AttemptResult:
        # Without the JSON view only the heading tells which situation the PGO saw
        # (medmij_stack.pgo.situations: every situation has a title of its own).
        situation = _BY_TITLE.get(page.title)
        outcome = reason = step = None
        if situation is not None:
            reason = situation.reason
            outcome = Outcome.SUCCESS if reason is None else Outcome.FAILURE
            step = None if reason is None else reason.step.value
        return self._result(
            attempt,
            flow_id=flow_id,
            outcome=outcome,
            reason=reason,
            step=step,
            situation=None if situation is None else situation.value,
            message=self._message(page),
            source="html",
            url=page.url,
        )

    def _result(
        self,
        attempt: _Attempt,
        *,
        abandoned: Abandon | None = None,
        flow_id: str | None = None,
        outcome: Outcome | None = None,
        reason: FailureReason | None = None,
        step: str | None = None,
        situation: str | None = None,
        message: OutcomeMessage | None = None,
        services: tuple[ServiceOutcome, ...] = (),
        source: str = "none",
        url: str | None = None,
    ) -> AttemptResult:
        return AttemptResult(
            zorgaanbieder=attempt.zorgaanbieder,
            gegevensdiensten=attempt.chosen,
            behaviour=attempt.behaviour,
            flow_id=flow_id or attempt.flow_id,
            outcome=outcome,
            reason=reason,
            step=step,
            situation=situation,
            message=message,
            services=services,
            timings=tuple(self._timings[self._attempt_start :]),
            abandoned=abandoned,
            without_dva=attempt.without_dva,
            source=source,
            url=url,
            visited=tuple(self._visited[self._visited_start :]),
        )


class _Attempt:
    """What one retrieval has learnt so far."""

    def __init__(self, zorgaanbieder: str, chosen: tuple[str, ...], behaviour: Behaviour) -> None:
        self.zorgaanbieder = zorgaanbieder
        self.chosen = chosen
        self.behaviour = behaviour
        self.flow_id: str | None = None
        self.without_dva = False

    def note_authorize(self, response: httpx.Response) -> None:
        # The PGO's authorization request carries the attempt's flow id as X-Correlation-ID;
        # with a langdurige toestemming it sends the browser to /ophalen/{flow_id} at once.
        location = response.headers.get("location")
        if response.status_code in _REDIRECTS and location:
            self.flow_id = _query_value(location, "X-Correlation-ID")
            path = urlsplit(location).path
            if self.flow_id is None and path.startswith(_OUTCOME_PATH):
                self.flow_id = path[len(_OUTCOME_PATH) :] or None


def _enum(kind: Any, value: Any) -> Any:
    return None if value is None else kind(value)


def _service(item: Any) -> ServiceOutcome:
    if not isinstance(item, Mapping):
        raise TypeError("a gegevensdienst is not an object")
    resources = item.get("resources") or {}
    if not isinstance(resources, Mapping) or not all(
        isinstance(k, str) and isinstance(v, int) for k, v in resources.items()
    ):
        raise TypeError("resources is not a map of resource types to counts")
    return ServiceOutcome(
        gegevensdienst=str(item["id"]),
        outcome=_enum(Outcome, item.get("outcome")),
        reason=_enum(FailureReason, item.get("reason")),
        resources=dict(sorted(resources.items())),
    )


def pick_hit(hits: Sequence[SearchHit], wanted: str) -> SearchHit | None:
    """The hit ``wanted`` names: its Zorgaanbiedernaam, else its shown name (without case),
    else the only hit there is."""
    exact = [h for h in hits if h.zorgaanbieder == wanted]
    if len(exact) == 1:
        return exact[0]
    named = [h for h in hits if h.naam.casefold() == wanted.casefold()]
    if len(named) == 1:
        return named[0]
    return hits[0] if len(hits) == 1 else None
