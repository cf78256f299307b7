"""FHIR XML: made at load time only for datasets whose XML is asked (the qualification
material), on first demand for the rest; a resource without an XML form is logged once."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from medmij_stack.protocol.fhir import FhirVersion
from medmij_stack.protocol.persons import TestPerson
from medmij_stack.runtime.devpki import DevPKI
from medmij_stack.wiring.roles import zorgaanbieder_settings
from medmij_stack.wiring.world import World
from medmij_stack.zorgaanbieder.app import ResourceServer
from medmij_stack.zorgaanbieder.fhir_xml import FhirXmlError, XmlFragments
from medmij_stack.zorgaanbieder.store import Repository

from . import tiny

ZA = "ziekenhuis@medmij"
_ODD: dict[str, Any] = {
    "resourceType": "Flag",
    "id": "flag-a-odd",
    "status": "active",
    "code": {"text": "Let op"},
    "subject": {"reference": "Patient/pat-a"},
    "nietInFhir": True,  # the base STU3 model refuses it
}


def test_xml_is_made_once_and_a_resource_without_it_is_logged_once(
    caplog: pytest.LogCaptureFixture, persons: tuple[TestPerson, ...]
) -> None:
    fragments = XmlFragments(10)
    patient = tiny.bgz(ZA, persons[0], persons[1]).resources[0]
    made = fragments.get("p", FhirVersion.STU3, patient)
    assert made.startswith(b"<Patient")
    assert fragments.get("p", FhirVersion.STU3, {"resourceType": "Patient"}) is made  # kept
    with caplog.at_level(logging.WARNING, logger="medmij_stack.zorgaanbieder.fhir_xml"):
        for _ in range(3):
            with pytest.raises(FhirXmlError, match="nietInFhir"):
                fragments.get("odd", FhirVersion.STU3, _ODD)
    logged = [r.getMessage() for r in caplog.records if "no XML form" in r.getMessage()]
    assert len(logged) == 1
    assert "nietInFhir" in logged[0]
    assert len(fragments) == 2


def test_only_datasets_that_ask_it_get_their_xml_at_load_time(
    tmp_path: Path,
    world: World,
    pki: DevPKI,
    persons: tuple[TestPerson, ...],
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = zorgaanbieder_settings(world, pki, tmp_path, dva=world.ours()[0])
    settings.data_dir.mkdir(parents=True)
    bgz = tiny.bgz(ZA, persons[0], persons[1])
    bgz = replace(bgz, resources=(*bgz.resources, _ODD), version="tiny-bgz-odd")
    records = Repository.create(settings.effective_database_url)
    try:
        server = ResourceServer(settings, records=records, introspector=None)
        assert not bgz.xml_at_load  # what a synthetic source hands over
        server.load([bgz])
        assert len(server.fragments) == 0  # nothing made that nobody asked
        with caplog.at_level(logging.WARNING, logger="medmij_stack.zorgaanbieder.fhir_xml"):
            server.load([replace(bgz, xml_at_load=True)])  # as the Nictiz source hands it
        assert len(server.fragments) == len(bgz.resources)
        assert any("flag-a-odd" in r.getMessage() for r in caplog.records)
    finally:
        records.close()
