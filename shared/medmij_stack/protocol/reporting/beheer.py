"""The beheerrapport (Managementinformatie): the older monthly report, per gegevensdienst.

AS 1.x (Managementinformatie, https://afsprakenstelsel.medmij.nl/display/PUBLIC/Managementinformatie)
has a Dienstverlener persoon deliver each month: the number of connected persons, the active
users ("minimaal één keer al dan niet succesvol gegevens hebben opgevraagd"), and per
gegevensdienst "Aantal keer succesvol verzameld (succesvol afgeronde UC Verzamelen)" and
"Aantal keer onsuccesvol verzameld (niet afgeronde UC Verzamelen)". Later versions deliver it as
XML with a ``MedMijRapport`` root (``Deelnemer``, ``Vanaf`` and ``Tot``: 00:00:00 on the first of
the month and of the next, ``Tijdstempel``) and ``Beheerrapport.Personen.Aantal``
(Managementinformatie v1.5.1,
https://vzvz.atlassian.net/wiki/spaces/MMOntwikkeling/pages/132945558/.Managementinformatie+v1.5.1).

Readings taken:

* One attempt is one UC Verzamelen; it counts once for each gegevensdienst it names: succesvol
  when its flow-end succeeded, onsuccesvol otherwise ("niet afgerond": failed or still open).
  Retrievals the PGO runs by itself on a long-term consent are Verzamelen too and count.
* An attempt that failed before naming any gegevensdienst (abandoned at the search) belongs
  to none; it is counted apart (``OnsuccesvolZonderGegevensdienst``) rather than dropped.
* Active users: persons with at least one attempt in the month, of any outcome.
* Personen.Aantal, the connected persons (accounts) of the PGO, is not in any event: the PGO
  passes its account count; without it the element is left out.
* Delen is not counted: this stack's PGO does not share (send) data, so it has no such events.
* The official Beheerrapport XSD was not recovered: the element names below
  ``Beheerrapport`` other than ``Personen/Aantal`` are this project's (see
  ``reporting/xsd/Beheerrapport.xsd``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from lxml import etree

from medmij_stack.protocol.reporting.attempts import Attempt, sort_gegevensdiensten
from medmij_stack.protocol.reporting.errors import ReportingError
from medmij_stack.protocol.reporting.months import DUTCH_TIME, Month
from medmij_stack.protocol.reporting.schemas import BEHEERRAPPORT_XSD, validate

__all__ = ["BeheerFigures", "Beheerrapport", "ServiceCount", "beheer_figures"]


@dataclass(frozen=True)
class ServiceCount:
    gegevensdienst: str
    succesvol: int
    onsuccesvol: int

    def to_json(self) -> dict[str, Any]:
        return {
            "gegevensdienst": self.gegevensdienst,
            "succesvol_verzameld": self.succesvol,
            "onsuccesvol_verzameld": self.onsuccesvol,
        }


@dataclass(frozen=True)
class BeheerFigures:
    """The figures of one month's beheerrapport."""

    actieve_gebruikers: int
    gegevensdiensten: tuple[ServiceCount, ...]
    onsuccesvol_zonder_gegevensdienst: int

    def to_json(self) -> dict[str, Any]:
        return {
            "actieve_gebruikers": self.actieve_gebruikers,
            "gegevensdiensten": [s.to_json() for s in self.gegevensdiensten],
            "onsuccesvol_zonder_gegevensdienst": self.onsuccesvol_zonder_gegevensdienst,
        }


def beheer_figures(attempts: Iterable[Attempt], month: Month) -> BeheerFigures:
    """The beheerrapport figures of the attempts that belong to ``month``."""
    chosen = [a for a in attempts if a.month == month]
    good: dict[str, int] = defaultdict(int)
    bad: dict[str, int] = defaultdict(int)
    for attempt in chosen:
        for service in attempt.gegevensdiensten:
            (good if attempt.succeeded else bad)[service] += 1
    services = sort_gegevensdiensten([*good, *bad])
    return BeheerFigures(
        actieve_gebruikers=len({a.person for a in chosen}),
        gegevensdiensten=tuple(ServiceCount(s, good[s], bad[s]) for s in services),
        onsuccesvol_zonder_gegevensdienst=sum(
            not a.gegevensdiensten and not a.succeeded for a in chosen
        ),
    )


@dataclass(frozen=True)
class Beheerrapport:
    """One month's ``MedMijRapport`` of a Dienstverlener persoon."""

    deelnemer: str
    month: Month
    tijdstempel: datetime
    figures: BeheerFigures
    personen: int | None = None
    """Connected persons (PGO accounts) at the end of the month, when the PGO gives them."""
    zone: tzinfo = DUTCH_TIME

    def __post_init__(self) -> None:
        if not self.deelnemer.strip():
            raise ReportingError("Deelnemer must be non-empty")
        if self.tijdstempel.tzinfo is None:
            raise ReportingError("Tijdstempel must carry its UTC offset")
        if self.personen is not None and self.personen < 0:
            raise ReportingError("Personen/Aantal cannot be negative")

    def to_element(self) -> etree._Element:
        root = etree.Element("MedMijRapport")
        etree.SubElement(root, "Deelnemer").text = self.deelnemer
        etree.SubElement(root, "Vanaf").text = self.month.start(self.zone).isoformat()
        etree.SubElement(root, "Tot").text = self.month.end(self.zone).isoformat()
        etree.SubElement(root, "Tijdstempel").text = self.tijdstempel.isoformat()
        report = etree.SubElement(root, "Beheerrapport")
        if self.personen is not None:
            persons = etree.SubElement(report, "Personen")
            etree.SubElement(persons, "Aantal").text = str(self.personen)
        active = etree.SubElement(report, "ActieveGebruikers")
        etree.SubElement(active, "Verzamelen").text = str(self.figures.actieve_gebruikers)
        services = etree.SubElement(report, "Gegevensdiensten")
        for count in self.figures.gegevensdiensten:
            service = etree.SubElement(services, "Gegevensdienst")
            etree.SubElement(service, "GegevensdienstId").text = count.gegevensdienst
            etree.SubElement(service, "AantalSuccesvolVerzameld").text = str(count.succesvol)
            etree.SubElement(service, "AantalOnsuccesvolVerzameld").text = str(count.onsuccesvol)
        etree.SubElement(report, "OnsuccesvolZonderGegevensdienst").text = str(
            self.figures.onsuccesvol_zonder_gegevensdienst
        )
        return root

    def problems(self) -> list[str]:
        return validate(BEHEERRAPPORT_XSD, self.to_element())

    def to_xml(self) -> bytes:
        """The report as UTF-8 XML, checked against the XSD first (a fault here is a bug)."""
        root = self.to_element()
        problems = validate(BEHEERRAPPORT_XSD, root)
        if problems:
            raise ReportingError("beheerrapport does not fit its XSD: " + "; ".join(problems))
        return etree.tostring(root, xml_declaration=True, encoding="utf-8", pretty_print=True)
