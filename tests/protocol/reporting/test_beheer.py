"""The beheerrapport: per gegevensdienst succesvol / onsuccesvol verzameld, and its XML."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from lxml import etree

from medmij_stack.protocol.funnel import FailureReason, FunnelEvent, FunnelStep, Initiator
from medmij_stack.protocol.reporting.attempts import fold_attempts
from medmij_stack.protocol.reporting.beheer import (
    BeheerFigures,
    Beheerrapport,
    ServiceCount,
    beheer_figures,
)
from medmij_stack.protocol.reporting.errors import ReportingError
from medmij_stack.protocol.reporting.months import Month
from tests.protocol.reporting.builders import SUCCESS, at, flow

JAN = Month(2026, 1)
STAMP = datetime(2026, 2, 2, 8, 0, tzinfo=UTC)


def january() -> list[FunnelEvent]:
    return [
        *flow("p1", at(2026, 1, 2), SUCCESS, gegevensdiensten=("48", "63")),
        *flow("p2", at(2026, 1, 3), FailureReason.TOKEN_ERROR, gegevensdiensten=("48",)),
        *flow("p2", at(2026, 1, 4), None, through=FunnelStep.INGELOGD_BIJ_DVA,
              gegevensdiensten=("49",)),
        *flow("p3", at(2026, 1, 5), FailureReason.ABANDONED_AT_SEARCH),
        *flow("p4", at(2026, 1, 6), SUCCESS, gegevensdiensten=("63",),
              initiator=Initiator.SYSTEM),
        *flow("p5", at(2026, 2, 6), SUCCESS, gegevensdiensten=("48",)),  # February
    ]  # fmt: skip


def test_per_gegevensdienst_counts_of_a_hand_built_month() -> None:
    assert beheer_figures(fold_attempts(january()), JAN) == BeheerFigures(
        actieve_gebruikers=4,  # p1 p2 p3 p4
        gegevensdiensten=(
            ServiceCount("48", succesvol=1, onsuccesvol=1),
            ServiceCount("49", succesvol=0, onsuccesvol=1),  # still open: not afgerond
            ServiceCount("63", succesvol=2, onsuccesvol=0),
        ),
        onsuccesvol_zonder_gegevensdienst=1,  # p3, gone before naming a service
    )


def test_a_month_without_events_is_zeros() -> None:
    assert beheer_figures([], Month(2026, 3)) == BeheerFigures(0, (), 0)


def test_the_xml_marks_the_dutch_month_and_holds_the_counts() -> None:
    report = Beheerrapport("14", JAN, STAMP, beheer_figures(fold_attempts(january()), JAN), 120)
    assert report.problems() == []
    document = etree.fromstring(report.to_xml())
    assert document.tag == "MedMijRapport"
    assert document.findtext("Deelnemer") == "14"
    assert document.findtext("Vanaf") == "2026-01-01T00:00:00+01:00"
    assert document.findtext("Tot") == "2026-02-01T00:00:00+01:00"
    assert document.findtext("Tijdstempel") == "2026-02-02T08:00:00+00:00"
    assert document.findtext("Beheerrapport/Personen/Aantal") == "120"
    assert document.findtext("Beheerrapport/ActieveGebruikers/Verzamelen") == "4"
    rows = [
        (
            row.findtext("GegevensdienstId"),
            row.findtext("AantalSuccesvolVerzameld"),
            row.findtext("AantalOnsuccesvolVerzameld"),
        )
        for row in document.iterfind("Beheerrapport/Gegevensdiensten/Gegevensdienst")
    ]
    assert rows == [("48", "1", "1"), ("49", "0", "1"), ("63", "2", "0")]
    assert document.findtext("Beheerrapport/OnsuccesvolZonderGegevensdienst") == "1"


def test_summer_months_start_at_plus_two() -> None:
    report = Beheerrapport("14", Month(2026, 7), STAMP, BeheerFigures(0, (), 0))
    document = etree.fromstring(report.to_xml())
    assert document.findtext("Vanaf") == "2026-07-01T00:00:00+02:00"
    assert document.findtext("Tot") == "2026-08-01T00:00:00+02:00"
    assert document.find("Beheerrapport/Personen") is None  # no account count given


def test_a_gegevensdienst_that_is_no_number_does_not_become_a_report() -> None:
    figures = BeheerFigures(1, (ServiceCount("bgz", 1, 0),), 0)
    with pytest.raises(ReportingError, match="XSD"):
        Beheerrapport("14", JAN, STAMP, figures).to_xml()


def test_the_schema_refuses_one_gegevensdienst_twice() -> None:
    figures = BeheerFigures(1, (ServiceCount("48", 1, 0), ServiceCount("48", 0, 1)), 0)
    assert Beheerrapport("14", JAN, STAMP, figures).problems()


def test_bad_report_arguments_are_refused() -> None:
    with pytest.raises(ReportingError):
        Beheerrapport("", JAN, STAMP, BeheerFigures(0, (), 0))
    with pytest.raises(ReportingError):
        Beheerrapport("14", JAN, datetime(2026, 2, 2), BeheerFigures(0, (), 0))
    with pytest.raises(ReportingError):
        Beheerrapport("14", JAN, STAMP, BeheerFigures(0, (), 0), personen=-1)
