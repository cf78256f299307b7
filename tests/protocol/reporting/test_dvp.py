"""The 2026 DVP-rapportage: every DataRecord field on a hand-built month, and its XML."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from lxml import etree

from medmij_stack.protocol.funnel import Device, FailureReason, FunnelEvent, FunnelStep, Initiator
from medmij_stack.protocol.reporting.attempts import fold_attempts
from medmij_stack.protocol.reporting.consents import LongTermConsent
from medmij_stack.protocol.reporting.dvp import (
    DATA_RECORD_ELEMENTS,
    DataRecord,
    DvpMeta,
    DvpRapportage,
    data_record,
)
from medmij_stack.protocol.reporting.errors import ReportingError
from medmij_stack.protocol.reporting.months import Month
from medmij_stack.protocol.reporting.schemas import DVP_RAPPORTAGE_XSD, schema_document, validate
from medmij_stack.protocol.reporting.visits import Visit
from tests.protocol.reporting.builders import SUCCESS, at, flow

R = Month(2026, 3)
APP, PC, WEB = Device.APP, Device.PC, Device.WEB

# The DataRecord's elements in the order of MedMij's example report, written out by hand.
SPEC_ELEMENTS = [
    "GebruikersAfgelopenJaar", "GebruikersAfgelopenMaand", "AantalBezoekers", "AantalFailed",
    "AantalSuccesvol", "AantalInactief", "AantalFrequent", "AantalNonFrequent",
    "AantalLangdurigeToestemming", "AantalEenmaligGebruik", "AantalTweeTotVijfmaligGebruik",
    "AantalZesTotNegenmaligGebruik", "AantalTienmaligOfMeerGebruik", "AantalApp", "AantalPC",
    "AantalWeb", "AantalSystem", "SuccesvolApp", "SuccesvolPC", "SuccesvolWeb",
    "SuccesvolSystem", "UitvalApp", "UitvalPC", "UitvalWeb", "UitvalSystem",
    "UitvalZorgaanbiederZoeken", "UitvalDigID", "UitvalUitwisseling",
    "SuccesvolZorgaanbiederZoeken", "SuccesvolDigID", "SuccesvolUitwisseling",
    "AantalEenmaligFailed", "AantalTweeTotVijfmaligFailed", "AantalZesTotNegenmaligFailed",
    "AantalTienmaligOfMeerFailed",
]  # fmt: skip


def visit(person: str, when: datetime, session: str, device: Device = WEB) -> Visit:
    return Visit(person, when, session, device)


def march_visits() -> list[Visit]:
    return [
        visit("vera", at(2026, 3, 2), "v1"),  # logs in, fetches nothing: a bezoeker
        visit("sam", at(2026, 1, 20), "s1"),  # previous login two months back
        visit("sam", at(2026, 3, 3), "s2"),
        visit("ivo", at(2025, 2, 10), "i-old"),  # previous login 13 months back: inactive
        *[visit("ivo", at(2026, 3, 4, hour=h), f"i{h}", PC) for h in range(10)],  # 10 sessions
        visit("kim", at(2025, 3, 10), "k-old"),  # R-12 exactly: still non-frequent
        *[visit("kim", at(2026, 3, 5, hour=h), f"k{h}") for h in range(6)],  # 6 sessions
        visit("lea", at(2025, 9, 10), "l0", APP),  # R-6 exactly: frequent; in the 12 months
        visit("lea", at(2026, 3, 6), "l1", APP),
        visit("lea", at(2026, 3, 6, hour=13), "l1", APP),  # the same session recorded twice
        visit("old", at(2025, 4, 10), "o1"),  # inside the twelve months
        visit("older", at(2025, 3, 10), "o2"),  # outside them
        visit("next", at(2026, 4, 2), "n1"),  # after the month: ignored
    ]


def march_events() -> list[FunnelEvent]:
    return [
        *flow("sam", at(2026, 3, 3), SUCCESS, device=WEB),
        *flow("nina", at(2025, 6, 10), FailureReason.DIGID_FAILED, device=APP),
        *flow("nina", at(2026, 3, 4), SUCCESS, device=APP),  # no visit recorded at all
        *flow("ivo", at(2026, 3, 4, hour=15), SUCCESS, device=PC),
        *flow("kim", at(2026, 3, 5, hour=15), SUCCESS, device=WEB),
        *flow("lea", at(2026, 3, 6), SUCCESS, device=APP),
        *flow("lea", at(2026, 3, 7), FailureReason.RESOURCE_ERROR, device=APP),
        *flow("fred", at(2026, 3, 8), FailureReason.DIGID_FAILED, device=WEB),
        *flow("gus", at(2026, 3, 9), FailureReason.ABANDONED_AT_SEARCH, device=APP),
        *flow("gus", at(2026, 3, 10), None, through=FunnelStep.ZORGAANBIEDER_GEKOZEN, device=APP),
        *flow("gus", at(2026, 3, 11), FailureReason.TOKEN_ERROR, device=APP),
        *[e for d in range(10)
          for e in flow("hal", at(2026, 3, 12 + d), FailureReason.DIGID_CANCELLED, device=PC)],
        *flow("sys", at(2026, 3, 13), SUCCESS, initiator=Initiator.SYSTEM),
        *flow("sys", at(2026, 3, 14), FailureReason.TOKEN_ERROR, initiator=Initiator.SYSTEM),
        *flow("sam", at(2026, 4, 2), SUCCESS, device=WEB),  # next month: not in R
    ]  # fmt: skip


def march_consents() -> list[LongTermConsent]:
    end_of_march = datetime(2026, 3, 31, 22, 0, tzinfo=UTC)  # 1 April 00:00 Dutch summer time
    return [
        LongTermConsent("sys", "umc", at(2025, 12, 1)),
        LongTermConsent("lea", "umc", at(2026, 3, 10), at(2026, 3, 20)),  # revoked in March
        LongTermConsent("sam", "umc", at(2026, 2, 1)),
        LongTermConsent("sam", "huisarts", at(2026, 2, 2)),  # sam counts once
        LongTermConsent("kim", "umc", end_of_march),  # granted as April begins
        LongTermConsent("ivo", "umc", at(2025, 6, 1), end_of_march),  # held to the last instant
    ]


EXPECTED_MARCH = DataRecord(
    gebruikers_afgelopen_jaar=10,  # the nine below and "old"
    gebruikers_afgelopen_maand=9,  # vera sam nina ivo kim lea fred gus hal
    aantal_bezoekers=1,  # vera
    aantal_failed=3,  # fred gus hal
    aantal_succesvol=5,  # sam nina ivo kim lea
    aantal_inactief=1,  # ivo
    aantal_frequent=2,  # sam lea
    aantal_non_frequent=2,  # nina kim
    aantal_langdurige_toestemming=3,  # sys sam ivo
    aantal_eenmalig_gebruik=1,  # nina
    aantal_twee_tot_vijfmalig_gebruik=2,  # sam lea
    aantal_zes_tot_negenmalig_gebruik=1,  # kim
    aantal_tienmalig_of_meer_gebruik=1,  # ivo
    aantal_app=6,  # nina, lea ×2, gus ×3
    aantal_pc=11,  # ivo, hal ×10
    aantal_web=3,  # sam kim fred
    aantal_system=2,
    succesvol_app=2,
    succesvol_pc=1,
    succesvol_web=2,
    succesvol_system=1,
    uitval_app=4,
    uitval_pc=10,
    uitval_web=1,
    uitval_system=1,
    uitval_zorgaanbieder_zoeken=1,  # gus abandoned
    uitval_digid=12,  # fred, gus still open at the DVA, hal ×10
    uitval_uitwisseling=2,  # lea's resource error, gus's token error
    succesvol_zorgaanbieder_zoeken=19,  # 20 own attempts, one left at the search
    succesvol_digid=7,
    succesvol_uitwisseling=5,
    aantal_eenmalig_failed=1,  # fred
    aantal_twee_tot_vijfmalig_failed=1,  # gus
    aantal_zes_tot_negenmalig_failed=0,
    aantal_tienmalig_of_meer_failed=1,  # hal
)


def march() -> DataRecord:
    return data_record(
        fold_attempts(march_events()), R, visits=march_visits(), consents=march_consents()
    )


def test_every_field_of_a_hand_built_month() -> None:
    assert march() == EXPECTED_MARCH


def test_the_partitions_add_up() -> None:
    record = march()
    assert (
        record.aantal_bezoekers + record.aantal_failed + record.aantal_succesvol
        == record.gebruikers_afgelopen_maand
    )
    assert record.aantal_app == record.succesvol_app + record.uitval_app
    assert (
        record.uitval_zorgaanbieder_zoeken
        + record.uitval_digid
        + record.uitval_uitwisseling
        + record.succesvol_uitwisseling
        == record.succesvol_zorgaanbieder_zoeken + record.uitval_zorgaanbieder_zoeken
    )


def test_without_visits_only_persons_who_started_a_retrieval_are_users() -> None:
    record = data_record(fold_attempts(march_events()), R)
    assert record.gebruikers_afgelopen_maand == 8  # vera, who only visited, is not seen
    assert record.aantal_bezoekers == 0
    assert record.gebruikers_afgelopen_jaar == 8  # nina's June attempt is inside the year
    # Every successful user counts one session: their retrieval proves a login.
    assert record.aantal_eenmalig_gebruik == 5
    # Previous activity now comes from attempts only: nina (June 2025) is non-frequent, the
    # others had none.
    assert (record.aantal_inactief, record.aantal_non_frequent, record.aantal_frequent) == (
        4,
        1,
        0,
    )


def test_a_month_without_events_is_all_zeros() -> None:
    record = data_record([], Month(2026, 2))
    assert all(value == 0 for _, value in record.values())
    assert len(record.values()) == 35


def test_the_element_names_and_order_are_the_reports() -> None:
    assert [element for element, _ in DATA_RECORD_ELEMENTS] == SPEC_ELEMENTS


def meta(month: Month = R) -> DvpMeta:
    return DvpMeta(
        deelnemer="14",
        leverancier="Demo PGO B.V.",
        tijdstempel_uitvoering=datetime(2026, 4, 3, 9, 30, tzinfo=UTC),
        rapportage_maand=month,
    )


def test_the_xml_holds_every_field_and_the_windows() -> None:
    document = etree.fromstring(DvpRapportage(meta(), march()).to_xml())
    assert document.tag == "DVPRapportage"
    head = document.find("DVPRapportageMeta")
    assert head is not None
    assert [(child.tag, child.text) for child in head] == [
        ("Deelnemer", "14"),
        ("Leverancier", "Demo PGO B.V."),
        ("TijdstempelUitvoering", "2026-04-03T09:30:00+00:00"),
        ("RapportageMaand", "2026-03-01"),
        ("WindowStartMaand", "2026-03-01"),
        ("WindowEindMaand", "2026-04-01"),
        ("WindowStartTwaalfMaand", "2025-04-01"),
        ("WindowEindTwaalfMaand", "2026-04-01"),
    ]
    body = document.find("DataRecord")
    assert body is not None
    values = [(child.tag, child.text) for child in body]
    assert [tag for tag, _ in values] == SPEC_ELEMENTS
    assert dict(values)["UitvalDigID"] == "12"
    assert dict(values)["AantalPC"] == "11"
    assert dict(values)["GebruikersAfgelopenJaar"] == "10"


def test_the_xml_of_an_empty_month_is_valid_and_all_zeros() -> None:
    report = DvpRapportage(meta(Month(2026, 2)), data_record([], Month(2026, 2)))
    assert report.problems() == []
    body = etree.fromstring(report.to_xml()).find("DataRecord")
    assert body is not None
    assert {child.text for child in body} == {"0"}


def test_a_note_goes_in_the_meta() -> None:
    report = DvpRapportage(
        DvpMeta("14", "Demo", datetime(2026, 4, 3, tzinfo=UTC), R, note="eerste levering"),
        march(),
    )
    document = etree.fromstring(report.to_xml())
    assert document.findtext("DVPRapportageMeta/Note") == "eerste levering"


def test_the_schema_refuses_what_the_report_must_not_be() -> None:
    good = DvpRapportage(meta(), march()).to_element()
    assert validate(DVP_RAPPORTAGE_XSD, good) == []

    missing = DvpRapportage(meta(), march()).to_element()
    body = missing.find("DataRecord")
    assert body is not None
    body.remove(body[3])  # AantalFailed
    assert validate(DVP_RAPPORTAGE_XSD, missing)

    negative = DvpRapportage(meta(), march()).to_element()
    count = negative.find("DataRecord/AantalApp")
    assert count is not None
    count.text = "-1"
    assert validate(DVP_RAPPORTAGE_XSD, negative)

    mid_month = DvpRapportage(meta(), march()).to_element()
    day = mid_month.find("DVPRapportageMeta/RapportageMaand")
    assert day is not None
    day.text = "2026-03-15"
    assert validate(DVP_RAPPORTAGE_XSD, mid_month)


def test_the_schemas_data_record_is_the_models() -> None:
    xs = "{http://www.w3.org/2001/XMLSchema}"
    schema = schema_document(DVP_RAPPORTAGE_XSD).getroot()
    (record_type,) = [t for t in schema.iter(f"{xs}complexType") if t.get("name") == "DataRecord"]
    assert [e.get("name") for e in record_type.iter(f"{xs}element")] == SPEC_ELEMENTS


def test_meta_without_a_participant_or_offset_is_refused() -> None:
    with pytest.raises(ReportingError):
        DvpMeta(" ", "Demo", datetime(2026, 4, 3, tzinfo=UTC), R)
    with pytest.raises(ReportingError):
        DvpMeta("14", "Demo", datetime(2026, 4, 3), R)
