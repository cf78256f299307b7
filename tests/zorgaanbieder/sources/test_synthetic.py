"""The synthetic generator: deterministic, valid FHIR, masked BSNs, and data for every
BgZ search and for the Vaccinaties search.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fhir.resources import R4B, STU3
from lxml import etree

from medmij_stack.protocol import catalogue
from medmij_stack.protocol.catalogue import Query
from medmij_stack.protocol.fhir import FhirVersion
from medmij_stack.protocol.persons import TestPerson, test_persons
from medmij_stack.zorgaanbieder.dataset import Dataset
from medmij_stack.zorgaanbieder.sources.synthetic import synthetic_datasets
from medmij_stack.zorgaanbieder.sources.synthetic.context import make_id, reference_date
from tests.zorgaanbieder.qualification import generic_failures

SEED = 20
ZORGAANBIEDER = "ziekenhuis@medmij"
PERSONS = test_persons(SEED, 300)


def _make(
    persons: tuple[TestPerson, ...] = PERSONS, *, seed: int = SEED, incomplete: bool = False
) -> dict[str, Dataset]:
    datasets = synthetic_datasets(
        ZORGAANBIEDER, ["48", "63"], persons, seed=seed, incomplete=incomplete
    )
    return {d.endpoint.gegevensdienst: d for d in datasets}


@pytest.fixture(scope="module")
def complete() -> dict[str, Dataset]:
    return _make()


@pytest.fixture(scope="module")
def incomplete() -> dict[str, Dataset]:
    return _make(incomplete=True)


def _walk(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        yield value
        for item in value.values():
            yield from _walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item)


def _records(dataset: Dataset) -> dict[str, list[dict[str, Any]]]:
    """Each patient's compartment: the Patient and the resources that point at it."""
    records: dict[str, list[dict[str, Any]]] = {p.patient_id: [] for p in dataset.patients}
    for resource in dataset.resources:
        if resource["resourceType"] == "Patient":
            records[resource["id"]].append(resource)
            continue
        owners = {
            node["reference"].removeprefix("Patient/")
            for node in _walk(resource)
            if str(node.get("reference", "")).startswith("Patient/")
        }
        for owner in owners:
            records[owner].append(resource)
    return records


# --- shape of the output ---------------------------------------------------------------------


def test_one_dataset_per_gegevensdienst_with_every_person(complete: dict[str, Dataset]) -> None:
    assert complete["48"].fhir_version is FhirVersion.STU3
    assert complete["63"].fhir_version is FhirVersion.R4
    for gegevensdienst, dataset in complete.items():
        assert dataset.fhir_version == catalogue.get(gegevensdienst).fhir_version
        assert dataset.endpoint.zorgaanbieder == ZORGAANBIEDER
        assert dataset.source == f"synthetic:seed={SEED}"
        assert dataset.tokens == ()
        assert [p.bsn for p in dataset.patients] == [p.bsn for p in PERSONS]
        patients = {r["id"]: r for r in dataset.resources if r["resourceType"] == "Patient"}
        assert [p.patient_id for p in dataset.patients] == list(patients)
        for record, person in zip(dataset.patients, PERSONS, strict=True):
            patient = patients[record.patient_id]
            assert patient["birthDate"] == person.birth_date.isoformat()
            assert patient["name"][0]["text"] == person.name


def test_repeats_are_ignored_and_unknown_gegevensdiensten_refused() -> None:
    datasets = synthetic_datasets(ZORGAANBIEDER, ["63", "63"], PERSONS[:2], seed=SEED)
    assert [d.endpoint.gegevensdienst for d in datasets] == ["63"]
    assert synthetic_datasets(ZORGAANBIEDER, [], PERSONS[:2], seed=SEED) == ()
    with pytest.raises(ValueError, match="no synthetic data for gegevensdienst 49"):
        synthetic_datasets(ZORGAANBIEDER, ["48", "49"], PERSONS[:2], seed=SEED)
    with pytest.raises(ValueError, match="distinct BSNs"):
        synthetic_datasets(ZORGAANBIEDER, ["48"], (PERSONS[0], PERSONS[0]), seed=SEED)


# --- determinism -----------------------------------------------------------------------------


def test_the_same_inputs_give_the_same_output() -> None:
    first, second = _make(PERSONS[:40]), _make(PERSONS[:40])
    assert first == second
    for gegevensdienst in ("48", "63"):
        assert json.dumps(first[gegevensdienst].resources) == json.dumps(
            second[gegevensdienst].resources
        )


