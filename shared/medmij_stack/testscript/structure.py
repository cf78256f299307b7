"""The base FHIR structure (STU3, R4) as the engine needs it, read from fhir.resources.

Converting FHIR XML to JSON needs to know, per element, whether it repeats and what
type it has (a ``value`` attribute becomes a JSON string, number or boolean); the
profile validator needs the same facts. fhir.resources carries them in its generated
models: ``fhir.resources.STU3`` for STU3 3.0.2 and ``fhir.resources.R4B`` for R4, whose
models are element-for-element those of R4 4.0.1 for every resource the Nictiz sets use
(docs/qualification.md#fhir-versions). This module reads those models, never validates with them.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cache
from types import ModuleType
from typing import Any

from fhir_core.utils import determine_version_prefix, get_fhir_type_name, is_list_type

from medmij_stack.protocol.fhir import FhirVersion

__all__ = ["ElementInfo", "Structure", "structure_for"]

_INTEGER_TYPES = frozenset({"integer", "positiveInt", "unsignedInt", "integer64"})
_PRIMITIVES = frozenset(
    {
        "boolean", "integer", "positiveInt", "unsignedInt", "integer64", "decimal", "string",
        "code", "id", "uri", "url", "canonical", "oid", "uuid", "markdown", "base64Binary",
        "instant", "date", "dateTime", "time", "xhtml",
    }
)  # fmt: skip


@dataclass(frozen=True)
class ElementInfo:
    """One element of a FHIR type as JSON names it (``valueQuantity``, not ``value[x]``)."""

    name: str
    type_name: str
    """FHIR type: a primitive (``dateTime``), a datatype, ``Resource`` or a backbone name."""
    is_list: bool
    required: bool
    choice_of: str | None
    """For ``valueQuantity``: ``value``."""
    choice_required: bool = False
    """One of the ``choice_of`` group must be present (``occurrence[x]`` 1..1)."""
    codes: tuple[str, ...] = ()
    """For a ``code`` with a required binding in the base spec: the allowed codes."""

    @property
    def primitive(self) -> bool:
        return self.type_name in _PRIMITIVES

    def json_value(self, text: str) -> Any:
        """A primitive's XML ``value`` attribute as its JSON value."""
        if self.type_name == "boolean":
            if text in ("true", "false"):
                return text == "true"
            return text
        if self.type_name in _INTEGER_TYPES:
            try:
                return int(text)
            except ValueError:
                return text
        if self.type_name == "decimal":
            try:
                number = float(text)
            except ValueError:
                return text
            return int(number) if number.is_integer() and "." not in text else number
        return text


class Structure:
    """Type facts of one FHIR release, from the fhir.resources models of that release."""

    def __init__(self, version: FhirVersion) -> None:
        self.version = version
        self._module: ModuleType = importlib.import_module(version.models_package)
        self._prefix = determine_version_prefix(self._module.__name__)
        self._elements: dict[str, dict[str, ElementInfo]] = {}

    def model(self, type_name: str) -> Any | None:
        """The fhir.resources class of a resource, datatype or backbone element, or None."""
        try:
            return self._module.get_fhir_model_class(type_name)
        except (KeyError, ValueError, AttributeError, ImportError):
            return None

    def is_resource_type(self, name: str) -> bool:
        model = self.model(name)
        if model is None or not name[:1].isupper():
            return False
        resource = self.model("Resource")
        return resource is not None and issubclass(model, resource)

    def elements(self, type_name: str) -> dict[str, ElementInfo]:
        """JSON element name → facts, for a type; empty for an unknown type."""
        known = self._elements.get(type_name)
        if known is not None:
            return known
        model = self.model(type_name)
        result: dict[str, ElementInfo] = {}
        if model is not None:
            for field_name, field in model.model_fields.items():
                if field_name.endswith("__ext") or field_name in ("fhir_comments", "resource_type"):
                    continue
                extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
                if not extra.get("element_property", False):
                    continue
                try:
                    element_type = get_fhir_type_name(field, prefix=self._prefix)
                except ValueError:
                    continue
                name = field.alias or field_name
                choice = extra.get("one_of_many")
                codes = extra.get("enum_values")
                result[name] = ElementInfo(
                    name=name,
                    type_name=str(element_type),
                    is_list=is_list_type(field),
                    required=field.is_required() or bool(extra.get("element_required", False)),
                    choice_of=str(choice) if isinstance(choice, str) else None,
                    choice_required=bool(extra.get("one_of_many_required", False)),
                    codes=tuple(str(code) for code in codes) if isinstance(codes, list) else (),
                )
        self._elements[type_name] = result
        return result

    def element(self, type_name: str, name: str) -> ElementInfo | None:
        return self.elements(type_name).get(name)

    def order(self, type_name: str) -> list[str]:
        """JSON element names in the order FHIR XML writes them."""
        model = self.model(type_name)
        if model is None:
            return []
        return [str(name) for name in model.elements_sequence()]


@cache
def structure_for(version: FhirVersion) -> Structure:
    """The shared :class:`Structure` of a release (models are loaded once per process)."""
    return Structure(version)
