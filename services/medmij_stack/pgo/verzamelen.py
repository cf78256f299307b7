"""Verzamelen: one retrieval attempt from "gegevens ophalen" to stored records.

The sequence (docs docs/protocol.md#the-oauth-flow; DESIGN 6)::

    GET  /zorgaanbieders       open_search      flow-start (the explicit "ophalen" action)
    POST /ophalen              start            zorgaanbieder-gekozen, gegevensdienst-gekozen
      with a langdurige toestemming for all chosen: refresh token → retrieval
                                                send_token_request, receive_token_response
      else → 303 to the DVA's authorization endpoint (from the ZAL)
                                                send_authorization_request
    GET  /medmij/terug         callback         receive_authorization_response | _error
      state claimed once, in this session, before it expires; an error → flow-end
      code → token endpoint over mutual TLS     ingelogd-bij-dva, send_token_request, …
      → every query of every granted gegevensdienst (medmij_stack.pgo.retrieval)
                                                send_resource_request, receive_resource_…
      → records stored per source, complete sets only                flow-end
    POST /opnieuw              retry            a new attempt for only what failed

Retrieval runs as a task of the app (:mod:`medmij_stack.pgo.retrieval_runs`): the callback
waits for it up to ``callback_wait_seconds`` and otherwise shows "bezig" while it goes
on. Every path ends
the attempt with exactly one situation (:mod:`medmij_stack.pgo.situations`) and its one
failure reason; whatever the PGO itself gets wrong becomes ``client-fout``, never a 500.
System-initiated retrievals (langdurige toestemming, :meth:`Verzamelen.refresh_due`) are
attempts like any other, with initiator and device ``system``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ParamSpec, TypeVar
from urllib.parse import urlsplit

import anyio.to_thread
import httpx

from medmij_stack.protocol.funnel import Clock, Device, Initiator
from medmij_stack.protocol.ketenlog import ErrorInfo, EventType, RequestInfo
from medmij_stack.protocol.scope import ScopeError
from medmij_stack.runtime.backchannel import Whitelist

from .attempts import AttemptStore, Stage
from .consents import ConsentStatus, ConsentStore, ConsentView
from .directory import Directory, Provider, Service
from .eventlog import Trail
from .oauth_client import OAuthClient, Token, TokenFailure
from .records import RecordStore
from .retrieval_runs import HEARTBEAT_SECONDS, RetrievalRuns, RetrieveService
from .scopes import granted_services, request_scope
from .settings import PgoSettings
from .situations import Situation, situation_for_error
from .tables import Attempt
from .websessions import SessionInfo, WebSessions

__all__ = ["CallbackResult", "Choice", "RetrieveService", "Started", "Verzamelen"]

log = logging.getLogger(__name__)

_P = ParamSpec("_P")
_T = TypeVar("_T")

_MAX_PARAM = 2048  # a code or state longer than this is no code or state of a DVA
# Longer than any retrieval can take (28 queries, 4 at a time, 30 s each, a few pages).
_INTERRUPTED_AFTER = timedelta(minutes=15)
# With several workers: heartbeats missed before an attempt counts as run by nobody.
_QUIET_HEARTBEATS = 3
# Answers the DVA can only give once the person logged in with DigiD there.
_AFTER_DIGID = frozenset({Situation.GEWEIGERD, Situation.GEEN_GEGEVENS, Situation.NIET_GEDEELD})
# Callbacks that name a live attempt of someone but are refused: the attempt ends there.
_ENDED_BY_CALLBACK = frozenset({Situation.STATE_VERLOPEN, Situation.ANDERE_SESSIE})


@dataclass(frozen=True)
class Choice:
    """Why a choice on the search page cannot go on (in Dutch); the attempt stays open."""

    problem: str


@dataclass(frozen=True)
class Started:
    """Where the browser goes next: the DVA, or the attempt's outcome page."""

    location: str
    flow_id: str


@dataclass(frozen=True)
class CallbackResult:
    flow_id: str | None  # the attempt to show, when it is this person's
    problem: Situation | None  # a refused callback: shown on a page of its own


