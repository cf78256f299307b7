"""Step 3: the DigiD simulator, whole: its state, its login screen and its artifact resolution.

It stands in for DigiD in the local world ("a DigiD simulator: pick or type a test BSN;
can be made to fail or be cancelled; returns through a simulated artifact resolution on
the back channel"):

* its state (:class:`DigidSimulator`): the world's test persons, and the outcome of each
  login kept under a random one-time artifact, which expires after a short while;
* its login screen (:func:`mount_login`, on the front app), ``/digid/inloggen``: the person
  picks or types a test BSN, or makes the login fail or cancels it; the browser goes back
  to the authorisation server's assertion consumer (:mod:`.assertion_consumer`) with the
  artifact only;
* its artifact-resolution service (:func:`mount_artifact_resolution`, on the back app).

The artifact-resolution service is an HTTPS endpoint
on the back node, in the JSON shape that :mod:`.assertion_consumer` describes. It is a party
of its own as far as the protocol goes: the Whitelist gate admits only nodes with a
whitelisted certificate, and of those it answers only this DVA's own authorisation
server (its back-node hostname; a PGO, or another DVA, gets 403), as DigiD answers only
the service provider the artifact was issued for. Like SAML's, it answers an artifact
once: a second resolution, or one after expiry, gets 410; an artifact it never issued,
404. It writes nothing to the ketenlog: DigiD is not a MedMij party, and the
authorisation server records its side of the exchange itself.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from typing import Annotated
from urllib.parse import urlencode

from fastapi import FastAPI, Form, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy import select, update
from starlette.concurrency import run_in_threadpool

from medmij_stack.authserver import credentials, paths
from medmij_stack.authserver.authorize import show_flow
from medmij_stack.authserver.db import Database
from medmij_stack.authserver.errors import (
    AccessDenied,
    ArtifactGone,
    FlowUnavailable,
    InvalidRequest,
    UnknownArtifact,
)
from medmij_stack.authserver.frontchannel import FormField, FrontChannel, SessionCookie
from medmij_stack.authserver.sessions import Step
from medmij_stack.authserver.tables import DigidArtifact, Flow
from medmij_stack.protocol.funnel import Clock, system_clock
from medmij_stack.protocol.oauth_errors import NO_STORE
from medmij_stack.protocol.persons import TestPerson, elfproef
from medmij_stack.runtime.asgi_tls import admitted_hostnames
from medmij_stack.runtime.backchannel import UnreadableRequest, read_json_object

from .assertion_consumer import MAX_ARTIFACT_LENGTH, Outcome, Resolution

__all__ = [
    "ARTIFACT_TTL",
    "DigidSimulator",
    "Unresolvable",
    "mount_artifact_resolution",
    "mount_login",
]

ARTIFACT_TTL = timedelta(minutes=5)
_MAX_BODY_BYTES = 16 * 1024  # an ArtifactResolve is a few dozen bytes


# --- the simulator's state -----------------------------------------------------------------------


class Unresolvable(StrEnum):
    """Why an artifact was not resolved."""

    UNKNOWN = "unknown"  # never issued
    GONE = "gone"  # resolved before, or expired


class DigidSimulator:
    """DigiD for the local world: the test persons of the world's seed, and nobody else."""

    def __init__(
        self, db: Database, persons: tuple[TestPerson, ...], *, clock: Clock = system_clock
    ) -> None:
        self._db = db
        self._clock = clock  # the authorisation server's (medmij_stack.runtime.clock)
        self.persons = persons
        self._by_bsn = {person.bsn: person for person in persons}

    def person(self, bsn: str) -> TestPerson | None:
        return self._by_bsn.get(bsn)

    @staticmethod
    def plausible(bsn: str) -> bool:
        """Nine digits passing the elfproef: what DigiD would accept as a BSN at all."""
        return elfproef(bsn)

    def issue_artifact(self, flow_id: str, outcome: Outcome, bsn: str | None = None) -> str:
        """The artifact the simulator's login screen sends the browser back with."""
        if outcome is Outcome.SUCCESS and (bsn is None or bsn not in self._by_bsn):
            raise ValueError("a successful login needs the BSN of a test person")
        artifact = credentials.new_random()
        with self._db.transaction() as session:
            session.add(
                DigidArtifact(
                    artifact_hash=credentials.digest(artifact),
                    flow_id=flow_id,
                    outcome=outcome.value,
                    bsn=bsn if outcome is Outcome.SUCCESS else None,
                    expires_at=self._clock() + ARTIFACT_TTL,
                )
            )
        return artifact

    def resolve_once(self, artifact: str) -> Resolution | Unresolvable:
        """What the artifact stood for, the first time it is asked and before it expires."""
        now = self._clock()
        artifact_hash = credentials.digest(artifact)
        with self._db.transaction() as session:
            # Compare-and-set: of two concurrent resolutions, exactly one wins.
            row = session.execute(
                update(DigidArtifact)
                .where(
                    DigidArtifact.artifact_hash == artifact_hash,
                    DigidArtifact.resolved_at.is_(None),
                    DigidArtifact.expires_at > now,
                )
                .values(resolved_at=now)
                .returning(DigidArtifact.flow_id, DigidArtifact.outcome, DigidArtifact.bsn)
            ).first()
            if row is None:
                known = session.scalar(
                    select(DigidArtifact.artifact_hash).where(
                        DigidArtifact.artifact_hash == artifact_hash
                    )
                )
                return Unresolvable.UNKNOWN if known is None else Unresolvable.GONE
        flow_id, outcome, bsn = row
        return Resolution(flow_id=flow_id, outcome=Outcome(outcome), bsn=bsn)


