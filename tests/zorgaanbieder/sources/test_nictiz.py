"""The Nictiz qualification fixtures as datasets, read from the real material.

docs/qualification.md#fixtures: BgZ-3-0 (STU3, 48) and Immunization-2-0 (R4, 63), Cert and Test,
ids from the resource, date placeholders replaced at load time, tokens from
``Configuration/QualificationTokens.json``; and the errors for a path that is not the
Nictiz layout or a fixture that cannot be served.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from fhir.resources import R4B, STU3
from lxml import etree

from medmij_stack.protocol.fhir import FhirVersion
from medmij_stack.zorgaanbieder.dataset import Dataset, QualificationToken
from medmij_stack.zorgaanbieder.sources.nictiz import (
    ENVIRONMENT_VARIABLE,
    NictizFixtureError,
    NictizLayoutError,
    find_nictiz,
    load_nictiz,
)
from medmij_stack.zorgaanbieder.sources.touchstone import shift, substitute_dates

pytestmark = pytest.mark.nictiz

TODAY = date(2026, 5, 20)
BGZ = "output/STU3/BgZ-3-0/MedMij"
IMM = "output/R4/Immunization-2-0/MedMij"
RESOURCES = "_reference/resources"
DECOY = "nl-core-Patient--0a184232-6b37-11ec-0000-020000000000"


@pytest.fixture(scope="module")
def loaded(nictiz_root: Path) -> dict[str, Dataset]:
    datasets = load_nictiz(nictiz_root, "kwalificatie@medmij", today=TODAY)
    return {dataset.endpoint.gegevensdienst: dataset for dataset in datasets}


def _by_key(dataset: Dataset) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["resourceType"], r["id"]): r for r in dataset.resources}


def _files(root: Path, standard: str, part: str) -> list[Path]:
    return sorted((root / standard / part / RESOURCES).glob("*.xml"))


def _xml(path: Path) -> Any:
    text = substitute_dates(path.read_text("utf-8"), TODAY)
    return etree.fromstring(text.encode())


def _key(document: Any) -> tuple[str, str]:
    resource_id = document.find("{http://hl7.org/fhir}id").get("value")
    return etree.QName(document).localname, resource_id


# --- what is loaded ------------------------------------------------------------------------


def test_one_dataset_per_standard_for_the_zorgaanbieder(loaded: dict[str, Dataset]) -> None:
    assert sorted(loaded) == ["48", "63"]
    assert loaded["48"].fhir_version is FhirVersion.STU3
    assert loaded["63"].fhir_version is FhirVersion.R4
    for dataset in loaded.values():
        assert dataset.endpoint.zorgaanbieder == "kwalificatie@medmij"
        assert dataset.source.startswith("nictiz:")


@pytest.mark.parametrize(
    ("standard", "cert", "test", "gegevensdienst", "resources"),
    # docs/qualification.md#fixtures file counts. BgZ Cert and Test share no id; Immunization Cert
    # and Test both hold GGD 06 (its Location and Organization), which is kept once.
    [(BGZ, 63, 60, "48", 123), (IMM, 24, 29, "63", 51)],
)
def test_every_fixture_is_served_once(
    nictiz_root: Path,
    loaded: dict[str, Dataset],
    standard: str,
    cert: int,
    test: int,
    gegevensdienst: str,
    resources: int,
) -> None:
    files = _files(nictiz_root, standard, "Cert") + _files(nictiz_root, standard, "Test")
    assert len(_files(nictiz_root, standard, "Cert")) == cert
    assert len(_files(nictiz_root, standard, "Test")) == test
    dataset = loaded[gegevensdienst]
    assert len(dataset.resources) == resources
    assert set(_by_key(dataset)) == {_key(_xml(path)) for path in files}


def test_ids_come_from_the_resource_not_the_file_name(
    nictiz_root: Path, loaded: dict[str, Dataset]
) -> None:
    bgz = _by_key(loaded["48"])
    # medmij-bgz-procedure-ts-01.xml holds Procedure/medmij-bgz-procedure-ts-04
    assert ("Procedure", "medmij-bgz-procedure-ts-04") in bgz
    assert ("Procedure", "medmij-bgz-procedure-ts-01") not in bgz
    assert ("Medication", "229709-2-16-840-1-113883-2-4-4-7") in bgz
    # a truncated file name and id, as written in the resource
    assert (
        "Observation",
        "boratoryTestResult-Observation-medmij-bgz-test-patA-labresult1-1",
    ) in bgz


def _token_file(root: Path) -> list[dict[str, str]]:
    entries: list[dict[str, str]] = json.loads(
        (root / "Configuration/QualificationTokens.json").read_text("utf-8")
    )
    return entries


def test_tokens_bind_the_patients_of_their_own_standard(
    nictiz_root: Path, loaded: dict[str, Dataset]
) -> None:
    entries = _token_file(nictiz_root)

    def bound(script: str) -> dict[str, str]:
        return {
            e["accessToken"].removeprefix("Bearer "): e["resourceId"]
            for e in entries
            if script in e["qualificationScript"].lower()
        }

    expected = {"48": bound("bgz"), "63": bound("immunisatie")}
    for gegevensdienst, dataset in loaded.items():
        assert {t.token: t.patient_id for t in dataset.tokens} == expected[gegevensdienst]
        patients = {p.patient_id for p in dataset.patients}
        assert {t.patient_id for t in dataset.tokens} <= patients
    assert {p.patient_id for p in loaded["48"].patients} == {
        "medmij-bgz-patient-ts-01",
        "medmij-bgz-patient-ts-02",
        "medmij-bgz-test-patA",
        "medmij-bgz-test-patB",
    }
    assert len(loaded["63"].patients) == 5


def test_a_token_file_bsn_stays_internal(loaded: dict[str, Dataset]) -> None:
    bsn = {p.patient_id: p.bsn for p in loaded["48"].patients}
    assert bsn["medmij-bgz-patient-ts-01"] == "999911120"  # from QualificationTokens.json
    assert all(p.bsn is None for p in loaded["63"].patients)  # the file gives none there
    for dataset in loaded.values():
        served = json.dumps(dataset.resources)
        for patient in dataset.patients:
            if patient.bsn is not None:
                assert patient.bsn not in served


def test_every_patient_is_a_patient_resource(loaded: dict[str, Dataset]) -> None:
    for dataset in loaded.values():
        patients = {r["id"] for r in dataset.resources if r["resourceType"] == "Patient"}
        assert {p.patient_id for p in dataset.patients} == patients


def test_the_decoy_patient_is_a_patient_of_its_own(loaded: dict[str, Dataset]) -> None:
    dataset = loaded["63"]
    assert DECOY in {p.patient_id for p in dataset.patients}
    decoy_tokens = [t for t in dataset.tokens if t.patient_id == DECOY]
    assert decoy_tokens == [QualificationToken("12437b6a-3ed2-4cb5-837b-6a3ed23cb549", DECOY)]
    immunization = _by_key(dataset)[("Immunization", "d8db28de-6b74-11ec-0000-020000000000")]
    assert immunization["patient"]["reference"] == f"Patient/{DECOY}"


# --- placeholders, faithfulness --------------------------------------------------------------


def test_no_placeholder_is_left(loaded: dict[str, Dataset]) -> None:
    for dataset in loaded.values():
        assert "${" not in json.dumps(dataset.resources)


def test_placeholders_become_dates_counted_from_the_load_day(loaded: dict[str, Dataset]) -> None:
    imm = _by_key(loaded["63"])
    assert imm[("Patient", "nl-core-Patient--XXX-Boekwijt")]["birthDate"] == "2009-05-20"
    immunization = imm[("Immunization", "db4b6028-6b3d-11ec-0000-020000000000")]
    assert immunization["occurrenceDateTime"] == "2025-05-20"
    bgz = _by_key(loaded["48"])
    payer = bgz[("Coverage", "zib-Payer-medmij-bgz-test-patA-payer1-1")]
    assert payer["period"] == {
        "start": (TODAY - timedelta(days=1)).isoformat(),
        "end": (TODAY + timedelta(days=30)).isoformat(),
    }
    appointment = bgz[
        ("Appointment", "eAfspraak-Appointment-medmij-bgz-test-patA-plannedencounter2")
    ]
    assert appointment["start"] == f"{TODAY + timedelta(days=7)}T00:00:00+02:00"
    # the narrative says the same date as the element
    assert (
        shift(TODAY, "Y", -17).isoformat()
        in imm[("Patient", "nl-core-Patient--XXX-Boekwijt")]["text"]["div"]
    )


def _leaves(value: Any) -> Iterator[str]:
    """Every primitive of a FHIR JSON resource, written as in XML, except narrative."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key not in ("div", "resourceType"):
                yield from _leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item)
    elif isinstance(value, bool):
        yield "true" if value else "false"
    elif value is not None:
        yield str(value)


