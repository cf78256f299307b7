"""The 2026 DVP-rapportage: the monthly ``DataRecord`` a PGO delivers to MedMij, and its XML.

From 2026-01-01 every DVP (PGO) delivers an extended beheerrapportage each month. Its
definitions come from MedMij's pilot with a production PGO (Beheerrapportage optimalisatie
PoP C3.005: the ``queries_dvp`` README, the decision log ``LOGBOEK.md`` and a masked example
report, https://github.com/Stichting-MedMij/Ontwikkeling-afsprakenstelsel-Onderhoud-en-doorontwikkelingBeheerrapportage-optimalisatie-PoP-C3.005).
The pilot computes them in SQL over its portal's sessions; here the same figures come from
the PGO's funnel events (:mod:`medmij_stack.protocol.funnel`), its visits
(:class:`~medmij_stack.protocol.reporting.visits.Visit`) and its long-term consents.

Readings taken (R is the reported month; "active in a month": the person logged in that
month (a visit) or started a retrieval themselves):

* RapportageMaand is R itself: the pilot moved it to "the month the report is about" on
  2026-03-11 (its masked example still shows the generation month). WindowStartMaand and
  WindowEindMaand are the first days of R and R+1 (end exclusive).
* GebruikersAfgelopenJaar: persons active in the twelve months R-11 … R
  (WindowStartTwaalfMaand is R-11, WindowEindTwaalfMaand R+1, exclusive). The pilot's SQL
  spans thirteen months (R-12 … R); the field names a year, and a year is twelve months.
* GebruikersAfgelopenMaand: persons active in R. AantalBezoekers + AantalFailed +
  AantalSuccesvol is exactly that: bezoekers started no retrieval of their own in R, failed
  users started at least one and none succeeded, successful users had at least one succeed.
  (The pilot's intermediate model also has a "failed user" flag restricted to new or inactive
  users; its delivered AantalFailed does not apply it, and neither does this.)
* AantalInactief / AantalNonFrequent / AantalFrequent split the successful users by the
  latest month before R in which they were active: none or before R-12 / R-12 … R-7 /
  R-6 … R-1, the pilot's boundaries (decisions of 2025-12-08 and 2025-12-15).
* AantalLangdurigeToestemming: persons holding a long-term consent at the end of R
  (:mod:`medmij_stack.protocol.reporting.consents`).
* The usage buckets (Eenmalig … TienmaligOfMeer Gebruik) split the successful users by their
  number of distinct sessions (visits) in R-11 … R: 1, 2–5, 6–9, 10 or more. A successful
  user for whom no visit was recorded counts as one session: their retrieval proves a login.
* AantalApp/PC/Web/System and Succesvol*/Uitval*: retrieval attempts in R by the device they
  started on, the PGO's own retrievals (langdurige toestemming) being ``system``. Uitval is
  every attempt that did not succeed, open ones included. (The pilot's SQL maps PC to "Web
  Mobile" and Web to "Web Desktop"; here each field is the device of its name.)
* Succesvol/Uitval per process step: the person-started attempts of R through
  :func:`~medmij_stack.protocol.reporting.funnel_steps.step_funnel` — Succesvol is passed,
  Uitval is ended at that step. The PGO's own retrievals pass neither the search nor DigiD
  and are left out of these six.
* Eenmalig … TienmaligOfMeer Failed: the failed users of R by how many retrievals they
  started in R: 1, 2–5, 6–9, 10 or more.

Person-level figures (users, bezoekers, failed, successful and their splits) count what
persons did themselves; retrievals the PGO ran on a long-term consent show up in the device
figures as ``System``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import date, datetime, tzinfo
from typing import Any

from lxml import etree

from medmij_stack.protocol.funnel import Device, Initiator, ProcessStep
from medmij_stack.protocol.reporting.attempts import Attempt
from medmij_stack.protocol.reporting.consents import LongTermConsent, holders_at
from medmij_stack.protocol.reporting.errors import ReportingError
from medmij_stack.protocol.reporting.funnel_steps import step_funnel
from medmij_stack.protocol.reporting.months import DUTCH_TIME, Month
from medmij_stack.protocol.reporting.schemas import DVP_RAPPORTAGE_XSD, validate
from medmij_stack.protocol.reporting.visits import Visit

__all__ = [
    "DATA_RECORD_ELEMENTS",
    "DataRecord",
    "DvpMeta",
    "DvpRapportage",
    "data_record",
]


@dataclass(frozen=True)
class DataRecord:
    """Every ``DataRecord`` field, in the report's order (the element name is the field's
    name in CamelCase, see :data:`DATA_RECORD_ELEMENTS`)."""

    gebruikers_afgelopen_jaar: int
    gebruikers_afgelopen_maand: int
    aantal_bezoekers: int
    aantal_failed: int
    aantal_succesvol: int
    aantal_inactief: int
    aantal_frequent: int
    aantal_non_frequent: int
    aantal_langdurige_toestemming: int
    aantal_eenmalig_gebruik: int
    aantal_twee_tot_vijfmalig_gebruik: int
    aantal_zes_tot_negenmalig_gebruik: int
    aantal_tienmalig_of_meer_gebruik: int
    aantal_app: int
    aantal_pc: int
    aantal_web: int
    aantal_system: int
    succesvol_app: int
    succesvol_pc: int
    succesvol_web: int
    succesvol_system: int
    uitval_app: int
    uitval_pc: int
    uitval_web: int
    uitval_system: int
    uitval_zorgaanbieder_zoeken: int
    uitval_digid: int
    uitval_uitwisseling: int
    succesvol_zorgaanbieder_zoeken: int
    succesvol_digid: int
    succesvol_uitwisseling: int
    aantal_eenmalig_failed: int
    aantal_twee_tot_vijfmalig_failed: int
    aantal_zes_tot_negenmalig_failed: int
    aantal_tienmalig_of_meer_failed: int

    def values(self) -> tuple[tuple[str, int], ...]:
        """(element name, value) in the report's order."""
        return tuple((element, getattr(self, name)) for element, name in DATA_RECORD_ELEMENTS)

    def to_json(self) -> dict[str, Any]:
        return dict(self.values())


