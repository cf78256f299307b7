"""The gegevensdienst catalogue against the qualification scripts and the GNL rules."""

from __future__ import annotations

import dataclasses
import re
from datetime import date
from pathlib import Path

import pytest
from lxml import etree

from medmij_stack.protocol import catalogue
from medmij_stack.protocol.catalogue import CATALOGUE, Functie, Gegevensdienst, Query

FHIR = {"f": "http://hl7.org/fhir"}

# docs/qualification.md#bgz-searches: the 28 searches of the BgZ MedMij Cert XIS script, in order.
BGZ_QUALIFICATION = [
    ("01-serve-Patient", "Patient?_include=Patient:general-practitioner"),
    (
        "02-serve-Payer",
        "Coverage?_include=Coverage:payor:Patient&_include=Coverage:payor:Organization",
    ),
    ("03-serve-TreatmentDirective", "Consent?category=http://snomed.info/sct|11291000146105"),
    ("04-serve-AdvanceDirective", "Consent?category=http://snomed.info/sct|11341000146107"),
    (
        "05-serve-FunctionalOrMentalStatus",
        "Observation/$lastn?category=http://snomed.info/sct|118228005,http://snomed.info/sct|384821006",
    ),
    ("06-serve-Problem", "Condition"),
    ("07-serve-LivingSituation", "Observation/$lastn?code=http://snomed.info/sct|365508006"),
    ("08-serve-DrugUse", "Observation?code=http://snomed.info/sct|228366006"),
    ("09-serve-AlcoholUse", "Observation?code=http://snomed.info/sct|228273003"),
    ("10-serve-TobaccoUse", "Observation?code=http://snomed.info/sct|365980008"),
    ("11-serve-NutritionAdvice", "NutritionOrder"),
    ("12-serve-Alert", "Flag"),
    ("13-serve-AllergyIntolerance", "AllergyIntolerance"),
    (
        "14-serve-MedicationUse",
        "MedicationStatement?category=urn:oid:2.16.840.1.113883.2.4.3.11.60.20.77.5.3|6"
        "&_include=MedicationStatement:medication",
    ),
    (
        "15-serve-MedicationAgreement",
        "MedicationRequest?category=http://snomed.info/sct|16076005"
        "&_include=MedicationRequest:medication",
    ),
    (
        "16-serve-AdministrationAgreement",
        "MedicationDispense?category=http://snomed.info/sct|422037009"
        "&_include=MedicationDispense:medication",
    ),
    ("17-serve-MedicalDevice", "DeviceUseStatement?_include=DeviceUseStatement:device"),
    ("18-serve-Vaccination", "Immunization?status=completed"),
    ("19-serve-BloodPressure", "Observation/$lastn?code=http://loinc.org|85354-9"),
    ("20-serve-BodyWeight", "Observation/$lastn?code=http://loinc.org|29463-7"),
    (
        "21-serve-BodyHeight",
        "Observation/$lastn?code=http://loinc.org|8302-2,http://loinc.org|8306-3,http://loinc.org|8308-9",
    ),
    (
        "22-serve-LaboratoryTestResult",
        "Observation/$lastn?category=http://snomed.info/sct|275711006"
        "&_include=Observation:related-target&_include=Observation:specimen",
    ),
    ("23-serve-Procedure", "Procedure?category=http://snomed.info/sct|387713003"),
    (
        "24-serve-Contact",
        "Encounter?class=http://hl7.org/fhir/v3/ActCode|IMP,http://hl7.org/fhir/v3/ActCode|ACUTE,"
        "http://hl7.org/fhir/v3/ActCode|NONAC",
    ),
    ("25-serve-PlannedCareActivity-ProcedureRequest", "ProcedureRequest?status=active"),
    ("26-serve-PlannedCareActivity-ImmunizationRecommendation", "ImmunizationRecommendation"),
    ("27-serve-PlannedCareActivity-Appointment", "Appointment?status=booked,pending,proposed"),
    (
        "28-serve-PlannedCareActivity-DeviceRequest",
        "DeviceRequest?status=active&_include=DeviceRequest:device",
    ),
]

VACCINATIE_SEARCH = (
    "Immunization?_include=Immunization:patient&_include=Immunization:performer"
    "&_include=Immunization:location"
)

# docs/protocol.md#gegevensdiensten, every id of the table (1-7 are the obsolete AS 1.0 numbering).
SECTION_3_IDS = {
    "24", "26", "28", "30", "31", "32", "33", "35", "36", "37", "38", "41", "42", "43",
    "45", "46", "47", "48", "49", "50", "51", "52", "53", "54", "55", "57", "58", "59",
    "60", "61", "63", "65",
    *(f"9000004{n:02d}" for n in (1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12)),
}  # fmt: skip


def _bgz() -> Gegevensdienst:
    return catalogue.get("48")


def test_bgz_has_the_28_qualification_searches_in_script_order() -> None:
    assert [q.path for q in _bgz().queries] == [path for _, path in BGZ_QUALIFICATION]


