"""The records in Dutch: summaries of STU3 and R4 resources, vaccinations, categories."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from lxml import html

from medmij_stack.pgo.categories import CATEGORIES, category, count, entries
from medmij_stack.pgo.fhir_display import Resolver, dutch_date, summarize
from medmij_stack.pgo.records import RecordKey, StoredRecord
from medmij_stack.pgo.vaccinations import PRODUCT_EXTENSION, vaccinations
from medmij_stack.protocol import catalogue

from .harness import GGD, ZIEKENHUIS, Person, PgoWorld, text

AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _record(
    resource: dict[str, Any], query: str, gegevensdienst: str = "48", za: str = ZIEKENHUIS
) -> StoredRecord:
    return StoredRecord(za, gegevensdienst, query, resource, AT, "flow")


def test_dates_in_dutch() -> None:
    assert dutch_date("2024-03-12") == "12 maart 2024"
    assert dutch_date("2024-03") == "maart 2024"
    assert dutch_date("2024") == "2024"
    assert dutch_date("2021-04-08T10:00:00+02:00") == "8 april 2021 om 10:00"
    assert dutch_date("2024-13-01") is None
    assert dutch_date(None) is None
    assert dutch_date("gisteren") is None


def test_an_r4_vaccination_says_what_when_where_and_by_whom() -> None:
    medication = {
        "resourceType": "Medication", "id": "med-1",
        "code": {"coding": [{"display": "Comirnaty"}]}, "batch": {"lotNumber": "CV123A"},
    }  # fmt: skip
    organization = {"resourceType": "Organization", "id": "org-1", "name": "GGD Testregio"}
    immunization = {
        "resourceType": "Immunization",
        "id": "imm-1",
        "status": "completed",
        "vaccineCode": {
            "coding": [
                {
                    "system": "http://snomed.info/sct",
                    "code": "1119349007",
                    "display": "Vaccin tegen SARS-CoV-2",
                }
            ]
        },
        "occurrenceDateTime": "2021-04-08T10:00:00+02:00",
        "location": {"reference": "Location/loc-1", "display": "Priklocatie Teststad"},
        "performer": [{"actor": {"reference": "Organization/org-1"}}],
        "protocolApplied": [{"doseNumberPositiveInt": 2}],
        "extension": [
            {"url": PRODUCT_EXTENSION, "valueReference": {"reference": "Medication/med-1"}}
        ],
    }
    (found,) = vaccinations(
        [_record(r, "Vaccination", "63", GGD) for r in (immunization, organization, medication)]
    )
    assert found.vaccine == "Vaccin tegen SARS-CoV-2"
    assert found.product == "Comirnaty"
    assert found.batch == "CV123A"
    assert found.when == "8 april 2021 om 10:00"
    assert found.where == "Priklocatie Teststad"
    assert found.by == "GGD Testregio"  # resolved from the included Organization
    assert found.dose == "dosis 2"


def test_an_stu3_vaccination_from_bgz_is_read_too() -> None:
    immunization = {
        "resourceType": "Immunization", "id": "imm-2", "status": "completed",
        "notGiven": False, "vaccineCode": {"text": "Tetanusvaccin"}, "date": "2019-03-26",
        "practitioner": [{"actor": {"display": "I. Huisman"}}],
    }  # fmt: skip
    (found,) = vaccinations([_record(immunization, "Vaccination")])
    assert (found.vaccine, found.when, found.by, found.where) == (
        "Tetanusvaccin", "26 maart 2019", "I. Huisman", None,
    )  # fmt: skip


def test_summaries_of_bgz_resources() -> None:
    resolver = Resolver.of(
        [
            {
                "resourceType": "Practitioner",
                "id": "p1",
                "name": [{"given": ["Ida"], "family": "Huisman"}],
            }
        ]
    )
    blood_pressure = summarize(
        {
            "resourceType": "Observation", "status": "final", "code": {"text": "Bloeddruk"},
            "effectiveDateTime": "2025-01-02",
            "component": [
                {"code": {"text": "Systolisch"}, "valueQuantity": {"value": 120, "unit": "mmHg"}},
                {"code": {"text": "Diastolisch"}, "valueQuantity": {"value": 80, "unit": "mmHg"}},
            ],
        },
        resolver,
    )  # fmt: skip
    assert blood_pressure.title == "Bloeddruk"
    assert ("Uitslag", "Systolisch: 120 mmHg; Diastolisch: 80 mmHg") in blood_pressure.details
    medication = summarize(
        {
            "resourceType": "MedicationRequest", "status": "active", "authoredOn": "2024-05-10",
            "medicationCodeableConcept": {"text": "Lisinopril 10 mg"},
            "dosageInstruction": [{"text": "1 maal per dag 1 tablet"}],
            "requester": {"agent": {"reference": "Practitioner/p1"}},
        },
        resolver,
    )  # fmt: skip
    assert medication.title == "Lisinopril 10 mg"
    assert ("Voorgeschreven door", "Ida Huisman") in medication.details
    assert medication.when == "10 mei 2024"
    weight = summarize(
        {
            "resourceType": "Observation",
            "code": {"text": "Gewicht"},
            "valueQuantity": {"value": 72.5, "unit": "kg"},
        },
        resolver,
    )
    assert ("Uitslag", "72,5 kg") in weight.details
    unknown = summarize({"resourceType": "Basic", "id": "x"}, resolver)
    assert unknown.title == "Gegeven"


def test_every_bgz_query_feeds_a_category() -> None:
    fed = {(f.gegevensdienst, q) for c in CATEGORIES for f in c.feeds for q in f.queries}
    for dienst in catalogue.served():
        for query in dienst.queries:
            assert (dienst.id, query.name) in fed, query.name
            main = [
                c
                for c in CATEGORIES
                for f in c.feeds
                if f.gegevensdienst == dienst.id
                and query.name in f.queries
                and query.resource_type in f.types
            ]
            assert main, f"{query.name}: no category shows its {query.resource_type}"


def test_a_category_shows_each_resource_once_per_source_newest_first() -> None:
    problems = category("problemen")
    assert problems is not None
    old = {
        "resourceType": "Condition",
        "id": "c1",
        "code": {"text": "Astma"},
        "onsetDateTime": "2010-01-01",
    }
    new = {
        "resourceType": "Condition",
        "id": "c2",
        "code": {"text": "Eczeem"},
        "onsetDateTime": "2020-01-01",
    }
    shown = entries(
        problems, [_record(old, "Problem"), _record(new, "Problem"), _record(old, "Problem")]
    )
    assert [e.entry.title for e in shown] == ["Eczeem", "Astma"]
    included = _record({"resourceType": "Practitioner", "id": "p"}, "Problem")
    assert entries(problems, [included]) == []


async def test_the_pages_show_each_record_with_its_source_and_time(
    pw: PgoWorld, person: Person
) -> None:
    await person.fetch(ZIEKENHUIS)
    vaccination_page = await person.client.get("/gegevens/vaccinaties")
    shown = text(vaccination_page)
    assert "Griepvaccin 1" in shown
    assert "GGD-locatie Teststad" in shown
    assert "Ziekenhuis Teststad, Vaccinaties (1.0)" in shown
    assert "opgehaald op 2 maart 2026 om 10:00" in shown
    problems = await person.client.get("/gegevens/problemen")
    assert "Astma" in text(problems)
    assert "Bron: Ziekenhuis Teststad, Basisgegevens zorg (BgZ 3.0)" in text(problems)
    history = await person.client.get("/geschiedenis")
    assert "Ziekenhuis Teststad" in text(history)
    assert "Gelukt" in text(history)


async def test_tiles_say_not_yet_no_data_and_counts(pw: PgoWorld, person: Person) -> None:
    overview = await person.client.get("/")
    assert text(overview).count("Nog niet opgehaald") == len(CATEGORIES)
    pw.retrieval.resources[("63", "Vaccination")] = []
    await person.fetch(GGD)
    tiles = await person.client.get("/")
    assert "Geen gegevens" in text(tiles)  # vaccinaties: fetched, nothing there
    # Vaccinaties, zorgverleners and persoonsgegevens are fed by 63.
    assert text(tiles).count("Nog niet opgehaald") == len(CATEGORIES) - 3


async def test_each_tile_counts_the_entries_its_page_shows(pw: PgoWorld, person: Person) -> None:
    """The overview counts from the stored keys alone (no resource read): its numbers must
    be those of the category pages, which put every resource in words."""
    await person.fetch(ZIEKENHUIS)
    await person.fetch(GGD)
    overview = html.fromstring((await person.client.get("/")).text)
    counted = 0
    for tile in overview.xpath("//li[contains(@class, 'tile-gegevens')]"):
        slug = tile.xpath(".//h2/a/@href")[0].rsplit("/", 1)[1]
        number = int(tile.xpath(".//p[@class='state']/text()")[0].split()[0])
        if slug == "vaccinaties":  # a page of its own, grouped by vaccine
            continue
        page = html.fromstring((await person.client.get(f"/gegevens/{slug}")).text)
        assert len(page.xpath("//li[@class='record']")) == number, slug
        counted += 1
    assert counted >= 3


def test_counting_by_key_agrees_with_the_entries_shown() -> None:
    """Every category, on records with a duplicate, an included resource and one without
    an id: :func:`count` over the keys is ``len(entries(...))`` over the records."""
    condition = {"resourceType": "Condition", "id": "c1", "code": {"text": "Astma"}}
    records = [
        _record(condition, "Problem"),
        _record(condition, "Problem"),
        _record({**condition, "id": "c2"}, "Problem", za=GGD),
        _record({"resourceType": "Practitioner", "id": "p"}, "Problem"),
        _record({"resourceType": "AllergyIntolerance", "code": {"text": "Pinda"}}, "Allergy"),
        _record({"resourceType": "Immunization", "id": "i1"}, "Vaccination", "63"),
        _record({"resourceType": "Patient", "id": "pat"}, "Patient"),
    ]
    keys = [
        RecordKey(
            r.zorgaanbieder,
            r.gegevensdienst,
            r.query_name,
            r.resource_type,
            str(r.resource.get("id", "")),
        )
        for r in records
    ]
    counts = {chosen.slug: count(chosen, keys) for chosen in CATEGORIES}
    assert counts == {chosen.slug: len(entries(chosen, records)) for chosen in CATEGORIES}
    assert counts["problemen"] == 2
    assert sum(counts.values()) >= 4
