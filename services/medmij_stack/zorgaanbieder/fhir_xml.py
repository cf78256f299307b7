"""FHIR XML for one resource, through the fhir.resources models of its release.

The Nictiz qualification scripts come in a json and an xml variant
(docs/qualification.md#file-format), so every resource must also exist as FHIR XML.
fhir.resources 8.3 writes it with ``model_dump_xml()`` after validating the JSON against the
base resource model: ``fhir.resources.STU3`` for BgZ (FHIR 3.0) and ``fhir.resources.R4B``
for Vaccinaties (FHIR 4.0), whose models are element for element those of R4 4.0.1 for every
resource these services serve (docs/qualification.md#fhir-versions). Validation and writing
cost milliseconds per resource, so :class:`XmlFragments` keeps each resource's XML once made
(or why it has none, logged once); the app makes them at load time for the datasets whose
XML is asked (the qualification material), the rest on first demand.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Hashable, Mapping
from functools import cache
from typing import Any

from pydantic import ValidationError

from medmij_stack.protocol.fhir import FhirVersion

__all__ = ["FhirXmlError", "XmlFragments", "resource_xml"]

log = logging.getLogger(__name__)


class FhirXmlError(ValueError):
    """The JSON is not a valid base FHIR resource of its release, so it has no XML form."""


@cache
def _model(fhir_version: FhirVersion, resource_type: str) -> Any:
    import importlib

    package = importlib.import_module(fhir_version.models_package)
    try:
        return package.get_fhir_model_class(resource_type)
    except ValueError as exc:
        raise FhirXmlError(f"{resource_type} is not a FHIR {fhir_version} resource") from exc


def resource_xml(fhir_version: FhirVersion, content: Mapping[str, Any]) -> bytes:
    """The resource as an XML element (no declaration), in the FHIR namespace."""
    resource_type = content.get("resourceType")
    if not isinstance(resource_type, str):
        raise FhirXmlError("no resourceType")
    try:
        model = _model(fhir_version, resource_type).model_validate(dict(content))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise FhirXmlError(f"{resource_type}/{content.get('id')}: {where}: {first['msg']}") from exc
    xml = model.model_dump_xml(xml_declaration=False)
    return xml if isinstance(xml, bytes) else str(xml).encode("utf-8")


class XmlFragments:
    """A bounded cache of resource XML, keyed by whatever names one resource's content.

    The key must change when the content does; the app uses (endpoint, type, id) and
    clears the cache whenever it loads data. A resource without an XML form is kept with
    its reason: validated and logged once, however often it is asked.
    """

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._items: OrderedDict[Hashable, bytes | FhirXmlError] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        self._items.clear()

    def get(self, key: Hashable, fhir_version: FhirVersion, content: Mapping[str, Any]) -> bytes:
        found = self._items.get(key)
        if found is not None:
            self._items.move_to_end(key)
        else:
            try:
                found = resource_xml(fhir_version, content)
            except FhirXmlError as problem:
                log.warning("%s: no XML form: %s", key, problem)
                found = problem
            self._items[key] = found
            if len(self._items) > self._limit:
                self._items.popitem(last=False)
        if isinstance(found, FhirXmlError):
            # A new exception each time: raising the kept one would grow its traceback.
            raise FhirXmlError(*found.args)
        return found
