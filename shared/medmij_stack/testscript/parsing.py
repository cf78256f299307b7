"""Reading TestScript XML files into :mod:`medmij_stack.testscript.model`.

The scripts are parsed as raw XML, not with a FHIR model: they are R4-style with R5
elements mixed in, which the R4B TestScript model rejects (docs/qualification.md#file-format).
Both profile spellings are read (R5 ``<profile id value>`` and R4 ``<profile id><reference
value>``), tests may lack an id, and extensions of Touchstone and ConformanceLab are read
where they matter (the rule asserts) and otherwise ignored.

Which FHIR release a script exchanges, and which side is tested, come from the
``properties.json`` beside it (ConformanceLab metadata), else from the folder names
(``STU3``/``R4``, ``XIS-Server``/``PHR-Client``), else from the SUT flags on origin and
destination. A script whose release cannot be told is refused with a message saying how
to tell it.
"""

from __future__ import annotations

import json
from pathlib import Path

from lxml import etree

from medmij_stack.protocol.fhir import FhirVersion
from medmij_stack.testscript.errors import ScriptError
from medmij_stack.testscript.fhirxml import FHIR_NS, parse_xml
from medmij_stack.testscript.model import (
    Action,
    Assert,
    Fixture,
    Operation,
    RequestHeader,
    Role,
    ScriptTest,
    TestScript,
    Variable,
)

__all__ = ["declared_role", "read_properties", "read_testscript", "role_of"]

_F = f"{{{FHIR_NS}}}"
_RULE_EXT = (
    "http://touchstone.aegis.net/touchstone/fhir/testing/StructureDefinition/testscript-rule"
)
_ASSERT_RULE_EXT = (
    "http://touchstone.aegis.net/touchstone/fhir/testing/StructureDefinition/testscript-assert-rule"
)
_SUT_EXT = "http://fhir.interoplab.eu/fhir/StructureDefinition/Interoplab-CL-ext-SUT"
_MAX_SCRIPT_BYTES = 20 * 1024 * 1024

# Assert elements the runner reads; any other check element is recorded as unsupported.
_ASSERT_CHECKS_UNSUPPORTED = (
    "minimumId",
    "navigationLinks",
    "path",
    "compareToSourceId",
    "compareToSourceExpression",
    "compareToSourcePath",
    "requirement",
)
_OPERATION_UNSUPPORTED = ("requestId",)


def _value(element: etree._Element, name: str) -> str | None:
    child = element.find(_F + name)
    return None if child is None else child.get("value")


def _bool(element: etree._Element, name: str, default: bool) -> bool:
    text = _value(element, name)
    if text is None:
        return default
    return text.strip().lower() == "true"


def _int(element: etree._Element, name: str) -> int | None:
    text = _value(element, name)
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        return None


def _line(element: etree._Element) -> int | None:
    line: object = element.sourceline
    return line if isinstance(line, int) else None


def read_properties(folder: Path) -> dict[str, object]:
    """The ConformanceLab ``properties.json`` of a script folder, or ``{}`` when absent."""
    path = folder / "properties.json"
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _version_from(path: Path, properties: dict[str, object]) -> FhirVersion | None:
    declared = properties.get("fhirVersion")
    if isinstance(declared, str) and (version := FhirVersion.from_release(declared)):
        return version
    for part in reversed(path.parts):
        if version := FhirVersion.from_release(part):
            return version
    return None


def _sut_flag(element: etree._Element | None) -> bool | None:
    if element is None:
        return None
    for extension in element.findall(_F + "extension"):
        if extension.get("url") == _SUT_EXT:
            flag = extension.find(_F + "valueBoolean")
            if flag is not None:
                return flag.get("value") == "true"
    return None