def test_ids_are_uuid5_of_seed_zorgaanbieder_and_person() -> None:
    ids = [r["id"] for d in _make(PERSONS[:20]).values() for r in d.resources]
    assert all(uuid.UUID(i).version == 5 for i in ids)
    other_seed = {r["id"] for d in _make(PERSONS[:20], seed=SEED + 1).values() for r in d.resources}
    assert not set(ids) & other_seed
    other = synthetic_datasets("ggd@medmij", ["48", "63"], PERSONS[:20], seed=SEED)
    assert not set(ids) & {r["id"] for d in other for r in d.resources}
    namespace = uuid.uuid5(uuid.NAMESPACE_URL, "urn:medmij-reference-stack:synthetic")
    assert make_id("a", "b") == str(uuid.uuid5(namespace, "a\x1fb"))


def test_adding_persons_leaves_everyone_elses_data_alone() -> None:
    small, large = _make(PERSONS[:15]), _make(PERSONS[:40])
    for gegevensdienst in ("48", "63"):
        before = {json.dumps(r) for r in small[gegevensdienst].resources}
        after = {json.dumps(r) for r in large[gegevensdienst].resources}
        assert before <= after
        assert small[gegevensdienst].version != large[gegevensdienst].version


def test_dates_count_from_the_seeds_reference_date(complete: dict[str, Dataset]) -> None:
    today = reference_date(SEED).isoformat()
    planned = {"Appointment", "ProcedureRequest", "DeviceRequest", "ImmunizationRecommendation"}
    for dataset in complete.values():
        for resource in dataset.resources:
            dates = [
                value[:10]
                for key, value in ((k, v) for n in _walk(resource) for k, v in n.items())
                if isinstance(value, str)
                and key.endswith(("Date", "DateTime", "date", "dateTime", "start", "Time", "On"))
                and value[:4].isdigit()
            ]
            if resource["resourceType"] not in planned:
                assert all(day <= today for day in dates), resource
    appointments = [r for r in complete["48"].resources if r["resourceType"] == "Appointment"]
    assert appointments
    assert all(a["start"][:10] > today for a in appointments)


# --- FHIR validity and the qualification content rules ---------------------------------------


@pytest.mark.parametrize("variant", ["complete", "incomplete"])
def test_every_resource_is_valid_fhir(variant: str, request: pytest.FixtureRequest) -> None:
    datasets: dict[str, Dataset] = request.getfixturevalue(variant)
    checked = Counter[str]()
    least = 20 if variant == "complete" else 8  # resources per person, at least
    for gegevensdienst, release in (("48", STU3), ("63", R4B)):
        for resource in datasets[gegevensdienst].resources:
            model_class = release.get_fhir_model_class(resource["resourceType"])
            assert model_class.model_validate(resource).id == resource["id"]
            checked[gegevensdienst] += 1
    assert checked["48"] > least * len(PERSONS)
    assert checked["63"] > len(PERSONS)


def test_every_resource_claims_a_profile(complete: dict[str, Dataset]) -> None:
    for dataset in complete.values():
        for resource in dataset.resources:
            (profile,) = resource["meta"]["profile"]
            assert profile.startswith(("http://nictiz.nl/fhir/", "http://fhir.nl/fhir/"))


def test_no_bsn_is_written_and_the_bsn_identifier_is_masked(
    complete: dict[str, Dataset], incomplete: dict[str, Dataset]
) -> None:
    for datasets in (complete, incomplete):
        for dataset in datasets.values():
            text = json.dumps(dataset.resources)
            assert not [p.bsn for p in PERSONS if p.bsn in text]
            for resource in dataset.resources:
                if resource["resourceType"] == "Patient":
                    (bsn,) = resource["identifier"]
                    assert bsn["system"] == "http://fhir.nl/fhir/NamingSystem/bsn"
                    assert "value" not in bsn
                    assert bsn["_value"]["extension"][0]["valueCode"] == "masked"


def _searchset(resources: list[dict[str, Any]]) -> dict[str, Any]:
    base = "https://fhir.example/48"
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "link": [{"relation": "self", "url": f"{base}/Everything"}],
        "entry": [
            {
                "fullUrl": f"{base}/{r['resourceType']}/{r['id']}",
                "resource": r,
                "search": {"mode": "match"},
            }
            for r in resources
        ],
    }


@pytest.mark.parametrize(
    ("gegevensdienst", "version"), [("48", FhirVersion.STU3), ("63", FhirVersion.R4)]
)
def test_records_pass_the_generic_qualification_asserts(
    complete: dict[str, Dataset], gegevensdienst: str, version: FhirVersion
) -> None:
    dataset = complete[gegevensdienst]
    pool = [r for r in dataset.resources if r["resourceType"] not in ("Patient",)]
    records = _records(dataset)
    for record in dataset.patients[:8]:
        bundle = _searchset(records[record.patient_id] + pool[:60])
        assert generic_failures(bundle, version) == []


