"""A scripted patient: a person with a PGO account, driving the PGO's pages over HTTPS.

Used by ``medmij demo`` (:mod:`medmij_stack.wiring.demo`) and meant for any driver of many
patients at once: a population with a behaviour model, a load test's user. See
:mod:`.scripted` for what it does and :mod:`.results` for what it reports.
"""

from .behaviour import Abandon, AtConsent, AtDigid, AtLanding, Behaviour
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
from .scripted import (
    USER_AGENTS,
    LoginFailed,
    PatientError,
    PgoUnreachable,
    ScriptedPatient,
    UnexpectedPage,
    pick_hit,
)
from .stack import PgoAccount, StackError, StackInfo, TestPerson

__all__ = [
    "USER_AGENTS",
    "Abandon",
    "AtConsent",
    "AtDigid",
    "AtLanding",
    "AttemptResult",
    "Behaviour",
    "LoginFailed",
    "OfferedService",
    "OutcomeMessage",
    "PatientError",
    "PgoAccount",
    "PgoUnreachable",
    "ReturnVisit",
    "ScriptedPatient",
    "SearchHit",
    "ServiceOutcome",
    "StackError",
    "StackInfo",
    "Step",
    "StepTiming",
    "TestPerson",
    "UnexpectedPage",
    "pick_hit",
]
