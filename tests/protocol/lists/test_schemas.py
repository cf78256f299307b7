"""The project's schema files and the in-memory development variant."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest
from lxml import etree

from medmij_stack.protocol.lists import (
    ListKind,
    development_variant,
    load_schema,
    schema_document,
    schema_documents,
)
from medmij_stack.protocol.lists.schemas import SCHEMA_FILES, XSD_NAMESPACE

XS = f"{{{XSD_NAMESPACE}}}"


def frontchannel_pattern(document: etree._ElementTree) -> str:
    pattern = document.getroot().find(
        f"{XS}simpleType[@name='Frontchanneluri']/{XS}restriction/{XS}pattern"
    )
    assert pattern is not None
    return pattern.get("value", "")


@pytest.mark.parametrize(("kind", "release"), list(SCHEMA_FILES), ids=list(SCHEMA_FILES.values()))
def test_every_schema_compiles(kind: ListKind, release: int | None) -> None:
    document = schema_document(kind, zal_release=3 if release is None else release)  # type: ignore[arg-type]
    root = document.getroot()
    assert root.get("targetNamespace") in {
        kind.namespace,
        kind.namespace.replace("release3", "release2"),
    }
    assert root.get("elementFormDefault") == "qualified"
    etree.XMLSchema(document)


def test_release3_schema_says_it_is_reconstructed() -> None:
    comment = schema_document(ListKind.ZAL).getroot().getprevious()
    assert comment is not None
    assert "RECONSTRUCTED" in str(comment.text)


def test_our_schema_files_are_our_own(medmij_data: Path) -> None:
    ours = [
        resources.files("medmij_stack.protocol.lists").joinpath("xsd", name).read_bytes()
        for name in SCHEMA_FILES.values()
    ]
    for official in (medmij_data / "xsd").glob("*.xsd"):
        assert official.read_bytes() not in ours


def test_development_variant_only_adds_a_port_to_the_frontchannel_pattern() -> None:
    strict = schema_document(ListKind.ZAL)
    development = development_variant(strict)
    before, after = frontchannel_pattern(strict), frontchannel_pattern(development)
    assert before != after
    assert after.replace(r"(:(\d){1,5})?", "") == before
    # The strict tree is untouched, and nothing else differs.
    assert frontchannel_pattern(schema_document(ListKind.ZAL)) == before
    for element in development.getroot().iter(f"{XS}pattern"):
        element.set("value", "x")
    for element in strict.getroot().iter(f"{XS}pattern"):
        element.set("value", "x")
    assert etree.tostring(development) == etree.tostring(strict)


def test_development_variant_needs_a_frontchannel_pattern() -> None:
    with pytest.raises(ValueError, match="Frontchanneluri"):
        development_variant(schema_document(ListKind.OCL))


def test_load_schema_development_differs_only_for_the_zal() -> None:
    assert load_schema(ListKind.ZAL, development=True) is not load_schema(ListKind.ZAL)
    assert load_schema(ListKind.OCL, development=True) is load_schema(ListKind.OCL)


@pytest.mark.parametrize("development", [False, True])
def test_schema_documents_cover_every_list(development: bool) -> None:
    documents = schema_documents(development=development)
    assert next(iter(documents.values())).zal_release == 3
    for kind in ListKind:
        in_force = [
            d for d in documents.values() if d.kind is kind and d.development is development
        ]
        assert in_force, kind
        assert in_force[0].zal_release == (3 if kind is ListKind.ZAL else None)
    zal_development = [d for d in documents.values() if d.kind is ListKind.ZAL and d.development]
    assert {d.name for d in zal_development} == {
        "MedMij_Zorgaanbiederslijst.release3.development.xsd",
        "MedMij_Zorgaanbiederslijst.release2.development.xsd",
    }
    for name, document in documents.items():
        assert name == document.name
        compiled = etree.XMLSchema(etree.fromstring(document.content))
        assert compiled is not None
    variant = etree.ElementTree(
        etree.fromstring(documents["MedMij_Zorgaanbiederslijst.release3.development.xsd"].content)
    )
    assert ":(\\d){1,5}" in frontchannel_pattern(variant)
    assert (
        b"Development variant"
        in documents["MedMij_Zorgaanbiederslijst.release3.development.xsd"].content
    )
