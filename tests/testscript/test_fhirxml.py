"""FHIR XML ↔ JSON: equal to fhir.resources' reading on every fixture, and tolerant."""

from __future__ import annotations

import importlib
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from medmij_stack.protocol.fhir import FhirVersion
from medmij_stack.testscript.exchange import parse_body
from medmij_stack.testscript.fhirxml import json_to_xml_bytes, parse_xml, xml_to_json
from medmij_stack.testscript.structure import structure_for
from medmij_stack.testscript.variables import fill_dates

from .conftest import ENGINE_R4, ENGINE_STU3

MODULES = {FhirVersion.STU3: "fhir.resources.STU3", FhirVersion.R4: "fhir.resources.R4B"}


def _without_narrative(data: Any) -> Any:
    # fhir.resources re-serialises the XHTML div; its text is not what is compared here.
    if isinstance(data, dict):
        return {key: None if key == "div" else _without_narrative(v) for key, v in data.items()}
    if isinstance(data, list):
        return [_without_narrative(item) for item in data]
    return data


def _check_folder(folder: Path, version: FhirVersion) -> int:
    structure = structure_for(version)
    module = importlib.import_module(MODULES[version])
    count = 0
    for path in sorted(folder.glob("*.xml")):
        text = fill_dates(path.read_text(encoding="utf-8"), date(2024, 5, 1))
        problems: list[str] = []
        ours = xml_to_json(parse_xml(text.encode()), structure, problems)
        assert problems == [], (path.name, problems)
        model = module.get_fhir_model_class(ours["resourceType"])
        theirs = json.loads(model.model_validate_xml(text.encode()).model_dump_json())
        assert _without_narrative(ours) == _without_narrative(theirs), path.name
        again = xml_to_json(parse_xml(json_to_xml_bytes(ours, structure)), structure)
        assert again == ours, path.name
        count += 1
    return count


def test_hand_made_fixtures_convert_like_fhir_resources() -> None:
    assert _check_folder(ENGINE_R4 / "_reference" / "resources", FhirVersion.R4) == 8
    assert _check_folder(ENGINE_STU3 / "_reference" / "resources", FhirVersion.STU3) == 4


def test_every_nictiz_fixture_converts_like_fhir_resources(nictiz: Path) -> None:
    total = 0
    for version in FhirVersion:
        for folder in sorted(
            (nictiz / "output" / version.release).glob("*/*/*/_reference/resources")
        ):
            total += _check_folder(folder, version)
    assert total >= 176


def test_primitive_lists_keep_values_and_extensions_aligned() -> None:
    xml = (
        b'<Patient xmlns="http://hl7.org/fhir"><name><given value="A"/>'
        b'<given><extension url="urn:x"><valueString value="y"/></extension></given>'
        b'<given value="C" id="g3"/></name><active value="true"/>'
        b'<multipleBirthInteger value="2"/></Patient>'
    )
    data = xml_to_json(parse_xml(xml), structure_for(FhirVersion.R4))
    assert data["name"][0]["given"] == ["A", None, "C"]
    assert data["name"][0]["_given"] == [
        None,
        {"extension": [{"url": "urn:x", "valueString": "y"}]},
        {"id": "g3"},
    ]
    assert data["active"] is True
    assert data["multipleBirthInteger"] == 2


def test_unknown_elements_are_kept_and_reported_not_refused() -> None:
    xml = (
        b'<Patient xmlns="http://hl7.org/fhir"><notGiven value="false"/>'
        b'<gender value="x"/></Patient>'
    )
    problems: list[str] = []
    data = xml_to_json(parse_xml(xml), structure_for(FhirVersion.R4), problems)
    assert data["notGiven"] == "false"
    assert problems == ["Patient.notGiven: unknown element"]


@pytest.mark.parametrize(
    ("body", "content_type", "problem"),
    [
        (b"{not json", "application/fhir+json", "not valid JSON"),
        (b'{"a": 1}', "application/json", "no resourceType"),
        (b"<Patient", "application/fhir+xml", "not well-formed XML"),
        (b"plain words", "text/plain", "neither FHIR JSON nor FHIR XML"),
    ],
)
def test_bodies_that_are_not_fhir_say_why(body: bytes, content_type: str, problem: str) -> None:
    parsed = parse_body(body, content_type, structure_for(FhirVersion.R4))
    assert parsed.resource is None
    assert problem in parsed.problems[0]