def _param(params: Mapping[str, str], name: str) -> str | None:
    value = params.get(name)
    if value is None or len(value) > _MAX_PARAM:
        return None
    return value


def _code_text(code: str) -> str:
    # An error code from the browser goes into the ketenlog: printable ASCII, short.
    cleaned = "".join(ch for ch in code if 0x20 <= ord(ch) < 0x7F and ch not in '"\\')
    return cleaned[:64] or "other"


class Verzamelen:
    def __init__(
        self,
        *,
        settings: PgoSettings,
        clock: Clock,
        attempts: AttemptStore,
        records: RecordStore,
        consents: ConsentStore,
        sessions: WebSessions,
        oauth: OAuthClient,
        directory: Callable[[], Directory],
        client: httpx.AsyncClient,
        retrieve: RetrieveService,
        whitelist: Whitelist,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.attempts = attempts
        self.records = records
        self.consents = consents
        self.sessions = sessions
        self.oauth = oauth
        self.directory = directory
        # The attempts of other workers seen standing still: (updated_at, since when).
        self._quiet: dict[str, tuple[datetime, float]] = {}
        self.runs = RetrievalRuns(
            settings=settings,
            clock=clock,
            attempts=attempts,
            records=records,
            directory=directory,
            client=client,
            retrieve=retrieve,
            whitelist=whitelist,
        )

    @staticmethod
    async def _db(function: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
        # The stores are synchronous (SQLAlchemy); keep the event loop free.
        return await anyio.to_thread.run_sync(lambda: function(*args, **kwargs))

    def _trail(self, flow_id: str, session_id: str | None) -> Trail:
        return Trail(self.clock, self.settings.hostname, flow_id, session_id)

    def outcome_url(self, flow_id: str) -> str:
        return f"/ophalen/{flow_id}"

    # --- starting ---------------------------------------------------------------------------

    def open_search(self, web: SessionInfo, device: Device) -> str:
        """The session's open attempt, or a new one (``flow-start``): "gegevens ophalen"."""
        assert web.account_id is not None
        if web.search_flow_id is not None:
            attempt = self.attempts.get(web.search_flow_id)
            if attempt is not None and attempt.stage == Stage.ZOEKEN.value:
                return attempt.flow_id
        attempt = self.attempts.open(web.account_id, session_id=web.id, device=device)
        self.sessions.set_search_flow(web.id, attempt.flow_id)
        return attempt.flow_id

    @staticmethod
    def _check_choice(provider: Provider | None, chosen: Sequence[str]) -> list[Service] | Choice:
        if provider is None:
            return Choice(
                "Deze zorgaanbieder staat niet (meer) in de lijst van MedMij. Zoek opnieuw."
            )
        wanted = list(dict.fromkeys(chosen))
        if not wanted:
            return Choice("Kies welke gegevens je wilt ophalen.")
        services = [provider.service(g) for g in wanted]
        if any(s is None for s in services):
            return Choice("Deze gegevens kun je bij deze zorgaanbieder niet ophalen. Zoek opnieuw.")
        found = [s for s in services if s is not None]
        if len({(s.authorization_endpoint, s.token_endpoint) for s in found}) != 1:
            return Choice(
                "Deze gegevens staan bij deze zorgaanbieder op verschillende plekken. "
                "Haal ze één voor één op."
            )
        return found

    async def start(
        self,
        web: SessionInfo,
        device: Device,
        zorgaanbieder: str,
        chosen: Sequence[str],
        *,
        retry_of: str | None = None,
        search_flow: str | None = None,
    ) -> Started | Choice:
        """The person chose a zorgaanbieder and gegevensdiensten: go to the DVA, or fetch.

        ``search_flow``: the search attempt the form was shown in (its ``poging``), which
        the choice continues while it is still the session's open search."""
        assert web.account_id is not None
        directory = self.directory()
        provider = directory.provider(zorgaanbieder)
        services = self._check_choice(provider, chosen)
        if isinstance(services, Choice):
            return services
        assert provider is not None
        ids = [s.id for s in services]
        flow_id = (
            None
            if retry_of is not None
            else await self._db(self.sessions.take_search_flow, web.id, search_flow)
        )
        if flow_id is None:
            attempt = await self._db(
                self.attempts.open,
                web.account_id,
                session_id=web.id,
                device=device,
                retry_of=retry_of,
            )
            flow_id = attempt.flow_id
        chosen_attempt = await self._db(self.attempts.choose, flow_id, provider.naam, ids, device)
        if chosen_attempt is None:
            # The search attempt was ended meanwhile (a sweep): begin a fresh one.
            attempt = await self._db(
                self.attempts.open,
                web.account_id,
                session_id=web.id,
                device=device,
                retry_of=retry_of,
            )
            chosen_attempt = await self._db(
                self.attempts.choose, attempt.flow_id, provider.naam, ids, device
            )
            assert chosen_attempt is not None
        attempt = chosen_attempt
        consent = await self._db(self.consents.active, web.account_id, provider.naam)
        if (
            consent is not None
            and set(ids) <= set(consent.gegevensdiensten)
            and consent.token_endpoint == services[0].token_endpoint
        ):
            token = await self._db(self.consents.claim, consent.id)
            if token is not None:
                await self._with_consent(attempt, consent, token, ids, wait=True)
                return Started(self.outcome_url(attempt.flow_id), attempt.flow_id)
        return await self._to_dva(attempt, provider, services, web.id)

    async def _to_dva(
        self, attempt: Attempt, provider: Provider, services: list[Service], session_id: str
    ) -> Started:
        first = services[0]
        offered = [
            s.id
            for s in provider.services
            if s.interfaceversie == first.interfaceversie
            and s.authorization_endpoint == first.authorization_endpoint
        ]
        try:
            scope = request_scope(
                provider.naam, [s.id for s in services], offered, first.interfaceversie
            )
        except ScopeError as exc:
            await self._db(self.attempts.end, attempt.flow_id, Situation.PGO_FOUT, detail=str(exc))
            return Started(self.outcome_url(attempt.flow_id), attempt.flow_id)
        request = self.oauth.authorization_request(
            first.authorization_endpoint, str(scope), attempt.flow_id
        )
        trail = self._trail(attempt.flow_id, session_id)
        trail.add(
            EventType.SEND_AUTHORIZATION_REQUEST,
            request=RequestInfo(
                id=request.request_id,
                method="GET",
                uri=first.authorization_endpoint,
                client_id=self.settings.hostname,
                server_id=urlsplit(first.authorization_endpoint).hostname,
                initiated_by=attempt.initiator,
                provider_id=provider.naam,
            ),
        )
        moved = await self._db(
            self.attempts.to_dva,
            attempt.flow_id,
            state=request.state,
            code_verifier=request.code_verifier,
            token_endpoint=first.token_endpoint,
            ttl=timedelta(seconds=self.settings.state_ttl_seconds),
            records=trail.take(),
        )
        if not moved:
            return Started(self.outcome_url(attempt.flow_id), attempt.flow_id)
        return Started(request.url, attempt.flow_id)

    # --- the callback -----------------------------------------------------------------------

    async def callback(self, web: SessionInfo | None, params: Mapping[str, str]) -> CallbackResult:
        session_id = None if web is None else web.id
        account_id = None if web is None else web.account_id
        claim = await self._db(self.attempts.claim, _param(params, "state"), session_id, account_id)
        if claim.attempt is None:
            assert claim.problem is not None
            if claim.flow_id is not None and claim.problem in _ENDED_BY_CALLBACK:
                await self._record_refused(claim.flow_id, params)
            mine = None
            if claim.flow_id is not None and account_id is not None:
                named = await self._db(self.attempts.get, claim.flow_id)
                if named is not None and named.account_id == account_id:
                    mine = named.flow_id
            return CallbackResult(mine, claim.problem)
        attempt = claim.attempt
        assert attempt.zorgaanbieder is not None
        trail = self._trail(attempt.flow_id, session_id)
        error = _param(params, "error")
        if error is not None:
            description = _param(params, "error_description")
            situation = situation_for_error(error, description)
            trail.add(
                EventType.RECEIVE_AUTHORIZATION_ERROR,
                request=RequestInfo(
                    uri=self.settings.redirect_uri, provider_id=attempt.zorgaanbieder
                ),
                error=ErrorInfo(
                    code=_code_text(error), description=description and description[:300]
                ),
            )
            if situation in _AFTER_DIGID:
                await self._db(self.attempts.logged_in, attempt.flow_id)
            await self._db(
                self.attempts.end,
                attempt.flow_id,
                situation,
                detail=f"{_code_text(error)}: {description or ''}".strip(),
                records=trail.take(),
            )
            return CallbackResult(attempt.flow_id, None)
        code = _param(params, "code")
        if not code:
            trail.add(
                EventType.RECEIVE_AUTHORIZATION_ERROR,
                request=RequestInfo(
                    uri=self.settings.redirect_uri, provider_id=attempt.zorgaanbieder
                ),
                error=ErrorInfo(
                    code="invalid_request", description="callback without code or error"
                ),
            )
            await self._db(
                self.attempts.end,
                attempt.flow_id,
                Situation.TERUGKEER_ONGELDIG,
                detail="callback without code or error",
                records=trail.take(),
            )
            return CallbackResult(attempt.flow_id, None)
        trail.add(
            EventType.RECEIVE_AUTHORIZATION_RESPONSE,
            request=RequestInfo(uri=self.settings.redirect_uri, provider_id=attempt.zorgaanbieder),
        )
        await self._db(self.attempts.logged_in, attempt.flow_id, trail.take())
        assert attempt.token_endpoint is not None
        token = await self.oauth.exchange_code(
            attempt.token_endpoint,
            code=code,
            code_verifier=attempt.code_verifier,
            trail=trail,
            initiated_by=attempt.initiator,
            provider_id=attempt.zorgaanbieder,
        )
        await self._token_in(attempt, token, trail, wait=True)
        return CallbackResult(attempt.flow_id, None)

    async def _record_refused(self, flow_id: str, params: Mapping[str, str]) -> None:
        """What a callback the PGO refused had brought, in the ketenlog of its attempt."""
        attempt = await self._db(self.attempts.get, flow_id)
        if attempt is None:
            return
        trail = self._trail(flow_id, attempt.session_id)
        request = RequestInfo(uri=self.settings.redirect_uri, provider_id=attempt.zorgaanbieder)
        error = _param(params, "error")
        if error is not None:
            description = _param(params, "error_description")
            trail.add(
                EventType.RECEIVE_AUTHORIZATION_ERROR,
                request=request,
                error=ErrorInfo(
                    code=_code_text(error), description=description and description[:300]
                ),
            )
        else:
            trail.add(EventType.RECEIVE_AUTHORIZATION_RESPONSE, request=request)
        await self._db(self.attempts.add_records, trail.take())

    async def _token_in(
        self,
        attempt: Attempt,
        token: Token | TokenFailure,
        trail: Trail,
        *,
        wait: bool,
        consent: ConsentView | None = None,
    ) -> None:
        assert attempt.zorgaanbieder is not None
        if isinstance(token, TokenFailure):
            if consent is not None and token.consent_ended:
                await self._db(
                    self.consents.end,
                    consent.id,
                    ConsentStatus.VERLOPEN,
                    f"{token.code}: {token.description}",
                )
                situation = Situation.TOESTEMMING_VERLOPEN
            else:
                if consent is not None:
                    await self._db(self.consents.release, consent.id)
                situation = (
                    Situation.TOKEN_GEWEIGERD if token.answered else Situation.TOKEN_ONBEREIKBAAR
                )
            await self._db(
                self.attempts.end,
                attempt.flow_id,
                situation,
                detail=f"{token.code}: {token.description}",
                records=trail.take(),
            )
            return
        requested = attempt.gegevensdiensten.split()
        granted = granted_services(token.scope, attempt.zorgaanbieder, requested)
        if not granted:
            await self._db(
                self.attempts.end,
                attempt.flow_id,
                Situation.GEEN_GEGEVENS,
                detail=f"token scope grants none of {' '.join(requested)}: {token.scope!r}",
                records=trail.take(),
            )
            return
        moved = await self._db(
            self.attempts.to_retrieval, attempt.flow_id, granted=granted, records=trail.take()
        )
        if not moved:
            return
        if token.refresh_token is not None:
            assert attempt.token_endpoint is not None
            _, replaced = await self._db(
                self.consents.grant,
                account_id=attempt.account_id,
                zorgaanbieder=attempt.zorgaanbieder,
                gegevensdiensten=granted,
                refresh_token=token.refresh_token,
                token_endpoint=attempt.token_endpoint,
                flow_id=attempt.flow_id,
            )
            for number, old in enumerate(replaced):
                self.runs.spawn(
                    f"revoke-{attempt.flow_id}-{number}",
                    self._revoke_quietly(old.token_endpoint, old.refresh_token),
                )
        await self.runs.run(attempt.flow_id, token.access_token, wait=wait)

    async def _revoke_quietly(self, token_endpoint: str, refresh_token: str) -> None:
        outcome = await self.oauth.revoke(token_endpoint, refresh_token)
        if not outcome.done:
            log.warning("a replaced consent was not revoked at the DVA: %s", outcome.detail)

    # --- langdurige toestemming ---------------------------------------------------------------

    async def _with_consent(
        self,
        attempt: Attempt,
        consent: ConsentView,
        refresh_token: str,
        ids: Sequence[str],
        *,
        wait: bool,
    ) -> None:
        assert attempt.zorgaanbieder is not None
        trail = self._trail(attempt.flow_id, attempt.session_id)
        # The stage moves on now (no sweep takes it for abandoned); what is granted
        # follows from the refresh.
        await self._db(
            self.attempts.to_retrieval,
            attempt.flow_id,
            granted=(),
            via_consent=True,
            token_endpoint=consent.token_endpoint,
        )
        token = await self.oauth.refresh(
            consent.token_endpoint,
            refresh_token=refresh_token,
            trail=trail,
            initiated_by=attempt.initiator,
            provider_id=attempt.zorgaanbieder,
        )
        refreshed = await self._db(self.attempts.get, attempt.flow_id)
        assert refreshed is not None
        await self._token_in_consent(refreshed, token, trail, consent, ids, wait=wait)

    async def _token_in_consent(
        self,
        attempt: Attempt,
        token: Token | TokenFailure,
        trail: Trail,
        consent: ConsentView,
        ids: Sequence[str],
        *,
        wait: bool,
    ) -> None:
        assert attempt.zorgaanbieder is not None
        if isinstance(token, TokenFailure):
            await self._token_in(attempt, token, trail, wait=wait, consent=consent)
            return
        await self._db(self.consents.rotated, consent.id, token.refresh_token)
        granted = granted_services(token.scope, attempt.zorgaanbieder, list(ids))
        if not granted:
            await self._db(
                self.attempts.end,
                attempt.flow_id,
                Situation.GEEN_GEGEVENS,
                detail=f"refreshed token grants none of {' '.join(ids)}",
                records=trail.take(),
            )
            return
        await self._db(self.attempts.grant_services, attempt.flow_id, granted, trail.take())
        await self.runs.run(attempt.flow_id, token.access_token, wait=wait)

    async def retry(self, web: SessionInfo, device: Device, flow_id: str) -> Started | Choice:
        """A new attempt for only what failed in ``flow_id`` (its failed gegevensdiensten;
        of those, only the failed queries when the rest can be kept)."""
        attempt = await self._db(self.attempts.get, flow_id)
        if attempt is None or attempt.account_id != web.account_id or attempt.zorgaanbieder is None:
            return Choice("Deze ophaalpoging kennen we niet. Begin opnieuw bij ‘Gegevens ophalen’.")
        if attempt.stage != Stage.KLAAR.value or attempt.outcome != "mislukt":
            return Started(self.outcome_url(flow_id), flow_id)
        services = await self._db(self.attempts.services, flow_id)
        failed = [s.gegevensdienst for s in services if s.status != "gelukt"]
        if not failed:
            failed = attempt.gegevensdiensten.split()
        return await self.start(web, device, attempt.zorgaanbieder, failed, retry_of=flow_id)

    async def refresh_consent(self, consent: ConsentView) -> str | None:
        """A system-initiated retrieval with a consent's refresh token; its flow id.

        None when there is nothing to do: another use of the token is under way, or the
        current ZAL no longer offers what the consent covers (then no attempt is made:
        the person asked for nothing, and the DVA is not asked either).
        """
        provider = self.directory().provider(consent.zorgaanbieder)
        ids = [g for g in consent.gegevensdiensten if provider is not None and provider.service(g)]
        if not ids:
            log.info("consent %s: the ZAL offers none of its gegevensdiensten now", consent.id)
            return None
        token = await self._db(self.consents.claim, consent.id)
        if token is None:
            return None
        attempt = await self._db(
            self.attempts.open,
            consent.account_id,
            session_id=None,
            device=Device.SYSTEM,
            initiator=Initiator.SYSTEM,
        )
        chosen = await self._db(
            self.attempts.choose, attempt.flow_id, consent.zorgaanbieder, ids, Device.SYSTEM
        )
        assert chosen is not None
        await self._with_consent(chosen, consent, token, ids, wait=False)
        return attempt.flow_id

    async def refresh_due(self) -> list[str]:
        """The background job: lapse what lapsed, refresh what is due; the attempts made.

        At most ``refresh_concurrency`` refreshes at once. One after the other, a DVA whose
        resource server is slow or hangs held up every other person's refresh behind its
        own (seconds each), and a failure of one ended the round for all that came after.
        A refresh that fails is logged and the others go on; it is due again next round.
        """
        await self._db(self.consents.lapse_overdue)
        due = await self._db(self.consents.due, timedelta(days=self.settings.consent_refresh_days))
        slots = asyncio.Semaphore(self.settings.refresh_concurrency)

        async def refresh(consent: ConsentView) -> str | None:
            async with slots:
                return await self.refresh_consent(consent)

        made = []
        ended = await asyncio.gather(*(refresh(c) for c in due), return_exceptions=True)
        for consent, result in zip(due, ended, strict=True):
            if isinstance(result, BaseException):
                if not isinstance(result, Exception):
                    raise result  # cancellation and the like: not a failed refresh
                log.error("refresh of consent %s failed", consent.id, exc_info=result)
            elif result is not None:
                made.append(result)
        return made

    async def revoke(self, web: SessionInfo, zorgaanbieder: str) -> bool | None:
        """Revoke the active consent for a zorgaanbieder at the DVA (RFC 7009), then here.

        True when revoked, False when the DVA could not be told (the consent stays),
        None when there was no active consent.
        """
        assert web.account_id is not None
        consent = await self._db(self.consents.active, web.account_id, zorgaanbieder)
        if consent is None:
            return None
        token = await self._db(self.consents.token_of, consent.id)
        if token is not None:
            outcome = await self.oauth.revoke(consent.token_endpoint, token)
            if not outcome.done:
                log.warning("revocation at the DVA failed: %s", outcome.detail)
                return False
        await self._db(
            self.consents.end, consent.id, ConsentStatus.INGETROKKEN, "revoked by the person"
        )
        return True

    # --- housekeeping -----------------------------------------------------------------------

    async def sweep(self) -> None:
        """End attempts nobody will finish; purge expired sessions."""
        now = self.clock()
        abandon = timedelta(seconds=self.settings.abandon_after_seconds)
        left = await self._db(self.attempts.stale, Stage.ZOEKEN, now - abandon, chosen=False)
        for flow_id in left:
            await self._db(
                self.attempts.end,
                flow_id,
                Situation.AFGEHAAKT_BIJ_ZOEKEN,
                only_from=(Stage.ZOEKEN,),
                chosen=False,
            )
        # Chosen, yet never sent on to the DVA (nor fetched with a langdurige toestemming):
        # the request that chose failed half-way. The person did choose, so that is the PGO
        # failing them, not them leaving the search.
        for flow_id in await self._db(
            self.attempts.stale, Stage.ZOEKEN, now - _INTERRUPTED_AFTER, chosen=True
        ):
            await self._db(
                self.attempts.end,
                flow_id,
                Situation.ONDERBROKEN,
                detail="chosen, but never sent on to the zorgaanbieder",
                only_from=(Stage.ZOEKEN,),
                chosen=True,
            )
        at_dva = max(abandon, timedelta(seconds=self.settings.state_ttl_seconds))
        for flow_id in await self._db(self.attempts.stale, Stage.BIJ_DVA, now - at_dva):
            await self._db(
                self.attempts.end, flow_id, Situation.NIET_TERUGGEKEERD, only_from=(Stage.BIJ_DVA,)
            )
        stale = {
            flow_id: (stage, updated_at)
            for stage in (Stage.TERUG, Stage.OPHALEN)
            for flow_id, updated_at in await self._db(
                self.attempts.stale_since, stage, now - _INTERRUPTED_AFTER
            )
        }
        for flow_id in self._run_by_nobody(stale):
            await self._db(
                self.attempts.end,
                flow_id,
                Situation.ONDERBROKEN,
                detail="no retrieval was running for it",
                only_from=(stale[flow_id][0],),
            )
        await self._db(self.sessions.purge)

    def _run_by_nobody(self, stale: Mapping[str, tuple[Stage, datetime]]) -> list[str]:
        """Of the attempts at the callback or fetching that have not moved for long (by flow
        id: their stage and ``updated_at``), those no process is running. This process knows
        its own; with several workers another's moves its attempt every HEARTBEAT_SECONDS,
        so one that keeps the same ``updated_at`` for several heartbeats of *real* time has
        nobody behind it (real time: a simulation may move the clock ahead faster than a
        heartbeat comes)."""
        if self.settings.workers == 1:
            return [flow_id for flow_id in stale if not self.runs.busy(flow_id)]
        seen = time.monotonic()
        quiet: dict[str, tuple[datetime, float]] = {}
        nobody = []
        for flow_id, (_, updated_at) in stale.items():
            if self.runs.busy(flow_id):
                continue
            before = self._quiet.get(flow_id)
            since = before[1] if before is not None and before[0] == updated_at else seen
            quiet[flow_id] = (updated_at, since)
            if seen - since >= _QUIET_HEARTBEATS * HEARTBEAT_SECONDS:
                nobody.append(flow_id)
        self._quiet = quiet
        return nobody

    async def end_interrupted(self) -> list[str]:
        """At start, before any request: end the attempts a previous process left half-way
        (killed, or crashed, before its shutdown could end them): at the callback or
        fetching, or chosen at the search but not yet sent on to the DVA. Their work lived in
        that process only, and no other process of the role runs yet (only the first worker
        does this, and it starts alone: medmij_stack.pgo.runtime), so none of it goes on:
        ``onderbroken`` at once, not after the sweep's quarter of an hour, so that a person
        who comes back after the restart reads the ending, never a "bezig" page that cannot
        end."""
        ended = []
        running = (Stage.TERUG, Stage.OPHALEN)
        for flow_id in await self._db(self.attempts.in_stages, running):
            if await self._db(
                self.attempts.end,
                flow_id,
                Situation.ONDERBROKEN,
                detail="the PGO restarted while it was under way",
                only_from=running,
            ):
                ended.append(flow_id)
        for flow_id in await self._db(self.attempts.in_stages, (Stage.ZOEKEN,), chosen=True):
            if await self._db(
                self.attempts.end,
                flow_id,
                Situation.ONDERBROKEN,
                detail="the PGO restarted before it sent the person on to the zorgaanbieder",
                only_from=(Stage.ZOEKEN,),
                chosen=True,
            ):
                ended.append(flow_id)
        return ended

    def busy(self, flow_id: str) -> bool:
        return self.runs.busy(flow_id)

    async def stop(self) -> None:
        await self.runs.stop()
