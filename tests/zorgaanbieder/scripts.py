"""Just enough of a TestScript engine to run the Nictiz XIS-Server scripts against our server.

What the BgZ and Vaccinaties server scripts use (docs/qualification.md#runner-semantics): variables
with a default or an expression over a named response, GET search and read operations
with an Accept of json or xml, and asserts on the response code, the resource type and
FHIRPath expressions, evaluated against the last response. ``validateProfileId`` needs the
Nictiz packages and a Java validator and is reported as not run; the Touchstone self-link
rule is checked with :func:`params_missing_from_self_link`.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

import httpx
from lxml import etree

from medmij_stack.protocol.fhir import FhirVersion

from .qualification import fhirpath, params_missing_from_self_link

_F = "{http://hl7.org/fhir}"
_ACCEPT = {"json": "application/fhir+json", "xml": "application/fhir+xml"}
_VARIABLE = re.compile(r"\$\{([^}]+)\}")


def _value(element: Any, name: str) -> str | None:
    child = element.find(f"{_F}{name}")
    return None if child is None else str(child.get("value"))


@dataclass
class Operation:
    kind: str
    resource: str | None
    params: str | None
    url: str | None
    accept: str
    headers: list[tuple[str, str]]
    response_id: str | None


@dataclass
class Assertion:
    description: str
    kind: Literal["responseCode", "resource", "expression", "profile", "rule", "other"]
    expression: str | None = None
    value: str | None = None
    operator: str | None = None
    response_code: str | None = None
    resource: str | None = None


@dataclass
class Response:
    url: str
    status: int
    body: dict[str, Any] | None


@dataclass
class Outcome:
    """What running one script found: failed asserts, and what could not be checked."""

    failures: list[str] = field(default_factory=list)
    not_run: list[str] = field(default_factory=list)
    requests: int = 0
    checked: int = 0


def _operation(element: Any) -> Operation:
    type_code = element.find(f"{_F}type/{_F}code")
    return Operation(
        kind="search" if type_code is None else str(type_code.get("value")),
        resource=_value(element, "resource"),
        params=_value(element, "params"),
        url=_value(element, "url"),
        accept=_value(element, "accept") or "json",
        headers=[
            (str(_value(h, "field")), str(_value(h, "value")))
            for h in element.findall(f"{_F}requestHeader")
        ],
        response_id=_value(element, "responseId"),
    )


def _assertion(element: Any) -> Assertion:
    description = _value(element, "description") or ""
    if element.find(f"{_F}validateProfileId") is not None:
        return Assertion(description, "profile")
    if element.find(f"{_F}extension") is not None:
        return Assertion(description, "rule")
    if element.find(f"{_F}responseCode") is not None:
        return Assertion(
            description,
            "responseCode",
            operator=_value(element, "operator"),
            response_code=_value(element, "responseCode"),
        )
    if element.find(f"{_F}resource") is not None:
        return Assertion(description, "resource", resource=_value(element, "resource"))
    if element.find(f"{_F}expression") is not None:
        return Assertion(
            description,
            "expression",
            expression=_value(element, "expression"),
            value=_value(element, "value"),
            operator=_value(element, "operator"),
        )
    return Assertion(description, "other")


def _encode(params: str) -> str:
    """``encodeRequestUrl``: the engine percent-encodes the values (``|`` and ``,``)."""
    path, _, query = params.partition("?")
    if not query:
        return params
    parts = []
    for part in query.split("&"):
        name, _, value = part.partition("=")
        parts.append(f"{name}={quote(value, safe=':/')}")
    return f"{path}?{'&'.join(parts)}"


class ScriptRun:
    """One script against one FHIR base, with one client."""

    def __init__(self, path: Path, base: str, client: httpx.Client, version: FhirVersion) -> None:
        self.tree = etree.parse(str(path))
        self.base = base
        self.client = client
        self.version = version
        self.responses: dict[str, Response] = {}
        self.last: Response | None = None
        self.defaults: dict[str, str] = {}
        self.expressions: dict[str, tuple[str, str]] = {}
        for variable in self.tree.getroot().findall(f"{_F}variable"):
            name = str(_value(variable, "name"))
            default = _value(variable, "defaultValue")
            expression = _value(variable, "expression")
            source = _value(variable, "sourceId")
            if default is not None:
                # ${UUID} in a default is drawn once: the X-Correlation-ID of the whole run.
                self.defaults[name] = self.substitute(default)
            elif expression is not None and source is not None:
                self.expressions[name] = (expression, source)

    def substitute(self, text: str) -> str:
        def one(match: re.Match[str]) -> str:
            name = match[1]
            if name == "UUID":
                return str(uuid.uuid4())
            if name in self.defaults:
                return self.defaults[name]
            expression, source = self.expressions[name]
            response = self.responses[source]
            assert response.body is not None, f"{source} has no body"
            [result] = fhirpath(response.body, self.substitute(expression), self.version)
            return str(result)

        return _VARIABLE.sub(one, text)

    def _parse(self, response: httpx.Response, accept: str) -> dict[str, Any] | None:
        if not response.content:
            return None
        if accept == "json":
            body: dict[str, Any] = response.json()
            return body
        import importlib

        root = etree.fromstring(response.content)
        resource_type = etree.QName(root).localname
        model = importlib.import_module(self.version.models_package).get_fhir_model_class(
            resource_type
        )
        parsed: dict[str, Any] = json.loads(
            model.model_validate_xml(response.content).model_dump_json()
        )
        return parsed

    def perform(self, operation: Operation, outcome: Outcome) -> None:
        if operation.url is not None:
            url = self.substitute(operation.url)
        else:
            params = _encode(self.substitute(operation.params or ""))
            url = f"{self.base}/{operation.resource}{params}"
        headers = {name: self.substitute(value) for name, value in operation.headers}
        headers["Accept"] = _ACCEPT[operation.accept]
        response = self.client.get(url, headers=headers)
        outcome.requests += 1
        self.last = Response(url, response.status_code, self._parse(response, operation.accept))
        if operation.response_id is not None:
            self.responses[operation.response_id] = self.last

    def check(self, test_id: str, assertion: Assertion, outcome: Outcome) -> None:
        last = self.last
        where = f"{test_id}: {assertion.description[:90]}"
        if assertion.kind == "profile":
            outcome.not_run.append(f"{where} (validateProfileId needs the Nictiz packages)")
            return
        if last is None:
            outcome.failures.append(f"{where}: no response to check")
            return
        outcome.checked += 1
        if assertion.kind == "responseCode":
            allowed = {int(code) for code in (assertion.response_code or "").split(",")}
            if last.status not in allowed:
                outcome.failures.append(f"{where}: HTTP {last.status}")
        elif assertion.kind == "resource":
            found = None if last.body is None else last.body.get("resourceType")
            if found != assertion.resource:
                outcome.failures.append(f"{where}: {found}")
        elif assertion.kind == "rule":
            missing = (
                [] if last.body is None else params_missing_from_self_link(last.url, last.body)
            )
            if missing:
                outcome.failures.append(f"{where}: not in the self link: {missing}")
        elif assertion.kind == "expression":
            assert assertion.expression is not None
            result = fhirpath(last.body or {}, self.substitute(assertion.expression), self.version)
            if assertion.value is not None:
                ok = bool(result) and str(result[0]) == self.substitute(assertion.value)
            else:
                ok = result == [True]
            if not ok:
                outcome.failures.append(f"{where}: {assertion.expression} gave {result}")
        else:
            outcome.not_run.append(f"{where} (assert kind not supported here)")

    def run(self) -> Outcome:
        outcome = Outcome()
        for test in self.tree.getroot().findall(f"{_F}test"):
            test_id = str(test.get("id"))
            for action in test.findall(f"{_F}action"):
                operation = action.find(f"{_F}operation")
                if operation is not None:
                    self.perform(_operation(operation), outcome)
                assertion = action.find(f"{_F}assert")
                if assertion is not None:
                    self.check(test_id, _assertion(assertion), outcome)
        return outcome
