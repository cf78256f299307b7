"""The reporting XSDs shipped in ``reporting/xsd/``, loaded once and ready to validate.

Both schemas were written for this project from the public descriptions of the reports; no
official XSD of either was available (each file says at its top what it rests on).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from functools import cache
from importlib import resources
from typing import Any

from lxml import etree

__all__ = ["BEHEERRAPPORT_XSD", "DVP_RAPPORTAGE_XSD", "schema_document", "validate"]

DVP_RAPPORTAGE_XSD = "DVPRapportage.xsd"
BEHEERRAPPORT_XSD = "Beheerrapport.xsd"


def schema_document(name: str) -> etree._ElementTree:
    """A fresh parse of the packaged schema ``name``."""
    data = resources.files("medmij_stack.protocol.reporting").joinpath("xsd", name).read_bytes()
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    return etree.ElementTree(etree.fromstring(data, parser))


class _Validator:
    # lxml keeps the error log on the schema object: one validation at a time per object.
    def __init__(self, schema: etree.XMLSchema) -> None:
        self.schema = schema
        self._lock = threading.Lock()

    def problems(self, root: etree._Element) -> list[str]:
        with self._lock:
            if self.schema.validate(root):
                return []
            errors: Iterable[Any] = self.schema.error_log  # type: ignore[assignment]
            return [f"line {e.line}: {e.message}" for e in errors]


@cache
def _validator(name: str) -> _Validator:
    return _Validator(etree.XMLSchema(schema_document(name)))


def validate(name: str, root: etree._Element) -> list[str]:
    """The problems of ``root`` against schema ``name``; empty when it is valid."""
    return _validator(name).problems(root)