def test_every_reference_resolves_and_has_a_display(
    complete: dict[str, Dataset], incomplete: dict[str, Dataset]
) -> None:
    for datasets in (complete, incomplete):
        for dataset in datasets.values():
            present = {f"{r['resourceType']}/{r['id']}" for r in dataset.resources}
            for node in _walk(list(dataset.resources)):
                if isinstance(node.get("reference"), str):
                    assert node["reference"] in present
                    assert node["display"]


# --- what the searches find --------------------------------------------------------------------


def _tokens(resource: dict[str, Any], name: str) -> set[tuple[str | None, str]]:
    if name == "status":
        return {(None, resource.get("status", ""))}
    if name == "class":
        coding = resource.get("class", {})
        return {(coding.get("system"), coding.get("code", ""))}
    value = resource.get(name, [])
    concepts = value if isinstance(value, list) else [value]
    return {(c.get("system"), c["code"]) for cc in concepts for c in cc.get("coding", [])}


def _matches(resource: dict[str, Any], query: Query) -> bool:
    for name, value in query.params:
        if name.startswith("_"):
            continue
        found = _tokens(resource, name)
        wanted = [token.rpartition("|") for token in value.split(",")]
        if not any((s or None, c) in found or (None, c) in found for s, _, c in wanted):
            return False
    return True


# The element each _include of the BgZ follows (STU3 search parameter paths).
_INCLUDED = {
    "Patient:general-practitioner": ("generalPractitioner",),
    "Coverage:payor:Organization": ("payor",),
    "MedicationStatement:medication": ("medicationReference",),
    "MedicationRequest:medication": ("medicationReference",),
    "MedicationDispense:medication": ("medicationReference",),
    "DeviceUseStatement:device": ("device",),
    "DeviceRequest:device": ("codeReference",),
    "Observation:specimen": ("specimen",),
    "Observation:related-target": ("related", "target"),
}


def _followed(resource: dict[str, Any], path: tuple[str, ...]) -> list[str]:
    nodes: list[Any] = [resource]
    for step in path:
        nodes = [n.get(step) for n in nodes]
        nodes = [x for n in nodes for x in (n if isinstance(n, list) else [n]) if x]
    return [n["reference"] for n in nodes]


def test_every_bgz_search_finds_the_first_persons_data(complete: dict[str, Dataset]) -> None:
    dataset = complete["48"]
    present = {f"{r['resourceType']}/{r['id']}" for r in dataset.resources}
    record = _records(dataset)[dataset.patients[0].patient_id]
    for query in catalogue.get("48").queries:
        found = [r for r in record if r["resourceType"] == query.resource_type]
        found = [r for r in found if _matches(r, query)]
        assert found, query.name
        for name, value in query.params:
            if name == "_include" and value in _INCLUDED:
                targets = [t for r in found for t in _followed(r, _INCLUDED[value])]
                assert targets, (query.name, value)
                assert set(targets) <= present


def test_the_vaccinaties_search_finds_vaccinations_and_their_products(
    complete: dict[str, Dataset],
) -> None:
    dataset = complete["63"]
    by_reference = {f"{r['resourceType']}/{r['id']}": r for r in dataset.resources}
    records = _records(dataset)
    for record in dataset.patients:
        immunizations = [
            r for r in records[record.patient_id] if r["resourceType"] == "Immunization"
        ]
        assert immunizations
        for immunization in immunizations:
            assert immunization["patient"]["reference"] == f"Patient/{record.patient_id}"
            actor = by_reference[immunization["performer"][0]["actor"]["reference"]]
            assert actor["resourceType"] == "Organization"
            assert by_reference[immunization["location"]["reference"]]["resourceType"] == "Location"
            (product,) = immunization["extension"]
            assert product["url"].endswith("ext-imm-Vaccination.PharmaceuticalProduct")
            medication = by_reference[product["valueReference"]["reference"]]
            assert medication["meta"]["profile"] == [
                "http://nictiz.nl/fhir/StructureDefinition/imm-PharmaceuticalProduct"
            ]
            assert medication["code"]["coding"] == immunization["vaccineCode"]["coding"]
            assert medication["batch"]["lotNumber"]


def _sections(dataset: Dataset) -> dict[str, Counter[str]]:
    """Per patient, how many resources of each profile the record holds."""
    return {
        patient_id: Counter(r["meta"]["profile"][0].rpartition("/")[2] for r in record)
        for patient_id, record in _records(dataset).items()
    }