def declared_role(path: Path, properties: dict[str, object]) -> Role | None:
    """The side ``properties.json`` or the folder names say is tested, or None."""
    role = properties.get("role")
    if isinstance(role, dict) and isinstance(role.get("name"), str):
        name = str(role["name"])
        if name.startswith("PHR-Client"):
            return Role.CLIENT
        if name.startswith("XIS-Server"):
            return Role.SERVER
    for part in reversed(path.parts):
        if part.startswith("PHR-Client"):
            return Role.CLIENT
        if part.startswith("XIS-Server"):
            return Role.SERVER
    return None


def role_of(path: Path, properties: dict[str, object], root: etree._Element) -> Role:
    """The side tested: as declared, else by the SUT flag on the origin, else the server."""
    declared = declared_role(path, properties)
    if declared is not None:
        return declared
    if _sut_flag(root.find(_F + "origin")):
        return Role.CLIENT
    return Role.SERVER


def _rule_id(element: etree._Element, url: str) -> str | None:
    for extension in element.findall(_F + "extension"):
        if extension.get("url") != url:
            continue
        for inner in extension.findall(_F + "extension"):
            if inner.get("url") == "ruleId":
                value = inner.find(_F + "valueId")
                if value is None:
                    value = inner.find(_F + "valueString")
                if value is not None:
                    return value.get("value")
    return None


def _rules(root: etree._Element) -> dict[str, str]:
    rules: dict[str, str] = {}
    for extension in root.findall(_F + "extension"):
        if extension.get("url") != _RULE_EXT:
            continue
        rule_id = path = None
        for inner in extension.findall(_F + "extension"):
            if inner.get("url") == "ruleId":
                node = inner.find(_F + "valueId")
                rule_id = None if node is None else node.get("value")
            elif inner.get("url") == "path":
                node = inner.find(_F + "valueString")
                path = None if node is None else node.get("value")
        if rule_id:
            rules[rule_id] = path or ""
    return rules


def _profiles(root: etree._Element) -> dict[str, str]:
    profiles: dict[str, str] = {}
    for profile in root.findall(_F + "profile"):
        profile_id = profile.get("id")
        canonical = profile.get("value")
        if canonical is None:
            reference = profile.find(_F + "reference")
            canonical = None if reference is None else reference.get("value")
        if profile_id and canonical:
            profiles[profile_id] = canonical
    return profiles


def _variables(root: etree._Element) -> tuple[Variable, ...]:
    result = []
    for element in root.findall(_F + "variable"):
        name = _value(element, "name")
        if not name:
            continue
        result.append(
            Variable(
                name=name,
                default_value=_value(element, "defaultValue"),
                expression=_value(element, "expression"),
                header_field=_value(element, "headerField"),
                path=_value(element, "path"),
                source_id=_value(element, "sourceId"),
                description=_value(element, "description"),
            )
        )
    return tuple(result)


def _fixtures(root: etree._Element) -> tuple[Fixture, ...]:
    result = []
    for element in root.findall(_F + "fixture"):
        fixture_id = element.get("id")
        reference = element.find(f"{_F}resource/{_F}reference")
        if not fixture_id or reference is None or not reference.get("value"):
            continue
        result.append(
            Fixture(
                id=fixture_id,
                reference=str(reference.get("value")),
                autocreate=_bool(element, "autocreate", False),
                autodelete=_bool(element, "autodelete", False),
            )
        )
    return tuple(result)


def _operation(element: etree._Element) -> Operation:
    type_element = element.find(_F + "type")
    headers = tuple(
        RequestHeader(field=_value(header, "field") or "", value=_value(header, "value") or "")
        for header in element.findall(_F + "requestHeader")
    )
    unsupported = tuple(name for name in _OPERATION_UNSUPPORTED if _value(element, name))
    return Operation(
        type_code=None if type_element is None else _value(type_element, "code"),
        type_system=None if type_element is None else _value(type_element, "system"),
        resource=_value(element, "resource"),
        label=_value(element, "label"),
        description=_value(element, "description"),
        accept=_value(element, "accept"),
        content_type=_value(element, "contentType"),
        destination=_int(element, "destination"),
        origin=_int(element, "origin"),
        encode_request_url=_bool(element, "encodeRequestUrl", True),
        method=_value(element, "method"),
        params=_value(element, "params"),
        url=_value(element, "url"),
        request_headers=headers,
        request_id=_value(element, "requestId"),
        response_id=_value(element, "responseId"),
        source_id=_value(element, "sourceId"),
        target_id=_value(element, "targetId"),
        unsupported=unsupported,
    )