def test_bgz_query_names_are_the_nictiz_test_ids_without_number() -> None:
    assert [f"{i:02d}-serve-{q.name}" for i, q in enumerate(_bgz().queries, 1)] == [
        test_id for test_id, _ in BGZ_QUALIFICATION
    ]


def _script_operations(path: Path) -> list[tuple[str, str, str]]:
    """(test id, interaction, resource + params) of each operation sent to the server.

    Reads by URL (the Medication reads) have no params; only their resource type matters here.
    """
    tree = etree.parse(str(path))
    found: list[tuple[str, str, str]] = []
    for test in tree.iterfind("f:test", FHIR):
        for operation in test.iterfind("f:action/f:operation", FHIR):
            code = operation.find("f:type/f:code", FHIR)
            resource = operation.find("f:resource", FHIR)
            params = operation.find("f:params", FHIR)
            assert code is not None
            assert resource is not None
            found.append(
                (
                    str(test.get("id")),
                    str(code.get("value")),
                    str(resource.get("value"))
                    + ("" if params is None else str(params.get("value"))),
                )
            )
    return found


@pytest.mark.nictiz
@pytest.mark.parametrize(
    "script",
    [
        "medmij-bgz-xis-1-1-serve-bgz-json.xml",
        "medmij-bgz-xis-1-1-serve-bgz-xml.xml",
        "medmij-bgz-xis-1-2-serve-bgz-json.xml",
        "medmij-bgz-xis-1-2-serve-bgz-xml.xml",
    ],
)
def test_bgz_queries_equal_the_nictiz_cert_script(shared_data: Path, script: str) -> None:
    path = shared_data / "nictiz-testscripts/output/STU3/BgZ-3-0/MedMij/Cert/XIS-Server" / script
    if not path.is_file():
        pytest.skip(f"{path} not present")
    operations = _script_operations(path)
    assert all(code == "search" for _, code, _ in operations)
    # The scripts write resource + params ("Observation" + "/$lastn?..."): our relative form.
    assert [(test_id, request) for test_id, _, request in operations] == [
        (f"{i:02d}-serve-{q.name}", q.path) for i, q in enumerate(_bgz().queries, 1)
    ]
    assert [request.split("?")[0].split("/")[0] for _, _, request in operations] == [
        q.resource_type for q in _bgz().queries
    ]


@pytest.mark.nictiz
def test_vaccinaties_search_and_reads_equal_the_nictiz_cert_script(shared_data: Path) -> None:
    path = (
        shared_data
        / "nictiz-testscripts/output/R4/Immunization-2-0/MedMij/Cert/XIS-Server"
        / "imm-serve-cert-1-1-json.xml"
    )
    operations = _script_operations(path)
    searches = [request for _, code, request in operations if code == "search"]
    reads = {request for _, code, request in operations if code == "read"}
    vaccinaties = catalogue.get(63)
    assert searches == [q.path for q in vaccinaties.queries] == [VACCINATIE_SEARCH]
    assert reads == {"Medication"}
    assert reads <= set(vaccinaties.reads)


@pytest.mark.nictiz
def test_vaccinaties_reads_equal_the_capability_statement(shared_data: Path) -> None:
    path = shared_data / "fhir-profiles/r4-vaccination-immunization"
    tree = etree.parse(str(path / "CapabilityStatement-imm-RetrieveServe.xml"))
    readable = tree.xpath(
        "f:rest[f:mode/@value='server']/f:resource[f:interaction/f:code/@value='read']"
        "/f:type/@value",
        namespaces=FHIR,
    )
    assert isinstance(readable, list)
    assert tuple(readable) == catalogue.get(63).reads


def test_vaccinaties_search() -> None:
    vaccinaties = catalogue.get("63")
    (search,) = vaccinaties.queries
    assert search.path == VACCINATIE_SEARCH
    assert search.resource_type == "Immunization"
    assert search.params == (
        ("_include", "Immunization:patient"),
        ("_include", "Immunization:performer"),
        ("_include", "Immunization:location"),
    )
    assert set(vaccinaties.reads) == {
        "Patient",
        "Organization",
        "Location",
        "Practitioner",
        "PractitionerRole",
        "Medication",
    }


def test_served_are_bgz_and_vaccinaties() -> None:
    assert [d.id for d in catalogue.served()] == ["48", "63"]
    bgz, vaccinaties = catalogue.served()
    assert (bgz.fhir_version, bgz.fhir_release, bgz.systeemrollen) == (
        "3.0",
        "STU3",
        ("MM-3.0-BZB-FHIR",),
    )
    assert (vaccinaties.fhir_version, vaccinaties.fhir_release, vaccinaties.systeemrollen) == (
        "4.0",
        "R4",
        ("MM-1.0-VAB-FHIR",),
    )
    assert bgz.functie is vaccinaties.functie is Functie.VERZAMELEN