def _xml_values(document: Any) -> Iterator[str]:
    for element in document.iter():
        if not isinstance(element.tag, str) or "xhtml" in element.tag:
            continue
        for attribute in ("value", "url"):
            if element.get(attribute) is not None:
                yield element.get(attribute)


@pytest.mark.parametrize(("standard", "gegevensdienst"), [(BGZ, "48"), (IMM, "63")])
def test_the_json_holds_every_value_of_the_xml(
    nictiz_root: Path, loaded: dict[str, Dataset], standard: str, gegevensdienst: str
) -> None:
    resources = _by_key(loaded[gegevensdienst])
    documents = [
        _xml(path) for part in ("Cert", "Test") for path in _files(nictiz_root, standard, part)
    ]
    occurrences = Counter(_key(document) for document in documents)
    for document in documents:
        written = Counter(_xml_values(document))
        kept = Counter(_leaves(resources[_key(document)]))
        if occurrences[_key(document)] == 1:
            assert written == kept, _key(document)
        else:  # the fuller of two copies is kept, so it holds at least this one
            assert written <= kept, _key(document)


def test_extensions_on_primitives_are_kept(loaded: dict[str, Dataset]) -> None:
    patient = _by_key(loaded["48"])[("Patient", "medmij-bgz-patient-ts-01")]
    bsn = patient["identifier"][0]
    assert "value" not in bsn  # masked, as in the fixture: no value, only the reason
    assert bsn["_value"]["extension"] == [
        {"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason", "valueCode": "masked"}
    ]
    name = patient["name"][0]
    assert name["_family"]["extension"][0]["valueString"] == "XXX_Helleman"
    assert [q["extension"][0]["valueCode"] for q in name["_given"]] == ["BR", "CL", "IN"]
    assert patient["_gender"]["extension"][0]["valueCodeableConcept"]["coding"][0]["code"] == "M"