# --- the login screen (front app) -------------------------------------------------------------


# The screen lists this many test persons at most. A simulation world holds one per
# simulated user (a thousand or more): listing them all made every login screen a
# table of thousands of rows, rendered for every flow and useless to a person; beyond
# the list any test person's BSN still works, and stack.json lists them all.
LISTED_PERSONS = 50


def _login_page(
    front: FrontChannel, flow: Flow, *, problem: str | None = None, bsn: str = "", status: int = 200
) -> Response:
    persons = front.dva.digid.persons
    return front.pages.render(
        "digid.html",
        status,
        persons=persons[:LISTED_PERSONS],
        unlisted=max(0, len(persons) - LISTED_PERSONS),
        total=len(persons),
        login_url=paths.DIGID_LOGIN,
        relay_state=flow.id,
        csrf_token=flow.csrf_token,
        problem=problem,
        bsn=bsn,
    )


def login_page(front: FrontChannel, relay_state: str | None, cookie: str | None) -> Response:
    """The login screen of the flow the authorisation server sent the person here for."""
    flow = front.flow(relay_state or "", cookie)
    if flow.step != Step.DIGID:
        return show_flow(front, flow.id, cookie)
    return _login_page(front, flow)


def login(
    front: FrontChannel,
    relay_state: str | None,
    cookie: str | None,
    csrf_token: str | None,
    action: str | None,
    bsn: str | None,
) -> Response:
    """The person logs in (or fails, or cancels): back to the assertion consumer."""
    flow = front.checked_form(relay_state or "", cookie, csrf_token)
    if flow.step != Step.DIGID:
        raise FlowUnavailable.step_taken(flow.step, flow.id)
    digid = front.dva.digid
    if action == "login":
        typed = (bsn or "").strip()
        if not digid.plausible(typed):
            return _login_page(
                front,
                flow,
                problem="Dit is geen geldig BSN. Een BSN heeft 9 cijfers.",
                bsn=typed[:20],
                status=400,
            )
        if digid.person(typed) is None:
            return _login_page(
                front,
                flow,
                problem=(
                    "Dit BSN hoort niet bij een testpersoon. Kies een testpersoon uit de lijst."
                ),
                bsn=typed,
                status=400,
            )
        artifact = digid.issue_artifact(flow.id, Outcome.SUCCESS, typed)
    elif action == "fail":
        artifact = digid.issue_artifact(flow.id, Outcome.FAILURE)
    elif action == "cancel":
        artifact = digid.issue_artifact(flow.id, Outcome.CANCELLED)
    else:
        return _login_page(front, flow, problem="Kies een van de knoppen.", status=400)
    query = urlencode({"SAMLart": artifact, "RelayState": flow.id})
    return RedirectResponse(f"{paths.ACS}?{query}", status_code=303)


def mount_login(app: FastAPI, front: FrontChannel) -> None:
    """Put the simulator's login screen on the front-channel app."""

    @app.get(paths.DIGID_LOGIN, include_in_schema=False)
    def digid_login_page(
        relay_state: Annotated[str | None, Query(alias="RelayState")] = None,
        cookie: SessionCookie = None,
    ) -> Response:
        return login_page(front, relay_state, cookie)

    @app.post(paths.DIGID_LOGIN, include_in_schema=False)
    def digid_login(
        relay_state: Annotated[str | None, Form(alias="RelayState")] = None,
        cookie: SessionCookie = None,
        csrf_token: FormField = None,
        action: FormField = None,
        bsn: FormField = None,
    ) -> Response:
        return login(front, relay_state, cookie, csrf_token, action, bsn)


# --- the artifact-resolution service (back app) -------------------------------------------------


async def _artifact(request: Request) -> str:
    """The artifact of an ArtifactResolve body; InvalidRequest when the body is not one."""
    try:
        data = await read_json_object(request, max_bytes=_MAX_BODY_BYTES)
    except UnreadableRequest as bad:
        raise InvalidRequest(f"Invalid request: {bad.description}.", status=bad.status) from None
    artifact = data.get("artifact")
    if not isinstance(artifact, str) or not 0 < len(artifact) <= MAX_ARTIFACT_LENGTH:
        raise InvalidRequest("Invalid request: give the artifact: {'artifact': '<SAMLart>'}.")
    return artifact


def mount_artifact_resolution(app: FastAPI, simulator: DigidSimulator, own_hostname: str) -> None:
    """Put the simulator's artifact-resolution service on the back-channel app.

    ``own_hostname``: the back node of this DVA, the only caller that is answered.
    """
    own = own_hostname.lower()

    @app.post(paths.DIGID_ARTIFACT_RESOLUTION, include_in_schema=False)
    async def artifact_resolution(request: Request) -> Response:
        # Refusals are rendered by the back channel's handler (authserver.backchannel).
        if own not in admitted_hostnames(request.scope):
            raise AccessDenied("Only this DVA's own nodes may resolve DigiD artifacts.")
        artifact = await _artifact(request)
        answer = await run_in_threadpool(simulator.resolve_once, artifact)
        if answer is Unresolvable.UNKNOWN:
            raise UnknownArtifact("No such artifact was issued.")
        if answer is Unresolvable.GONE:
            raise ArtifactGone("The artifact was resolved before, or expired.")
        assert isinstance(answer, Resolution)
        return JSONResponse(answer.to_json(), headers=dict(NO_STORE))
