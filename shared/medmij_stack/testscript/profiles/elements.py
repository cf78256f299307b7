"""Reading ElementDefinitions, and matching instance values against what they fix.

Helpers of the profile walk (:mod:`medmij_stack.testscript.profiles.walker`) that need no
walk state: an element's id (also for STU3 elements without one), its types and their
profiles, its ``fixed[x]``/``pattern[x]`` and the FHIR rules for matching them (exact
for fixed, "contains at least" for pattern), the bound ValueSet in STU3 and R4 spelling,
and which resource type a Reference points to.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from medmij_stack.testscript.profiles.navigation import Node

__all__ = [
    "canonicals",
    "contains_pattern",
    "elements_of",
    "equals_fixed",
    "fixed_or_pattern",
    "id_of",
    "reference_type",
    "same_value",
    "type_matches",
    "types_of",
    "value_set_of",
]


def elements_of(definition: dict[str, Any]) -> list[dict[str, Any]]:
    differential = definition.get("differential")
    if not isinstance(differential, dict):
        return []
    return [item for item in differential.get("element", []) or [] if isinstance(item, dict)]


def id_of(element: dict[str, Any]) -> str:
    if element.get("id"):
        return str(element["id"])
    path = str(element.get("path", ""))
    return f"{path}:{element['sliceName']}" if element.get("sliceName") else path


def types_of(element: dict[str, Any]) -> list[dict[str, Any]]:
    return [item for item in element.get("type", []) or [] if isinstance(item, dict)]


def canonicals(type_entry: dict[str, Any], name: str) -> list[str]:
    value = type_entry.get(name)
    if isinstance(value, list):
        return [str(item) for item in value if item]
    return [str(value)] if value else []


def fixed_or_pattern(element: dict[str, Any]) -> tuple[str, Any] | None:
    for key, value in element.items():
        if key.startswith("fixed") and len(key) > 5 and key[5].isupper():
            return "fixed", value
        if key.startswith("pattern") and len(key) > 7 and key[7].isupper():
            return "pattern", value
    return None


def same_value(left: Any, right: Any) -> bool:
    if isinstance(left, bool) or isinstance(right, bool):
        return left is right
    if isinstance(left, int | float) or isinstance(right, int | float):
        try:
            return Decimal(str(left)) == Decimal(str(right))
        except InvalidOperation:
            return False
    return bool(left == right)


def contains_pattern(instance: Any, pattern: Any) -> bool:
    if isinstance(pattern, dict):
        if not isinstance(instance, dict):
            return False
        return all(
            key in instance and contains_pattern(instance[key], value)
            for key, value in pattern.items()
            if not key.startswith("_")
        )
    if isinstance(pattern, list):
        items = instance if isinstance(instance, list) else [instance]
        return all(any(contains_pattern(item, wanted) for item in items) for wanted in pattern)
    return same_value(instance, pattern)


def equals_fixed(instance: Any, fixed: Any) -> bool:
    if isinstance(fixed, dict) and isinstance(instance, dict):
        ignored = {"id", "extension"}
        keys = {key for key in instance if key not in ignored and not key.startswith("_")}
        return keys == set(fixed) - ignored and contains_pattern(instance, fixed)
    return contains_pattern(instance, fixed)


def reference_type(node: Node, root: Node) -> str | None:
    if not isinstance(node.value, dict):
        return None
    reference = node.value.get("reference")
    if not isinstance(reference, str) or not reference:
        return None
    if reference.startswith("#"):
        for item in (root.value.get("contained", []) if isinstance(root.value, dict) else []) or []:
            if isinstance(item, dict) and item.get("id") == reference[1:]:
                return str(item.get("resourceType"))
        return None
    parts = reference.split("?")[0].split("/")
    if "_history" in parts:
        parts = parts[: parts.index("_history")]
    if len(parts) >= 2 and parts[-2][:1].isupper():
        return parts[-2]
    return None


def value_set_of(binding: dict[str, Any]) -> str | None:
    for key in ("valueSet", "valueSetUri"):
        value = binding.get(key)
        if isinstance(value, str) and value:
            return value
    reference = binding.get("valueSetReference")
    if isinstance(reference, dict) and reference.get("reference"):
        return str(reference["reference"])
    return None


def type_matches(actual: str, codes: set[Any]) -> bool:
    def norm(name: str) -> str:
        return name[:1].lower() + name[1:]

    wanted = {norm(str(code)) for code in codes if code}
    if not wanted or norm(actual) in wanted:
        return True
    # Backbone elements and System types: the base already fixed them.
    return bool(wanted & {"backboneElement", "element", "resource"}) or any(
        code.startswith("http://hl7.org/fhirpath/") for code in (str(c) for c in codes)
    )
