"""DigiD, as the authorisation server sees it, and the simulator that stands in for it.

The Afsprakenstelsel has the authorisation server authenticate the person with DigiD,
as a SAML service provider with the artifact binding ([SPEC-1.x] steps 4-7): DigiD sends
the browser back with an *artifact* only, and the server resolves that artifact to the
BSN over a direct back-channel call (``send_artifact_resolution_request``). The BSN
never travels through the browser.

:class:`Authenticator` is that seam (MEDMIJ.md 1.3: "mock DigiD behind an interface").
:class:`DigidSimulator` implements it for the local world: its login screen (served by
the front app) offers the world's synthetic test persons, and can also make the login
fail or be cancelled; the outcome is kept server-side under a random one-time artifact
that expires after a short while. Resolution is an in-process call standing in for
SAML's ArtifactResolve over SOAP; like the real one, it answers once per artifact.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Protocol

from sqlalchemy import update

from medmij.persons import TestPerson, elfproef

from . import credentials
from .db import Database
from .tables import DigidArtifact

__all__ = ["Authenticator", "DigidSimulator", "Outcome", "Resolution"]

_ARTIFACT_TTL = timedelta(minutes=5)


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


class Authenticator(Protocol):
    def resolve(self, artifact: str) -> Resolution | None:
        """Resolve an artifact once; None when it is unknown, expired or already resolved."""


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
                    expires_at=datetime.now(UTC) + _ARTIFACT_TTL,
                )
            )
        return artifact

    def resolve(self, artifact: str) -> Resolution | None:
        now = datetime.now(UTC)
        with self._db.transaction() as session:
            # Compare-and-set: of two concurrent resolutions, exactly one wins.
            row = session.execute(
                update(DigidArtifact)
                .where(
                    DigidArtifact.artifact_hash == credentials.digest(artifact),
                    DigidArtifact.resolved_at.is_(None),
                    DigidArtifact.expires_at > now,
                )
                .values(resolved_at=now)
                .returning(DigidArtifact.flow_id, DigidArtifact.outcome, DigidArtifact.bsn)
            ).first()
        if row is None:
            return None
        flow_id, outcome, bsn = row
        return Resolution(flow_id=flow_id, outcome=Outcome(outcome), bsn=bsn)