def test_the_narrative_is_kept_as_written(loaded: dict[str, Dataset]) -> None:
    div = _by_key(loaded["48"])[("Patient", "medmij-bgz-patient-ts-01")]["text"]["div"]
    assert div.startswith('<div xmlns="http://www.w3.org/1999/xhtml">')
    assert div.endswith("</div>")
    assert "(E-mail Privé)" in div
    assert "&#233;" not in div


def test_the_fuller_copy_of_a_shared_resource_is_kept(loaded: dict[str, Dataset]) -> None:
    location = _by_key(loaded["63"])[("Location", "nl-core-HPrv--2165281100733-10000006")]
    assert location["name"] == "GGD test 06 West"  # only the Cert copy has a name
    assert location["telecom"]


@pytest.mark.parametrize("gegevensdienst", ["48", "63"])
def test_every_resource_validates_again(loaded: dict[str, Dataset], gegevensdienst: str) -> None:
    release = STU3 if gegevensdienst == "48" else R4B
    for resource in loaded[gegevensdienst].resources:
        model = release.get_fhir_model_class(resource["resourceType"]).model_validate(resource)
        assert model.id == resource["id"]


def test_the_version_follows_the_content(nictiz_root: Path, loaded: dict[str, Dataset]) -> None:
    def load(day: date) -> dict[str, Dataset]:
        datasets = load_nictiz(nictiz_root, "kwalificatie@medmij", today=day)
        return {d.endpoint.gegevensdienst: d for d in datasets}

    again, later = load(TODAY), load(TODAY + timedelta(days=1))
    for gegevensdienst in ("48", "63"):
        assert again[gegevensdienst] == loaded[gegevensdienst]
        assert again[gegevensdienst].version == loaded[gegevensdienst].version
        # both sets have placeholders, so another load day is other content
        assert later[gegevensdienst].version != loaded[gegevensdienst].version


