"""The Nictiz qualification fixtures in the store: every count the XIS TestScripts assert.

Loads the real fixtures from the shared material (docs/qualification.md#fixtures: FHIR XML, one
resource per file, Touchstone date placeholders replaced at load time) with a minimal
reader of its own, binds the patients to their tokens from
`Configuration/QualificationTokens.json`, runs each request of the BgZ (48) and
Vaccinaties (63) catalogue queries and checks the counts of
docs/qualification.md#bgz-searches and #vaccinaties-searches, plus the Medication reads of
the Vaccinaties scripts and the decoy patient.
"""

from __future__ import annotations

import calendar
import json
import re
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from fhir.resources import R4B, STU3
from lxml import etree

from medmij_stack.protocol import catalogue
from medmij_stack.protocol.fhir import FhirFormat, FhirVersion
from medmij_stack.zorgaanbieder.dataset import (
    Dataset,
    EndpointKey,
    PatientRecord,
    QualificationToken,
)
from medmij_stack.zorgaanbieder.store import Repository, SearchResult, plan_search
from tests.zorgaanbieder.nictiz_expected import (
    BERGGE,
    BOEKWIJT,
    DECOY_IMMUNIZATION,
    DECOY_PATIENT,
    HELLEMAN,
    HELLEMAN_COUNTS,
    HOFF,
    MESKER,
    RIJN,
    RIJN_COUNTS,
    VACCINATION_SCENARIOS,
    VACCINATIONS,
    Expected,
    unmet,
)

pytestmark = pytest.mark.nictiz

_PLACEHOLDER = re.compile(r"\$\{DATE, T, ([YMD]), ([+-]?\d+)\}")
_PHARMACEUTICAL_PRODUCT = (
    "http://nictiz.nl/fhir/StructureDefinition/ext-imm-Vaccination.PharmaceuticalProduct"
)

BGZ_CERT = EndpointKey("qualificatie@medmij", "48")
BGZ_TEST = EndpointKey("qualificatie-test@medmij", "48")
IMM_CERT = EndpointKey("qualificatie@medmij", "63")
IMM_TEST = EndpointKey("qualificatie-test@medmij", "63")

_SETS: dict[EndpointKey, tuple[str, FhirVersion]] = {
    BGZ_CERT: ("output/STU3/BgZ-3-0/MedMij/Cert/_reference/resources", FhirVersion.STU3),
    BGZ_TEST: ("output/STU3/BgZ-3-0/MedMij/Test/_reference/resources", FhirVersion.STU3),
    IMM_CERT: ("output/R4/Immunization-2-0/MedMij/Cert/_reference/resources", FhirVersion.R4),
    IMM_TEST: ("output/R4/Immunization-2-0/MedMij/Test/_reference/resources", FhirVersion.R4),
}


def _shifted(today: date, unit: str, amount: int) -> date:
    """Touchstone's ${DATE, T, unit, amount}: today moved by years, months or days."""
    if unit == "D":
        return today + timedelta(days=amount)
    months = today.year * 12 + today.month - 1 + (amount * 12 if unit == "Y" else amount)
    year, month = divmod(months, 12)
    day = min(today.day, calendar.monthrange(year, month + 1)[1])
    return date(year, month + 1, day)


def _read_fixture(path: Path, fhir_version: FhirVersion, today: date) -> dict[str, Any]:
    text = _PLACEHOLDER.sub(
        lambda m: _shifted(today, m[1], int(m[2])).isoformat(), path.read_text("utf-8")
    )
    data = text.encode("utf-8")
    resource_type = etree.QName(etree.fromstring(data)).localname
    models = STU3 if fhir_version is FhirVersion.STU3 else R4B  # R4B's models equal R4 here
    model = models.get_fhir_model_class(resource_type).model_validate_xml(data)
    content: dict[str, Any] = model.model_dump(mode="json", exclude_none=True)
    return content


@pytest.fixture(scope="session")
def nictiz_datasets(nictiz_root: Path) -> dict[EndpointKey, Dataset]:
    tokens = json.loads(
        (nictiz_root / "Configuration" / "QualificationTokens.json").read_text("utf-8")
    )
    today = date.today()
    datasets: dict[EndpointKey, Dataset] = {}
    for endpoint, (folder, fhir_version) in _SETS.items():
        files = sorted((nictiz_root / folder).glob("*.xml"))
        resources = tuple(_read_fixture(p, fhir_version, today) for p in files)
        patients = sorted(r["id"] for r in resources if r["resourceType"] == "Patient")
        datasets[endpoint] = Dataset(
            endpoint=endpoint,
            fhir_version=fhir_version,
            resources=resources,
            patients=tuple(PatientRecord(p) for p in patients),
            source=f"nictiz:{folder}",
            version="1",
            tokens=tuple(
                QualificationToken(t["accessToken"].removeprefix("Bearer "), t["resourceId"])
                for t in tokens
                if t["resourceId"] in patients
            ),
        )
    return datasets


@pytest.fixture
def qualification(
    repository: Repository, nictiz_datasets: dict[EndpointKey, Dataset]
) -> Repository:
    for dataset in nictiz_datasets.values():
        assert repository.load(dataset)
    return repository


