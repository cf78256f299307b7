"""Validation against the base FHIR specification (STU3 3.0.2, R4 4.0.1).

The first half of ``validateProfileId`` ("conforms to the base FHIR specification",
docs/qualification.md#generic-asserts rule 8). fhir.resources' models (``STU3``; ``R4B`` for R4,
docs/qualification.md#fhir-versions) check element names, types, primitive formats and
required elements of the whole resource, contained and Bundle-entry resources included. Two
things they leave out are added here from the same models' metadata: codes of ``code``
elements with a required binding in the base spec (e.g. ``Bundle.type``; a warning, because
those lists are not always complete), and choice elements that must be present
(``Immunization.occurrence[x]``).

Not checked, and said so: the base spec's invariants (``ele-1``, ``dom-2``, ``bdl-7`` and
every other FHIRPath constraint of the core StructureDefinitions, which are not in the
project) and bindings of coded datatypes (Coding, CodeableConcept) to base ValueSets.
"""

from __future__ import annotations

import importlib
from typing import Any

from pydantic import ValidationError

from medmij_stack.protocol.fhir import FhirVersion
from medmij_stack.testscript.profiles.report import ValidationReport
from medmij_stack.testscript.structure import Structure, structure_for

__all__ = ["BASE_NOT_CHECKED", "validate_base"]

BASE_NOT_CHECKED = (
    "base FHIR invariants (ele-1, dom-2, bdl-* and the other FHIRPath constraints of the "
    "core StructureDefinitions)",
    "base FHIR bindings of Coding and CodeableConcept elements",
)


def _location(resource_type: str, loc: tuple[int | str, ...]) -> str:
    text = resource_type
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part.endswith("__ext"):
            text += f"._{part[:-5]}"
        else:
            text += f".{part}"
    return text


def validate_base(resource: dict[str, Any], version: FhirVersion) -> ValidationReport:
    """Check ``resource`` (a JSON object) against the base structure of ``version``."""
    report = ValidationReport()
    resource_type = str(resource.get("resourceType", ""))
    structure = structure_for(version)
    module = importlib.import_module(version.models_package)
    try:
        model = module.get_fhir_model_class(resource_type)
    except (KeyError, ValueError):
        report.error(resource_type or "(root)", f"not a FHIR {version.release} resource type")
        return report
    report.checked.append(f"{resource_type}: base FHIR {version.release}")
    try:
        model.model_validate(resource)
    except ValidationError as exc:
        for error in exc.errors():
            message = str(error["msg"])
            # Missing elements are reported by the walk below, for every element at once:
            # fhir.resources checks required primitives only when nothing else failed.
            if error["type"] == "missing" or message.endswith("is required."):
                continue
            report.error(_location(resource_type, tuple(error["loc"])), message)
    except (ValueError, TypeError) as exc:
        report.error(resource_type, f"not readable as FHIR {version.release}: {exc}")
    _walk(resource, resource_type, resource_type, structure, report)
    report.rules_checked += 1
    for line in BASE_NOT_CHECKED:
        report.skip(f"{line} ({version.release})")
    return report


def _walk(
    data: dict[str, Any], type_name: str, path: str, structure: Structure, report: ValidationReport
) -> None:
    elements = structure.elements(type_name)
    required_choices = {
        info.choice_of for info in elements.values() if info.choice_of and info.choice_required
    }
    for group in sorted(required_choices):
        present = any(
            name in data or f"_{name}" in data
            for name, info in elements.items()
            if info.choice_of == group
        )
        if not present:
            report.error(f"{path}.{group}[x]", "required, but absent")
    for name, element in elements.items():
        if element.required and name not in data and f"_{name}" not in data:
            report.error(f"{path}.{name}", "required, but absent")
    for name, value in data.items():
        info = elements.get(name)
        if info is None:
            continue
        items = value if isinstance(value, list) else [value]
        for index, item in enumerate(items):
            where = f"{path}.{name}" + (f"[{index}]" if info.is_list else "")
            if info.codes and isinstance(item, str) and item not in info.codes:
                # fhir.resources' code lists are not always complete (STU3 RequestStatus
                # lacks "unknown"), so an unlisted code is a warning, not an error.
                report.warning(
                    where,
                    f"code {item!r} is not one of {', '.join(info.codes)} "
                    "(the base binding's codes as fhir.resources lists them)",
                )
            if not isinstance(item, dict):
                continue
            if info.type_name == "Resource":
                inner = str(item.get("resourceType", ""))
                if structure.is_resource_type(inner):
                    _walk(item, inner, f"{where}({inner})", structure, report)
            elif not info.primitive:
                _walk(item, info.type_name, where, structure, report)