# --- layout and fixture errors ---------------------------------------------------------------

_FOLDERS = [
    f"{standard}/{part}/{RESOURCES}" for standard in (BGZ, IMM) for part in ("Cert", "Test")
]
_TOKENS = "Configuration/QualificationTokens.json"


def _patient(resource_id: str, birth: str = "1970-01-01", extra: str = "") -> str:
    return (
        f'<Patient xmlns="http://hl7.org/fhir"><id value="{resource_id}"/>'
        f'<meta><profile value="http://example.org/p"/></meta>{extra}'
        f'<birthDate value="{birth}"/></Patient>'
    )


def _layout(root: Path, files: dict[str, str] | None = None, tokens: str = "[]") -> Path:
    for folder in _FOLDERS:
        (root / folder).mkdir(parents=True)
    (root / _TOKENS).parent.mkdir(parents=True)
    (root / _TOKENS).write_text(tokens, "utf-8")
    for relative, text in (files or {}).items():
        (root / relative).write_text(text, "utf-8")
    return root


def test_an_empty_folder_names_everything_missing(tmp_path: Path) -> None:
    with pytest.raises(NictizLayoutError) as caught:
        load_nictiz(tmp_path, "kwalificatie@medmij")
    assert caught.value.missing == (*_FOLDERS, _TOKENS)
    for part in (*_FOLDERS, _TOKENS):
        assert part in str(caught.value)


def test_only_what_is_missing_is_named(tmp_path: Path) -> None:
    root = _layout(tmp_path)
    (root / _TOKENS).unlink()
    with pytest.raises(
        NictizLayoutError, match=r"missing: Configuration/QualificationTokens\.json$"
    ):
        load_nictiz(root, "kwalificatie@medmij")


def test_the_output_folder_is_not_the_root(tmp_path: Path) -> None:
    root = _layout(tmp_path)
    with pytest.raises(NictizLayoutError, match="give the repository root"):
        load_nictiz(root / "output", "kwalificatie@medmij")


def test_find_nictiz_takes_the_given_path_then_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _layout(tmp_path / "material")
    monkeypatch.delenv(ENVIRONMENT_VARIABLE, raising=False)
    assert find_nictiz(None) is None
    assert find_nictiz(root) == root
    monkeypatch.setenv(ENVIRONMENT_VARIABLE, str(root))
    assert find_nictiz(None) == root
    with pytest.raises(NictizLayoutError):
        find_nictiz(tmp_path / "typo")  # a given path is never silently passed over
    monkeypatch.setenv(ENVIRONMENT_VARIABLE, str(tmp_path / "elsewhere"))
    with pytest.raises(NictizLayoutError, match="elsewhere"):
        find_nictiz(None)


def _entry(token: str, patient: str, script: str, **more: str) -> dict[str, str]:
    return {
        "accessToken": f"Bearer {token}",
        "resourceId": patient,
        "qualificationScript": script,
        **more,
    }


