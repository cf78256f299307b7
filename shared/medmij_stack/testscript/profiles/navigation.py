"""Finding the parts of a FHIR JSON resource that a StructureDefinition element id names.

An element id (FHIR "ElementDefinition.id") is a dotted path with slice names:
``Patient.identifier:BSN.system``, ``Immunization.occurrence[x]:occurrenceDateTime``,
``Patient.extension:nationality.extension:code.valueCodeableConcept:valueCodeableConcept``
(the last one is STU3's way of naming a type choice). This module parses such ids and
walks JSON along them, keeping a primitive's value and its ``_name`` extension together.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from medmij_stack.testscript.structure import Structure

__all__ = ["Node", "Segment", "children", "parse_id", "values_at"]


@dataclass(frozen=True)
class Segment:
    name: str
    slice: str | None = None

    @property
    def choice(self) -> bool:
        return self.name.endswith("[x]")

    def text(self) -> str:
        return self.name if self.slice is None else f"{self.name}:{self.slice}"


@dataclass(frozen=True)
class Node:
    """One element of an instance: its JSON value, a primitive's ``_name`` object, its type."""

    value: Any
    extra: dict[str, Any] | None
    type_name: str
    path: str
    key: str

    @property
    def is_object(self) -> bool:
        return isinstance(self.value, dict)


def parse_id(element_id: str) -> list[Segment]:
    """``Patient.identifier:BSN.system`` → Patient, identifier:BSN, system."""
    segments = []
    for part in element_id.split("."):
        name, colon, slice_name = part.partition(":")
        segments.append(Segment(name, slice_name if colon else None))
    return segments


def _type_of_choice(key: str, base: str) -> str:
    suffix = key[len(base) :]
    lowered = suffix[:1].lower() + suffix[1:]
    primitives = {
        "boolean", "integer", "positiveInt", "unsignedInt", "decimal", "string", "code", "id",
        "uri", "url", "canonical", "oid", "uuid", "markdown", "base64Binary", "instant", "date",
        "dateTime", "time",
    }  # fmt: skip
    return lowered if lowered in primitives else suffix


def _keys(node: Node) -> list[str]:
    if not isinstance(node.value, dict):
        return []
    seen: list[str] = []
    for key in node.value:
        name = key[1:] if key.startswith("_") else key
        if name not in seen and name != "resourceType":
            seen.append(name)
    return seen


def _key_children(node: Node, key: str, structure: Structure, type_name: str | None) -> list[Node]:
    if not isinstance(node.value, dict):
        # A primitive: only its id and extensions, which live in _name.
        if key == "extension" and node.extra:
            items = node.extra.get("extension", []) or []
            return [
                Node(item, None, "Extension", f"{node.path}.extension[{index}]", "extension")
                for index, item in enumerate(items)
                if isinstance(item, dict)
            ]
        if key == "id" and node.extra and node.extra.get("id") is not None:
            return [Node(node.extra["id"], None, "string", f"{node.path}.id", "id")]
        return []
    raw = node.value.get(key)
    extra = node.value.get(f"_{key}")
    if raw is None and extra is None:
        return []
    info = structure.element(node.type_name, key)
    element_type = type_name or (info.type_name if info is not None else "Element")
    many = isinstance(raw, list) or isinstance(extra, list)
    values = raw if isinstance(raw, list) else [raw]
    extras = extra if isinstance(extra, list) else [extra]
    result = []
    for index in range(max(len(values), len(extras))):
        value = values[index] if index < len(values) else None
        value_extra = extras[index] if index < len(extras) else None
        if value is None and value_extra is None:
            continue
        path = f"{node.path}.{key}" + (f"[{index}]" if many else "")
        item_type = element_type
        if element_type == "Resource" and isinstance(value, dict):
            item_type = str(value.get("resourceType", "Resource"))
        result.append(
            Node(
                value,
                value_extra if isinstance(value_extra, dict) else None,
                item_type,
                path,
                key,
            )
        )
    return result


def children(node: Node, name: str, structure: Structure) -> list[Node]:
    """The child elements of ``node`` called ``name`` (``value[x]`` matches every type)."""
    if name.endswith("[x]"):
        base = name[:-3]
        found = []
        for key in _keys(node):
            if key.startswith(base) and len(key) > len(base) and key[len(base)].isupper():
                found += _key_children(node, key, structure, None)
        return found
    return _key_children(node, name, structure, None)


def values_at(node: Node, path: str, structure: Structure) -> list[Node] | None:
    """The nodes at a discriminator path (``system``, ``coding.code``, ``$this``).

    None when the path uses FHIRPath functions (``resolve()``, ``extension('…')``), which
    a discriminator may, but this walk does not evaluate.
    """
    if path in ("$this", ""):
        return [node]
    current = [node]
    for part in path.split("."):
        if "(" in part or part.startswith("$"):
            return None
        following: list[Node] = []
        for item in current:
            following += children(item, part, structure)
        current = following
    return current


def choice_type(key: str, segment_name: str) -> str:
    """The type a choice key carries: ``valueDateTime`` under ``value[x]`` → ``dateTime``."""
    return _type_of_choice(key, segment_name[:-3] if segment_name.endswith("[x]") else "")
