"""Reporting: pure functions from the PGO's funnel events and the ketenlog to MedMij's figures.

One module per thing it holds: :mod:`.months` (calendar months, ``--from``/``--to``),
:mod:`.attempts` (funnel events folded per retrieval), :mod:`.users` (users by outcome, active
users), :mod:`.funnel_steps` (drop-out per process step), :mod:`.breakdowns` (per PGO,
zorgaanbieder, gegevensdienst, device, initiator), :mod:`.latency` (token and resource latency
against the norms), :mod:`.reconcile` (the DVA's counts against the PGO's), :mod:`.dvp` (the
2026 DVP-rapportage), :mod:`.beheer` (the beheerrapport), and :mod:`.figures`, whose
:func:`compute` gathers them all. No I/O: the caller brings the events.
"""

from medmij_stack.protocol.reporting.attempts import Attempt, fold_attempts
from medmij_stack.protocol.reporting.beheer import BeheerFigures, Beheerrapport, beheer_figures
from medmij_stack.protocol.reporting.consents import LongTermConsent, holders_at
from medmij_stack.protocol.reporting.dvp import DataRecord, DvpMeta, DvpRapportage, data_record
from medmij_stack.protocol.reporting.errors import ReportingError
from medmij_stack.protocol.reporting.figures import Figures, MonthFigures, compute
from medmij_stack.protocol.reporting.months import DUTCH_TIME, Month, Period
from medmij_stack.protocol.reporting.visits import Visit

__all__ = [
    "DUTCH_TIME",
    "Attempt",
    "BeheerFigures",
    "Beheerrapport",
    "DataRecord",
    "DvpMeta",
    "DvpRapportage",
    "Figures",
    "LongTermConsent",
    "Month",
    "MonthFigures",
    "Period",
    "ReportingError",
    "Visit",
    "beheer_figures",
    "compute",
    "data_record",
    "fold_attempts",
    "holders_at",
]