def _run(repository: Repository, token: str, query: catalogue.Query) -> SearchResult:
    bound = repository.token_patient(token)
    assert bound is not None, f"token {token[:8]}… not bound"
    endpoint, patient = bound
    version = catalogue.get(endpoint.gegevensdienst).fhir_version
    assert version is not None
    plan = plan_search(
        version,
        query.resource_type,
        query.params,
        lastn=query.resource_path.endswith("/$lastn"),
        fmt=FhirFormat.JSON,
        lenient=False,
    )
    return repository.search(endpoint, patient, plan)


def _counts(result: SearchResult) -> Counter[str]:
    return Counter(r.resource_type for r in (*result.matches, *result.includes))


def _check(result: SearchResult, expected: Expected, what: str) -> None:
    counts = _counts(result)
    assert unmet(counts, expected) == {}, f"{what}: {counts}"


_BGZ = catalogue.get("48")
_VACCINATION = catalogue.get("63").query("Vaccination")


@pytest.mark.parametrize("name", list(HELLEMAN_COUNTS))
def test_bgz_cert_helleman(qualification: Repository, name: str) -> None:
    _check(_run(qualification, HELLEMAN, _BGZ.query(name)), HELLEMAN_COUNTS[name], name)


def test_bgz_cert_mesker_has_only_a_patient(qualification: Repository) -> None:
    for query in _BGZ.queries:
        counts = _counts(_run(qualification, MESKER, query))
        if query.name == "Patient":
            assert counts["Patient"] == 1
        else:
            assert sum(counts.values()) == 0, f"{query.name}: {counts}"


@pytest.mark.parametrize("name", list(RIJN_COUNTS))
def test_bgz_test_rijn(qualification: Repository, name: str) -> None:
    _check(_run(qualification, RIJN, _BGZ.query(name)), RIJN_COUNTS[name], name)


def test_bgz_test_hoff_has_a_patient_and_one_coverage(qualification: Repository) -> None:
    for query in _BGZ.queries:
        counts = _counts(_run(qualification, HOFF, query))
        if query.name == "Patient":
            assert counts["Patient"] == 1
        elif query.name == "Payer":
            assert (counts["Coverage"], counts["Organization"]) == (1, 0)
        else:
            assert sum(counts.values()) == 0, f"{query.name}: {counts}"


@pytest.mark.parametrize("token", list(VACCINATIONS), ids=VACCINATION_SCENARIOS.get)
def test_vaccinaties_search_and_medication_reads(qualification: Repository, token: str) -> None:
    expected, medications = VACCINATIONS[token]
    result = _run(qualification, token, _VACCINATION)
    _check(result, expected, VACCINATION_SCENARIOS[token])
    assert len(result.matches) == medications
    bound = qualification.token_patient(token)
    assert bound is not None
    endpoint, patient = bound
    # The script then reads the Medication of each Immunization's PharmaceuticalProduct.
    for immunization in result.matches:
        products = [
            e["valueReference"]["reference"]
            for e in immunization.content.get("extension", [])
            if e["url"] == _PHARMACEUTICAL_PRODUCT
        ]
        assert len(products) == 1
        resource_type, _, medication_id = products[0].partition("/")
        assert resource_type == "Medication"
        medication = qualification.read(endpoint, patient, "Medication", medication_id)
        assert medication is not None
        assert medication.content["resourceType"] == "Medication"


@pytest.mark.parametrize("token", [BOEKWIJT, BERGGE], ids=VACCINATION_SCENARIOS.get)
def test_the_decoy_patient_never_appears(qualification: Repository, token: str) -> None:
    result = _run(qualification, token, _VACCINATION)
    for found in (*result.matches, *result.includes):
        assert found.id not in (DECOY_PATIENT, DECOY_IMMUNIZATION)
        assert DECOY_PATIENT not in json.dumps(found.content)
    bound = qualification.token_patient(token)
    assert bound is not None
    endpoint, patient = bound
    assert qualification.read(endpoint, patient, "Patient", DECOY_PATIENT) is None
    assert qualification.read(endpoint, patient, "Immunization", DECOY_IMMUNIZATION) is None


def test_every_fixture_is_loaded_with_its_own_id(
    qualification: Repository, nictiz_datasets: dict[EndpointKey, Dataset]
) -> None:
    # BgZ Cert: 63 files, of which 61 clinical or shared and 2 Patients
    # (docs/qualification.md#fixtures).
    assert len(nictiz_datasets[BGZ_CERT].resources) == 63
    assert len(nictiz_datasets[IMM_CERT].resources) == 24
    helleman = qualification.token_patient(HELLEMAN)
    assert helleman == (BGZ_CERT, "medmij-bgz-patient-ts-01")
    # The file medmij-bgz-procedure-ts-01.xml holds Procedure/medmij-bgz-procedure-ts-04.
    assert qualification.read(BGZ_CERT, helleman[1], "Procedure", "medmij-bgz-procedure-ts-04")
    assert not qualification.read(BGZ_CERT, helleman[1], "Procedure", "medmij-bgz-procedure-ts-01")