def test_records_differ_between_persons(complete: dict[str, Dataset]) -> None:
    dataset = complete["48"]
    profiles = list(_sections(dataset).values())
    everything = set(profiles[0])
    with_alert = sum(1 for p in profiles if "zib-Alert" in p)
    assert 0 < with_alert < len(profiles) // 2  # an alert is uncommon
    assert sum(1 for p in profiles if set(p) == everything) < len(profiles) // 10
    assert len({p["zib-Problem"] for p in profiles}) >= 4  # 0 to 5 problems
    assert len({len(sections) for sections in profiles}) > 5


def test_incomplete_leaves_out_part_of_every_record(
    complete: dict[str, Dataset], incomplete: dict[str, Dataset]
) -> None:
    for gegevensdienst in ("48", "63"):
        assert incomplete[gegevensdienst].patients == complete[gegevensdienst].patients
        assert len(incomplete[gegevensdienst].resources) < len(complete[gegevensdienst].resources)
        assert incomplete[gegevensdienst].source.endswith(",incomplete")
        assert incomplete[gegevensdienst].version != complete[gegevensdienst].version
    full, partial = _sections(complete["48"]), _sections(incomplete["48"])
    first = complete["48"].patients[0].patient_id
    assert len(partial[first]) < len(full[first])
    smaller = sum(1 for p in full if partial[p].total() < full[p].total())
    assert smaller > 0.8 * len(PERSONS)


def test_displays_are_dutch(complete: dict[str, Dataset]) -> None:
    displays = {
        node["display"]
        for dataset in complete.values()
        for node in _walk(list(dataset.resources))
        if "code" in node and "system" in node and "display" in node
    }
    assert {"Behandelaanwijzing", "Bloeddruk", "Lichaamsgewicht", "Medicatiegebruik"} <= displays


# --- speed -----------------------------------------------------------------------------------


def test_a_thousand_persons_take_seconds_not_minutes() -> None:
    persons = test_persons(SEED, 1000)
    rates = {}
    for gegevensdienst in ("48", "63"):
        start = time.perf_counter()
        (dataset,) = synthetic_datasets(ZORGAANBIEDER, [gegevensdienst], persons, seed=SEED)
        elapsed = time.perf_counter() - start
        rates[gegevensdienst] = (len(persons) / elapsed, len(dataset.resources))
        assert len(dataset.patients) == 1000
    for gegevensdienst, (rate, count) in rates.items():
        print(f"gegevensdienst {gegevensdienst}: {rate:.0f} persons/s, {count} resources")


# --- against the published profiles and value sets (shared material) --------------------------

_FHIR = "{http://hl7.org/fhir}"


def _enumerated_codes(folder: Path) -> dict[str, set[str]]:
    """Per Dutch code system, every code some value set there lists by name."""
    codes: dict[str, set[str]] = {}
    for path in folder.rglob("*.xml"):
        document = etree.parse(str(path)).getroot()
        if etree.QName(document).localname != "ValueSet":
            continue
        for include in document.iterfind(f"{_FHIR}compose/{_FHIR}include"):
            system = include.find(f"{_FHIR}system")
            concepts = include.findall(f"{_FHIR}concept/{_FHIR}code")
            if system is None or not concepts:
                continue
            name = system.get("value", "")
            if name.startswith("urn:oid:2.16.840.1.113883.2.4.3.11.") or name.endswith(
                "NamingSystem/organization-type"
            ):
                codes.setdefault(name, set()).update(c.get("value", "") for c in concepts)
    return codes


def test_dutch_codes_are_in_the_zib_value_sets(
    fhir_profiles: Path, complete: dict[str, Dataset]
) -> None:
    listed = _enumerated_codes(fhir_profiles)
    checked = Counter[str]()
    for dataset in complete.values():
        for node in _walk(list(dataset.resources)):
            system = node.get("system")
            if "code" in node and system in listed:
                assert node["code"] in listed[system], (system, node["code"])
                checked[system] += 1
    # the zib code systems the generator writes: housing, living wills, treatment
    # permitted, insurance type, organisation type
    assert len(checked) >= 5


def test_profiles_are_those_the_nictiz_fixtures_claim(
    nictiz_root: Path, complete: dict[str, Dataset]
) -> None:
    for gegevensdienst, folder in (
        ("48", "output/STU3/BgZ-3-0/MedMij"),
        ("63", "output/R4/Immunization-2-0/MedMij"),
    ):
        claimed = {
            profile.get("value")
            for path in (nictiz_root / folder).glob("*/_reference/resources/*.xml")
            for profile in etree.parse(str(path)).iter(f"{_FHIR}profile")
        }
        used = {r["meta"]["profile"][0] for r in complete[gegevensdienst].resources}
        assert used <= claimed, used - claimed