def _element_name(field: str) -> str:
    special = {"digid": "DigID", "pc": "PC"}
    return "".join(special.get(part, part.capitalize()) for part in field.split("_"))


DATA_RECORD_ELEMENTS: tuple[tuple[str, str], ...] = tuple(
    (_element_name(f.name), f.name) for f in fields(DataRecord)
)
"""(XML element, DataRecord attribute) for every field, in the report's order."""


def _bucket(count: int) -> int:
    """0 for once, 1 for 2–5 times, 2 for 6–9, 3 for 10 or more."""
    return 0 if count <= 1 else 1 if count <= 5 else 2 if count <= 9 else 3


def data_record(
    attempts: Iterable[Attempt],
    month: Month,
    *,
    visits: Iterable[Visit] = (),
    consents: Iterable[LongTermConsent] = (),
    zone: tzinfo = DUTCH_TIME,
) -> DataRecord:
    """The ``DataRecord`` of ``month`` (see the module docstring for every definition).

    ``attempts`` and ``visits`` may reach back before the month: the twelve-month figures
    and the previous login need the year before it. A month without anything is all zeros.
    """
    chosen = list(attempts)
    seen = list(visits)
    first = month.shifted(-11)
    own = [a for a in chosen if a.initiator is Initiator.PERSON]

    active: dict[str, set[Month]] = defaultdict(set)
    sessions: dict[str, set[str]] = defaultdict(set)
    for visit in seen:
        visit_month = Month.of(visit.at, zone)
        active[visit.person].add(visit_month)
        if first <= visit_month <= month:
            sessions[visit.person].add(visit.session)
    for attempt in own:
        active[attempt.person].add(attempt.month)

    year_users = {p for p, months in active.items() if any(first <= m <= month for m in months)}
    month_users = {p for p, months in active.items() if month in months}
    this_month = [a for a in own if a.month == month]
    started = Counter(a.person for a in this_month)
    successful = {a.person for a in this_month if a.succeeded}
    failed = set(started) - successful

    recency = Counter[str]()
    for person in successful:
        earlier = [m for m in active[person] if m < month]
        previous = max(earlier) if earlier else None
        if previous is None or previous < month.shifted(-12):
            recency["inactief"] += 1
        elif previous < month.shifted(-6):
            recency["non_frequent"] += 1
        else:
            recency["frequent"] += 1
    usage = Counter(_bucket(max(len(sessions[p]), 1)) for p in successful)
    tries = Counter(_bucket(started[p]) for p in failed)

    all_this_month = [a for a in chosen if a.month == month]
    tried = Counter(a.device for a in all_this_month)
    won = Counter(a.device for a in all_this_month if a.succeeded)
    steps = step_funnel(this_month)
    search = steps.step(ProcessStep.ZORGAANBIEDER_ZOEKEN)
    digid = steps.step(ProcessStep.DIGID)
    exchange = steps.step(ProcessStep.UITWISSELING)

    return DataRecord(
        gebruikers_afgelopen_jaar=len(year_users),
        gebruikers_afgelopen_maand=len(month_users),
        aantal_bezoekers=len(month_users - set(started)),
        aantal_failed=len(failed),
        aantal_succesvol=len(successful),
        aantal_inactief=recency["inactief"],
        aantal_frequent=recency["frequent"],
        aantal_non_frequent=recency["non_frequent"],
        aantal_langdurige_toestemming=holders_at(consents, month.end(zone)),
        aantal_eenmalig_gebruik=usage[0],
        aantal_twee_tot_vijfmalig_gebruik=usage[1],
        aantal_zes_tot_negenmalig_gebruik=usage[2],
        aantal_tienmalig_of_meer_gebruik=usage[3],
        aantal_app=tried[Device.APP],
        aantal_pc=tried[Device.PC],
        aantal_web=tried[Device.WEB],
        aantal_system=tried[Device.SYSTEM],
        succesvol_app=won[Device.APP],
        succesvol_pc=won[Device.PC],
        succesvol_web=won[Device.WEB],
        succesvol_system=won[Device.SYSTEM],
        uitval_app=tried[Device.APP] - won[Device.APP],
        uitval_pc=tried[Device.PC] - won[Device.PC],
        uitval_web=tried[Device.WEB] - won[Device.WEB],
        uitval_system=tried[Device.SYSTEM] - won[Device.SYSTEM],
        uitval_zorgaanbieder_zoeken=search.ended,
        uitval_digid=digid.ended,
        uitval_uitwisseling=exchange.ended,
        succesvol_zorgaanbieder_zoeken=search.passed,
        succesvol_digid=digid.passed,
        succesvol_uitwisseling=exchange.passed,
        aantal_eenmalig_failed=tries[0],
        aantal_twee_tot_vijfmalig_failed=tries[1],
        aantal_zes_tot_negenmalig_failed=tries[2],
        aantal_tienmalig_of_meer_failed=tries[3],
    )