def test_accept_header_names_the_fhir_version() -> None:
    assert catalogue.get(48).accept == "application/fhir+json; fhirVersion=3.0"
    assert catalogue.get(63).accept == "application/fhir+json; fhirVersion=4.0"
    unknown = catalogue.get(65)
    assert unknown.fhir_version is None
    assert unknown.fhir_release is None
    assert unknown.accept == "application/fhir+json"


def test_query_params_are_decoded_in_order() -> None:
    lab = _bgz().query("LaboratoryTestResult")
    assert lab.resource_path == "Observation/$lastn"
    assert lab.params == (
        ("category", "http://snomed.info/sct|275711006"),
        ("_include", "Observation:related-target"),
        ("_include", "Observation:specimen"),
    )
    assert lab.includes == ("Observation", "Specimen")
    problem = _bgz().query("Problem")
    assert (problem.resource_path, problem.params) == ("Condition", ())
    encoded = Query("x", "Consent?category=http%3A%2F%2Fsnomed.info%2Fsct%7C1", "x", "Consent")
    assert encoded.params == (("category", "http://snomed.info/sct|1"),)


def test_every_include_names_a_type_in_includes() -> None:
    for dienst in catalogue.served():
        for query in dienst.queries:
            targets = [v for k, v in query.params if k == "_include"]
            assert bool(targets) == bool(query.includes), query.name
            for target in targets:
                # "Coverage:payor:Organization" is a typed include: it adds that type only.
                parts = target.split(":")
                assert parts[0] == query.resource_type
                if len(parts) == 3:
                    assert parts[2] in query.includes


def test_every_query_is_relative_and_named_once() -> None:
    for dienst in catalogue.served():
        names = [q.name for q in dienst.queries]
        assert len(names) == len(set(names))
        for query in dienst.queries:
            assert not query.path.startswith(("/", "http"))
            assert query.resource_path.split("/")[0] == query.resource_type
            assert query.description
            assert query.description[0].isupper()


def test_ids_are_unique_gnl_ids_and_match_their_keys() -> None:
    assert list(CATALOGUE) == sorted(CATALOGUE, key=int)
    for key, dienst in CATALOGUE.items():
        assert key == dienst.id
        assert re.fullmatch(r"[0-9]{1,30}", dienst.id)
        # GNL Weergavenaam: 3-50 characters.
        assert 3 <= len(dienst.naam) <= 50, dienst.naam
    assert set(CATALOGUE) == SECTION_3_IDS


def test_catalogue_is_read_only() -> None:
    with pytest.raises(TypeError):
        CATALOGUE["99"] = CATALOGUE["48"]  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        CATALOGUE["48"].served = False  # type: ignore[misc]


def test_ended_services_ended_on_2022_04_30() -> None:
    ended = {d.id for d in CATALOGUE.values() if d.ended is not None}
    assert ended == {"24", "26", "28", "32", "33", "36", "37", "38", "41", "42", "43", "45"}
    assert {d.ended for d in CATALOGUE.values() if d.ended} == {date(2022, 4, 30)}


def test_delen_services() -> None:
    delen = {d.id for d in CATALOGUE.values() if d.functie is Functie.DELEN}
    assert delen == {"37", "41", "45", "53", "55", "57", "60"}
    # 58: the sources disagree; read as Verzamelen (serving role code ends in B).
    assert catalogue.get(58).functie is Functie.VERZAMELEN


def test_only_served_services_have_queries() -> None:
    for dienst in CATALOGUE.values():
        assert bool(dienst.queries) == dienst.served
        assert bool(dienst.reads) <= dienst.served


def test_get_accepts_int_and_str_and_names_unknown_ids() -> None:
    assert catalogue.get(48) is catalogue.get("48") is CATALOGUE["48"]
    with pytest.raises(KeyError, match="'999' is not in the MedMij catalogue"):
        catalogue.get(999)
    with pytest.raises(KeyError, match="no query named 'Nope'"):
        _bgz().query("Nope")


def test_for_systeemrol() -> None:
    assert catalogue.for_systeemrol("MM-3.0-BZB-FHIR") is catalogue.get(48)
    assert catalogue.for_systeemrol("MM-1.0-VAB-FHIR") is catalogue.get(63)
    assert catalogue.for_systeemrol("MM-3.0-PDB-FHIR") is catalogue.get(51)
    assert catalogue.for_systeemrol("MM-3.0-PLB-FHIR") is catalogue.get(51)
    assert catalogue.for_systeemrol("MM-3.0-BZR-FHIR") is None
    codes = [c for d in CATALOGUE.values() for c in d.systeemrollen]
    assert len(codes) == len(set(codes))
    # Serving roles only: <prefix>-<version>-<abbreviation ending in B>-FHIR.
    assert all(re.fullmatch(r"[A-Z]+-[0-9]+\.[0-9A-Z]+-[A-Z]+B-FHIR", c) for c in codes)


def test_functie_values() -> None:
    assert Functie("verzamelen") is Functie.VERZAMELEN
    assert str(Functie.DELEN) == "delen"
