"""Fixtures for the list tests: MedMij's published schemas and examples, read in place."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

OFFICIAL_XSD = {
    "zal2": "MedMij_Zorgaanbiederslijst.release2.xsd",
    "ocl": "MedMij_OAuthclientlist.release2.xsd",
    "gnl": "MedMij_Gegevensdienstnamenlijst.release1.xsd",
    "whitelist": "MedMij_Whitelist.release2.v13.xsd",
}

EXAMPLES = {
    "zal2": "MedMij_Zorgaanbiederslijst_example.release2.xml",
    "zal3": "MedMij_Zorgaanbiederslijst_example.release3.xml",
    "ocl": "MedMij_OAuthclientlist_example.xml",
    "gnl": "MedMij_Gegevensdienstnamenlijst_example.xml",
    "whitelist": "MedMij_Whitelist_example.xml",
}


class Official:
    """MedMij's published schemas, compiled once per session."""

    def __init__(self, folder: Path) -> None:
        self._schemas = {
            key: etree.XMLSchema(etree.parse(str(folder / "xsd" / name)))
            for key, name in OFFICIAL_XSD.items()
        }

    def accepts(self, key: str, document: bytes) -> bool:
        try:
            root = etree.fromstring(document)
        except etree.XMLSyntaxError:
            return False
        return self._schemas[key].validate(root)

    def errors(self, key: str) -> str:
        return str(self._schemas[key].error_log)


@pytest.fixture(scope="session")
def official(medmij_data: Path) -> Official:
    return Official(medmij_data)


@pytest.fixture(scope="session")
def examples(medmij_data: Path) -> dict[str, bytes]:
    """The published example lists by short key (zal2, zal3, ocl, gnl, whitelist)."""
    return {key: (medmij_data / "examples" / name).read_bytes() for key, name in EXAMPLES.items()}