def _assert(element: etree._Element) -> Assert:
    unsupported = tuple(
        name for name in _ASSERT_CHECKS_UNSUPPORTED if element.find(_F + name) is not None
    )
    return Assert(
        description=_value(element, "description"),
        label=_value(element, "label"),
        direction=_value(element, "direction") or "response",
        operator=_value(element, "operator"),
        response_code=_value(element, "responseCode"),
        response=_value(element, "response"),
        resource=_value(element, "resource"),
        expression=_value(element, "expression"),
        value=_value(element, "value"),
        header_field=_value(element, "headerField"),
        request_url=_value(element, "requestURL"),
        request_method=_value(element, "requestMethod"),
        content_type=_value(element, "contentType"),
        validate_profile_id=_value(element, "validateProfileId"),
        source_id=_value(element, "sourceId"),
        rule_id=_rule_id(element, _ASSERT_RULE_EXT),
        warning_only=_bool(element, "warningOnly", False),
        stop_test_on_fail=_bool(element, "stopTestOnFail", False),
        unsupported=unsupported,
    )


def _actions(parent: etree._Element | None, path: Path) -> tuple[Action, ...]:
    if parent is None:
        return ()
    actions: list[Action] = []
    for action in parent.findall(_F + "action"):
        operation = action.find(_F + "operation")
        check = action.find(_F + "assert")
        if operation is not None:
            actions.append(_operation(operation))
        elif check is not None:
            actions.append(_assert(check))
        else:
            raise ScriptError(path, "an action with neither operation nor assert", _line(action))
    return tuple(actions)


def read_testscript(path: Path, *, fhir_version: FhirVersion | None = None) -> TestScript:
    """Read one TestScript XML file. ``fhir_version`` overrides what the folder says."""
    try:
        size = path.stat().st_size
        if size > _MAX_SCRIPT_BYTES:
            raise ScriptError(path, f"larger than {_MAX_SCRIPT_BYTES} bytes")
        root = parse_xml(path.read_bytes())
    except OSError as exc:
        raise ScriptError(path, f"cannot read: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise ScriptError(path, str(exc)) from exc
    if root.tag != _F + "TestScript":
        raise ScriptError(
            path, f"the root element is {etree.QName(root).localname}, not TestScript"
        )
    properties = read_properties(path.parent)
    version = fhir_version or _version_from(path.resolve(), properties)
    if version is None:
        raise ScriptError(
            path,
            "cannot tell the FHIR release: put the script under a folder named STU3 or R4, "
            "add a properties.json with fhirVersion, or say --fhir-version",
        )
    tests = []
    for index, test in enumerate(root.findall(_F + "test")):
        tests.append(
            ScriptTest(
                id=test.get("id"),
                name=_value(test, "name"),
                description=_value(test, "description"),
                actions=_actions(test, path),
                index=index,
            )
        )
    return TestScript(
        path=path,
        id=_value(root, "id"),
        url=_value(root, "url"),
        name=_value(root, "name"),
        title=_value(root, "title"),
        description=_value(root, "description"),
        fhir_version=version,
        role=role_of(path.resolve(), properties, root),
        variables=_variables(root),
        fixtures=_fixtures(root),
        profiles=_profiles(root),
        rules=_rules(root),
        setup=_actions(root.find(_F + "setup"), path),
        tests=tuple(tests),
        teardown=_actions(root.find(_F + "teardown"), path),
    )
