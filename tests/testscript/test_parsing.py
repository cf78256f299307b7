"""Reading TestScripts: the hand-made ones construct by construct, and every real one."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from medmij_stack.protocol.fhir import FhirVersion
from medmij_stack.testscript import (
    Assert,
    Operation,
    Role,
    ScriptError,
    discover,
    read_testscript,
)

from .conftest import ENGINE_R4, ENGINE_STU3, SCRIPTS


def test_the_basics_script_reads_into_the_model() -> None:
    script = read_testscript(ENGINE_R4 / "XIS-Server" / "engine-basics.xml")
    assert script.id == "engine-basics"
    assert script.fhir_version is FhirVersion.R4
    assert script.role is Role.SERVER
    # R5 canonical spelling and R4 reference spelling of profile both read.
    assert script.profiles == {
        "Bundle-profile": "http://hl7.org/fhir/StructureDefinition/Bundle",
        "Patient-profile": "http://hl7.org/fhir/StructureDefinition/Patient",
    }
    assert script.rules == {
        "assert-response-queryParamsInSelfLink": "../_reference/rules/"
        "assert_response_queryParamsInSelfLink.groovy"
    }
    variables = {variable.name: variable for variable in script.variables}
    assert variables["X-Correlation-ID"].default_value == "${UUID}"
    assert variables["anna-id"].source_id == "search-response"
    assert variables["anna-id"].expression == "Bundle.entry.resource.where($this is Patient).id"

    search = script.tests[0].operations[0]
    assert search.type_code == "search"
    assert search.resource == "Immunization"
    assert search.accept == "json"
    assert search.encode_request_url is True
    assert search.response_id == "search-response"
    assert [header.field for header in search.request_headers] == [
        "Authorization",
        "MedMij-Request-ID",
        "X-Correlation-ID",
    ]
    kinds = [check.kind for check in script.tests[0].asserts]
    assert kinds[:4] == ["responseCode", "resource", "expression", "headerField"]
    assert "rule" in kinds
    assert "validateProfileId" in kinds
    assert "requestURL" in kinds
    first = script.tests[0].asserts[0]
    assert (first.operator, first.response_code, first.stop_test_on_fail) == ("in", "200,201", True)
    rule = next(check for check in script.tests[0].asserts if check.kind == "rule")
    assert rule.rule_id == "assert-response-queryParamsInSelfLink"
    assert rule.warning_only is True
    request_url = next(check for check in script.tests[0].asserts if check.kind == "requestURL")
    assert (request_url.direction, request_url.operator) == ("request", "notContains")
    # A test without an operation keeps only its asserts; labels are read.
    assert script.tests[1].operations == ()
    assert script.tests[1].asserts[0].label == "2-1"
    read = script.tests[2].operations[0]
    assert (read.type_code, read.url) == ("read", "${medication-url}")


def test_unsupported_assert_kinds_are_named_not_dropped() -> None:
    script = read_testscript(ENGINE_R4 / "XIS-Server" / "engine-must-fail.xml")
    checks = {check.description: check for check in script.tests[0].asserts}
    minimum = checks["NOT CHECKED: minimumId is not evaluated"]
    assert minimum.unsupported == ("minimumId",)
    assert minimum.kind == "minimumId"


def test_fixtures_setup_and_content_type_are_read() -> None:
    script = read_testscript(ENGINE_R4 / "Loader" / "engine-update.xml")
    assert [(fixture.id, fixture.reference) for fixture in script.fixtures] == [
        ("anna", "../_reference/resources/engine-patient-anna.xml")
    ]
    update = script.setup[0]
    assert isinstance(update, Operation)
    assert (update.type_code, update.source_id, update.content_type) == ("update", "anna", "xml")
    assert isinstance(script.setup[1], Assert)


def test_release_and_role_come_from_folders_and_flags() -> None:
    stu3 = read_testscript(ENGINE_STU3 / "XIS-Server" / "engine-stu3.xml")
    assert stu3.fhir_version is FhirVersion.STU3
    client = read_testscript(ENGINE_R4 / "PHR-Client" / "engine-retrieve.xml")
    assert client.role is Role.CLIENT


def test_a_script_without_a_release_is_refused_with_advice(tmp_path: Path) -> None:
    source = (ENGINE_R4 / "XIS-Server" / "engine-basics.xml").read_bytes()
    path = tmp_path / "engine-basics.xml"
    path.write_bytes(source)
    with pytest.raises(ScriptError, match=r"cannot tell the FHIR release.*--fhir-version"):
        read_testscript(path)
    assert read_testscript(path, fhir_version=FhirVersion.STU3).fhir_version is FhirVersion.STU3
    (tmp_path / "properties.json").write_text('{"fhirVersion": "R4"}')
    assert read_testscript(path).fhir_version is FhirVersion.R4


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"<TestScript xmlns='http://hl7.org/fhir'><id value='x'/>", "not well-formed"),
        (b"<Patient xmlns='http://hl7.org/fhir'/>", "root element is Patient"),
        (
            b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY e 'boom'>]>"
            b"<TestScript xmlns='http://hl7.org/fhir'/>",
            "DOCTYPE",
        ),
        (
            b"<TestScript xmlns='http://hl7.org/fhir'><test><action/></test></TestScript>",
            "neither operation nor assert",
        ),
    ],
)
def test_broken_scripts_are_refused_with_their_path(
    tmp_path: Path, content: bytes, message: str
) -> None:
    folder = tmp_path / "R4"
    folder.mkdir()
    path = folder / "broken.xml"
    path.write_bytes(content)
    with pytest.raises(ScriptError, match=message) as caught:
        read_testscript(path)
    assert str(path) in str(caught.value)


def test_discover_finds_scripts_by_role_and_skips_fixtures() -> None:
    servers = [path.name for path in discover(SCRIPTS, Role.SERVER)]
    assert "engine-basics.xml" in servers
    assert "engine-stu3.xml" in servers
    assert "engine-retrieve.xml" not in servers
    assert [path.name for path in discover(SCRIPTS, Role.CLIENT)] == [
        "engine-retrieve.xml",
        "engine-scenario-anna.xml",
        "engine-scenario-bram.xml",
    ]
    assert all("_reference" not in str(path) for path in discover(SCRIPTS))


BASICS = ENGINE_R4 / "XIS-Server" / "engine-basics.xml"


def names(paths: object) -> list[str]:
    return [path.name for path in paths]  # type: ignore[attr-defined]


def test_discover_keeps_a_script_that_is_not_well_formed_so_that_it_is_reported(
    tmp_path: Path,
) -> None:
    """A truncated script, or an .xml that is no XML at all, is found (reading it then says
    what is wrong); well-formed XML of another kind, and a broken file whose root element
    is not TestScript (a fixture), are skipped quietly."""
    folder = tmp_path / "R4" / "Set" / "XIS-Server"
    folder.mkdir(parents=True)
    text = BASICS.read_bytes()
    (folder / "good.xml").write_bytes(text)
    (folder / "truncated.xml").write_bytes(text[: len(text) // 2])
    (folder / "empty.xml").write_bytes(b"")
    (folder / "fixture.xml").write_bytes(b"<Patient xmlns='http://hl7.org/fhir'/>")
    (folder / "fixture-cut.xml").write_bytes(b"<Bundle xmlns='http://hl7.org/fhir'><id ")
    found = ["empty.xml", "good.xml", "truncated.xml"]
    assert names(discover(tmp_path)) == found
    assert names(discover(tmp_path, Role.SERVER)) == found
    assert names(discover(tmp_path, Role.CLIENT)) == []  # the folder says XIS-Server
    for name in ("truncated.xml", "empty.xml"):
        with pytest.raises(ScriptError, match="not well-formed"):
            read_testscript(folder / name)


def test_discover_keeps_a_broken_script_for_either_role_when_only_its_content_could_tell(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "R4" / "Set"
    folder.mkdir(parents=True)
    text = BASICS.read_bytes()
    (folder / "truncated.xml").write_bytes(text[: len(text) // 2])
    assert names(discover(tmp_path, Role.SERVER)) == ["truncated.xml"]
    assert names(discover(tmp_path, Role.CLIENT)) == ["truncated.xml"]


def test_every_real_nictiz_script_parses(nictiz: Path) -> None:
    """All XIS and PHR scripts of BgZ-3-0 and Immunization-2-0 that are present parse."""
    paths = list(discover(nictiz / "output"))
    counts: Counter[tuple[str, str]] = Counter()
    for path in paths:
        script = read_testscript(path)
        assert script.tests, path
        for test in script.tests:
            for check in test.asserts:
                assert not check.unsupported, (path, check.title)
        counts[(script.fhir_version.release, script.role.value)] += 1
    # The shared copy holds BgZ Cert and all of Immunization (docs/qualification.md#fixtures);
    # a full clone of Nictiz-testscripts has 182, and every one of them must parse too.
    assert len(paths) >= 26
    assert counts[("STU3", "XIS-Server")] >= 4
    assert counts[("R4", "XIS-Server")] >= 16
    assert counts[("STU3", "PHR-Client")] >= 2
    assert counts[("R4", "PHR-Client")] >= 4
