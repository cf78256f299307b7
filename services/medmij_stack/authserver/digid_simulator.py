"""The DigiD simulator: the world's test persons, their artifacts, and artifact resolution.

It stands in for DigiD in the local world ("a DigiD simulator: pick or type a test BSN;
can be made to fail or be cancelled; returns through a simulated artifact resolution on
the back channel"). Its login screen is served by the front app (authserver.screens);
the outcome of a login is kept here under a random one-time artifact, which expires
after a short while, and the browser goes back to the authorisation server with that
artifact only.

The artifact-resolution service (:func:`mount_artifact_resolution`) is an HTTPS endpoint
on the back node, in the JSON shape that :mod:`authserver.digid` describes. It is a party
of its own as far as the protocol goes: the Whitelist gate admits only nodes with a
whitelisted certificate, and of those it answers only this DVA's own authorisation
server (its back-node hostname; a PGO, or another DVA, gets 403), as DigiD answers only
the service provider the artifact was issued for. Like SAML's, it answers an artifact
once: a second resolution, or one after expiry, gets 410; an artifact it never issued,
404. It writes nothing to the ketenlog: DigiD is not a MedMij party, and the
authorisation server records its side of the exchange itself.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import select, update
from starlette.concurrency import run_in_threadpool

from medmij_stack.protocol.oauth_errors import NO_STORE
from medmij_stack.protocol.persons import TestPerson, elfproef
from medmij_stack.runtime.asgi_tls import admitted_hostnames
from medmij_stack.runtime.backchannel import UnreadableRequest, read_json_object

from . import credentials, paths
from .adapter import MAX_BODY_BYTES
from .db import Database
from .digid import MAX_ARTIFACT_LENGTH, Outcome, Resolution
from .errors import AccessDenied, ArtifactGone, InvalidRequest, UnknownArtifact
from .tables import DigidArtifact

__all__ = ["ARTIFACT_TTL", "DigidSimulator", "Unresolvable", "mount_artifact_resolution"]

ARTIFACT_TTL = timedelta(minutes=5)


class Unresolvable(StrEnum):
    """Why an artifact was not resolved."""

    UNKNOWN = "unknown"  # never issued
    GONE = "gone"  # resolved before, or expired


class DigidSimulator:
    """DigiD for the local world: the test persons of the world's seed, and nobody else."""

    def __init__(self, db: Database, persons: tuple[TestPerson, ...]) -> None:
        self._db = db
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
                    expires_at=datetime.now(UTC) + ARTIFACT_TTL,
                )
            )
        return artifact

    def resolve_once(self, artifact: str) -> Resolution | Unresolvable:
        """What the artifact stood for, the first time it is asked and before it expires."""
        now = datetime.now(UTC)
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


async def _artifact(request: Request) -> str:
    """The artifact of an ArtifactResolve body; InvalidRequest when the body is not one."""
    try:
        data = await read_json_object(request, max_bytes=MAX_BODY_BYTES)
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