@dataclass(frozen=True)
class DvpMeta:
    """``DVPRapportageMeta``: who reports, when the report was made, and which months."""

    deelnemer: str
    """The DVP's MedMij participant number."""
    leverancier: str
    tijdstempel_uitvoering: datetime
    rapportage_maand: Month
    note: str | None = None

    def __post_init__(self) -> None:
        if not self.deelnemer.strip() or not self.leverancier.strip():
            raise ReportingError("Deelnemer and Leverancier must be non-empty")
        if self.tijdstempel_uitvoering.tzinfo is None:
            raise ReportingError("TijdstempelUitvoering must carry its UTC offset")

    def windows(self) -> tuple[tuple[str, date], ...]:
        month = self.rapportage_maand
        return (
            ("RapportageMaand", month.first_day()),
            ("WindowStartMaand", month.first_day()),
            ("WindowEindMaand", month.shifted(1).first_day()),
            ("WindowStartTwaalfMaand", month.shifted(-11).first_day()),
            ("WindowEindTwaalfMaand", month.shifted(1).first_day()),
        )


@dataclass(frozen=True)
class DvpRapportage:
    meta: DvpMeta
    record: DataRecord

    def to_element(self) -> etree._Element:
        root = etree.Element("DVPRapportage")
        meta = etree.SubElement(root, "DVPRapportageMeta")
        etree.SubElement(meta, "Deelnemer").text = self.meta.deelnemer
        etree.SubElement(meta, "Leverancier").text = self.meta.leverancier
        stamp = self.meta.tijdstempel_uitvoering.isoformat()
        etree.SubElement(meta, "TijdstempelUitvoering").text = stamp
        for name, day in self.meta.windows():
            etree.SubElement(meta, name).text = day.isoformat()
        if self.meta.note:
            etree.SubElement(meta, "Note").text = self.meta.note
        record = etree.SubElement(root, "DataRecord")
        for name, value in self.record.values():
            etree.SubElement(record, name).text = str(value)
        return root

    def problems(self) -> list[str]:
        """What the project's DVP-rapportage XSD finds wrong with :meth:`to_element`."""
        return validate(DVP_RAPPORTAGE_XSD, self.to_element())

    def to_xml(self) -> bytes:
        """The report as UTF-8 XML, checked against the XSD first (a fault here is a bug)."""
        root = self.to_element()
        problems = validate(DVP_RAPPORTAGE_XSD, root)
        if problems:
            raise ReportingError("DVP-rapportage does not fit its XSD: " + "; ".join(problems))
        return etree.tostring(root, xml_declaration=True, encoding="utf-8", pretty_print=True)