def test_a_minimal_layout_loads(tmp_path: Path) -> None:
    tokens = json.dumps(
        [
            _entry("t-1", "p1", "MedMij BGZ", bsn="999911120"),
            _entry("t-2", "p2", "MedMij Immunisatie"),
            _entry("t-3", "p1", "MedMij Lab"),
        ]
    )
    root = _layout(
        tmp_path,
        {
            f"{BGZ}/Cert/{RESOURCES}/a.xml": _patient("p1", "${DATE, T, Y, -30}"),
            f"{IMM}/Test/{RESOURCES}/b.xml": _patient("p2"),
        },
        tokens,
    )
    bgz, imm = load_nictiz(root, "k@medmij", today=TODAY)
    assert bgz.resources[0]["birthDate"] == "1996-05-20"
    assert [(t.token, t.patient_id) for t in bgz.tokens] == [("t-1", "p1")]  # not "MedMij Lab"
    assert bgz.patients[0].bsn == "999911120"
    assert [(t.token, t.patient_id) for t in imm.tokens] == [("t-2", "p2")]


def test_the_fuller_of_two_copies_is_kept_and_a_conflict_refused(tmp_path: Path) -> None:
    fuller = _patient("p1", extra='<gender value="female"/>')
    root = _layout(
        tmp_path,
        {
            f"{BGZ}/Cert/{RESOURCES}/a.xml": _patient("p1"),
            f"{BGZ}/Test/{RESOURCES}/b.xml": fuller,
        },
    )
    bgz = load_nictiz(root, "k@medmij")[0]
    assert len(bgz.resources) == 1
    assert bgz.resources[0]["gender"] == "female"
    (root / f"{BGZ}/Test/{RESOURCES}/b.xml").write_text(_patient("p1", "1980-01-01"), "utf-8")
    with pytest.raises(
        NictizFixtureError, match=r"Patient/p1 differs between .*a\.xml and .*b\.xml"
    ):
        load_nictiz(root, "k@medmij")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (_patient("p1", "${TODAY}"), r"unsupported Touchstone placeholder '\$\{TODAY\}'"),
        ("<Patient xmlns='http://hl7.org/fhir'><id value='p1'/>", "not well-formed XML"),
        (_patient("p1").replace('<id value="p1"/>', ""), "has no id"),
        (_patient("p1").replace("http://hl7.org/fhir", "urn:other"), "is not a FHIR resource"),
        ("<Unheard xmlns='http://hl7.org/fhir'><id value='x'/></Unheard>", "Unheard is not a STU3"),
        (_patient("p1", "yesterday"), "not a valid STU3 Patient"),
        (
            '<!DOCTYPE Patient [<!ENTITY x SYSTEM "file:///etc/passwd">]>' + _patient("p1"),
            "DOCTYPE is not allowed",
        ),
    ],
)
def test_a_bad_fixture_is_refused_naming_the_file(
    tmp_path: Path, content: str, message: str
) -> None:
    root = _layout(tmp_path, {f"{BGZ}/Cert/{RESOURCES}/bad.xml": content})
    with pytest.raises(NictizFixtureError, match=message) as caught:
        load_nictiz(root, "k@medmij")
    assert "bad.xml" in str(caught.value)


@pytest.mark.parametrize(
    ("tokens", "message"),
    [
        ("{not json", "not readable JSON"),
        ('{"accessToken": "x"}', "JSON array"),
        ('[{"accessToken": "Bearer x", "resourceId": "p1"}]', "missing qualificationScript"),
        (
            json.dumps([_entry("x", "p1", "MedMij BGZ"), _entry("x", "p2", "MedMij BGZ")]),
            "bound to two patients",
        ),
    ],
)
def test_a_bad_token_file_is_refused(tmp_path: Path, tokens: str, message: str) -> None:
    root = _layout(tmp_path, tokens=tokens)
    with pytest.raises(NictizFixtureError, match=message):
        load_nictiz(root, "k@medmij")
