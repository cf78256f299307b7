"""Step 3, this server's side: back from DigiD, the artifact resolved over the back channel.

The Afsprakenstelsel has the authorisation server authenticate the person with DigiD,
as a SAML service provider with the artifact binding ([SPEC-1.x] steps 4-7): DigiD sends
the browser back with an *artifact* only, and the server resolves that artifact to the
BSN over a direct back-channel call (``send_artifact_resolution_request``). The BSN
never travels through the browser.

The assertion consumer (``GET /oauth/digid/acs``, :func:`assertion_consumer`) is where
DigiD sends the person back, with the artifact and the flow (``RelayState``). A login
that succeeded goes on to the beschikbaarheidstoets (:mod:`authserver.availability`); one
that failed goes back to the PGO with ``unauthorized_client``; one the person cancelled
shows the annuleringspagina (:mod:`authserver.consent`).

:class:`Authenticator` is the seam ("mock DigiD behind an interface"): a real SAML DigiD
(ArtifactResolve over SOAP) would be another implementation of it.
:class:`ArtifactResolutionClient` is the one the assertion consumer uses: it asks an
artifact-resolution service over HTTPS, with mutual TLS and this node's own certificate
(:func:`medmij_stack.runtime.backchannel.post_async`).
In the local world that service is the DigiD simulator's
(:mod:`.simulator`), a party of its own as far as the protocol goes,
even though it is lodged on this server's back node.

The exchange is SAML's ArtifactResolve / ArtifactResponse, in a simple JSON shape::

    POST /digid/artifact-resolution            ArtifactResolve
    Content-Type: application/json
    {"artifact": "<the SAMLart the browser brought>"}

    200 {"outcome": "success", "bsn": "<BSN>", "in_response_to": "<flow id>"}
    200 {"outcome": "failure" | "cancelled", "bsn": null, "in_response_to": "<flow id>"}
    404 {"error": "unknown_artifact", …}       never issued
    410 {"error": "artifact_gone", …}          resolved before, or expired

``outcome`` stands for the ArtifactResponse's status (Success, or an authentication that
failed or was cancelled), ``bsn`` for the assertion's subject, ``in_response_to`` for
SAML's ``InResponseTo``: the authentication request, here the flow that sent the person
to DigiD. As in SAML, an artifact is answered once. SAML answers a second
ArtifactResolve with an empty ArtifactResponse; this shape says 410 instead, so that a
replay is told apart from an artifact that never existed.

Whatever keeps this server from a clear answer (unreachable, a 5xx, an answer it cannot
read) is a :class:`~authserver.errors.TechnicalFault`: the person sees the "technische
storing" page, and a fault never passes for a failed login.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, Protocol

import httpx
from fastapi import FastAPI, Query
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from medmij_stack.authserver import availability, paths
from medmij_stack.authserver.errors import (
    AUTHENTICATION_FAILED,
    FlowError,
    FlowUnavailable,
    TechnicalFault,
)
from medmij_stack.authserver.eventlog import Trail
from medmij_stack.authserver.frontchannel import CurrentVisit, FrontChannel, SessionCookie, Visit
from medmij_stack.authserver.sessions import Step
from medmij_stack.authserver.tables import Flow
from medmij_stack.protocol.headers import Tracing
from medmij_stack.protocol.ketenlog import ErrorInfo, EventType, RequestInfo, ResponseInfo
from medmij_stack.protocol.oauth_errors import UNAUTHORIZED_CLIENT
from medmij_stack.protocol.persons import elfproef
from medmij_stack.runtime.backchannel import CallFailed, post_async

__all__ = [
    "MAX_ARTIFACT_LENGTH",
    "ArtifactResolutionClient",
    "Authenticator",
    "Outcome",
    "Resolution",
    "assertion_consumer",
    "mount",
]

MAX_ARTIFACT_LENGTH = 512  # a SAML artifact is 44 bytes, about 60 characters in base64
_MAX_ID_LENGTH = 64


class Outcome(StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"  # DigiD could not establish who this is
    CANCELLED = "cancelled"  # the person cancelled at DigiD


@dataclass(frozen=True)
class Resolution:
    """What an artifact stood for: the login outcome, for which flow, and whom."""

    flow_id: str
    outcome: Outcome
    bsn: str | None

    def __post_init__(self) -> None:
        if self.outcome is Outcome.SUCCESS:
            if self.bsn is None or not elfproef(self.bsn):
                raise ValueError("a successful login names a BSN that passes the elfproef")
        elif self.bsn is not None:
            raise ValueError("only a successful login names a BSN")
        if not self.flow_id or len(self.flow_id) > _MAX_ID_LENGTH:
            raise ValueError("in_response_to must name the authentication request")

    def to_json(self) -> dict[str, Any]:
        return {"outcome": self.outcome.value, "bsn": self.bsn, "in_response_to": self.flow_id}

    @classmethod
    def from_json(cls, data: Any) -> Resolution:
        """Read an ArtifactResponse; ValueError when it is not one."""
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        outcome, bsn, flow_id = data.get("outcome"), data.get("bsn"), data.get("in_response_to")
        if not isinstance(outcome, str):
            raise ValueError(f"outcome must be one of {', '.join(Outcome)}")
        if bsn is not None and not isinstance(bsn, str):
            raise ValueError("bsn must be a string or null")
        if not isinstance(flow_id, str):
            raise ValueError("in_response_to must be a string")
        return cls(flow_id=flow_id, outcome=Outcome(outcome), bsn=bsn)  # ValueError if unknown


class Authenticator(Protocol):
    url: str  # where artifacts are resolved, as the ketenlog records it

    async def resolve(self, artifact: str, tracing: Tracing) -> Resolution | None:
        """Resolve an artifact once; None when it is unknown, expired or already resolved.

        Raises TechnicalFault when no clear answer can be had.
        """

    async def aclose(self) -> None:
        """Release connections; the authenticator is not used afterwards."""


class ArtifactResolutionClient:
    """The default :class:`Authenticator`: the artifact-resolution service, over HTTPS.

    ``client`` carries this node's certificate for mutual TLS and trusts only the
    configured roots (medmij_stack.runtime.net). DigiD is not a MedMij participant, so the MedMij
    Whitelist does not apply to it; the server certificate and its hostname do.
    """

    def __init__(self, url: str, client: httpx.AsyncClient) -> None:
        self.url = url
        self._client = client

    async def resolve(self, artifact: str, tracing: Tracing) -> Resolution | None:
        if not artifact or len(artifact) > MAX_ARTIFACT_LENGTH:
            return None  # not an artifact at all: nothing to ask
        # A new connection per resolution: a login needs one, and an idle pooled connection
        # to a service in this same process would hold up its graceful shutdown (uvicorn
        # waits for open connections before the lifespan closes this client).
        headers = {**tracing.headers(), "Connection": "close"}
        try:
            # No Whitelist here: DigiD is not a MedMij participant (see the class docstring).
            answer = await post_async(
                self._client,
                self.url,
                json={"artifact": artifact},
                headers=headers,
                expect=(200, 404, 410),
            )
            if answer.status != 200:
                return None
            return answer.read(Resolution.from_json)
        except CallFailed as failed:
            raise TechnicalFault(f"artifact resolution {failed}") from failed

    async def aclose(self) -> None:
        await self._client.aclose()


# --- the assertion consumer ------------------------------------------------------------------


async def assertion_consumer(
    front: FrontChannel,
    artifact: str | None,
    relay_state: str | None,
    cookie: str | None,
    visit: Visit,
) -> Response:
    """Where DigiD sends the person back: the artifact is resolved over the back channel."""
    flow = await run_in_threadpool(front.flow, relay_state or "", cookie)
    if flow.step != Step.DIGID:
        raise FlowUnavailable.step_taken(flow.step, flow.id)
    trail = front.visiting(visit, flow)
    resolution: Resolution | None = None
    request_id: str | None = None
    if artifact:
        authenticator = front.dva.authenticator
        tracing = Tracing.new(flow.trace_id)
        request_id = tracing.request_id
        trail.add(
            EventType.SEND_ARTIFACT_RESOLUTION_REQUEST,
            request=RequestInfo(
                id=tracing.request_id,
                method="POST",
                uri=authenticator.url,
                server_id=front.dva.settings.hostname,
            ),
        )
        try:
            resolution = await authenticator.resolve(artifact, tracing)
        except TechnicalFault:
            # The flow ends in the technische-storing page, with the way back to the PGO.
            await run_in_threadpool(front.advance, flow, (Step.DIGID,), Step.STORING)
            raise
    return await run_in_threadpool(_resolved_unit, front, flow, trail, resolution, request_id)


def _resolved_unit(
    front: FrontChannel,
    flow: Flow,
    trail: Trail,
    resolution: Resolution | None,
    request_id: str | None,
) -> Response:
    # One write transaction for the flow's move and the step's ketenlog records; it opens
    # at the first write, after the beschikbaarheidstoets has answered.
    with front.unit():
        return _resolved(front, flow, trail, resolution, request_id)


def _resolved(
    front: FrontChannel,
    flow: Flow,
    trail: Trail,
    resolution: Resolution | None,
    request_id: str | None,
) -> Response:
    """Act on what DigiD said: on to the beschikbaarheidstoets, or back to the PGO."""
    if resolution is None or resolution.flow_id != flow.id:
        raise _authentication_failed(front, flow, trail, "artifact unknown, expired or used")
    if resolution.outcome is Outcome.FAILURE:
        raise _authentication_failed(front, flow, trail, "DigiD could not authenticate")
    if resolution.outcome is Outcome.CANCELLED:
        trail.add(EventType.RECEIVE_AUTHORIZATION_CANCELLATION)
        front.advance(flow, (Step.DIGID,), Step.CANCELLED)
        url = f"{paths.FLOW}/{flow.id}/geannuleerd"
        return front.done(trail, RedirectResponse(url, status_code=303))
    assert resolution.bsn is not None
    # Event 5 of the Logging interface: the authentication response, which the artifact
    # binding delivers by reference; its alternatives (5.1 cancellation, 5.2 error) above.
    trail.add(
        EventType.RECEIVE_AUTHENTICATION_RESPONSE,
        response=ResponseInfo(id=request_id, status=200),
    )
    return availability.check(front, flow, trail, resolution.bsn)


def _authentication_failed(front: FrontChannel, flow: Flow, trail: Trail, why: str) -> FlowError:
    """DigiD gave no person: back to the PGO with unauthorized_client (exception 2)."""
    trail.add(
        EventType.RECEIVE_AUTHENTICATION_ERROR, error=ErrorInfo(code="other", description=why)
    )
    front.advance(flow, (Step.DIGID,), Step.DONE)
    return FlowError(UNAUTHORIZED_CLIENT, AUTHENTICATION_FAILED)


def mount(app: FastAPI, front: FrontChannel) -> None:
    @app.get(paths.ACS, include_in_schema=False)
    async def digid_return(
        visit: CurrentVisit,
        artifact: Annotated[str | None, Query(alias="SAMLart")] = None,
        relay_state: Annotated[str | None, Query(alias="RelayState")] = None,
        cookie: SessionCookie = None,
    ) -> Response:
        # Async: the artifact resolution is awaited, not run in a thread (the database
        # steps before and after it are).
        return await assertion_consumer(front, artifact, relay_state, cookie, visit)
