"""The parts of a FHIR TestScript that the qualification runner executes.

The Nictiz qualification scripts (docs/qualification.md#file-format) are R4-style TestScripts
with R5 elements mixed in (``assert.stopTestOnFail``, a canonical ``profile``), so this
is a model of what those scripts use, not of any one FHIR release: variables, fixtures,
setup/test/teardown actions, operations and asserts. Everything a script says that the
runner does not act on stays visible: :attr:`Assert.unsupported` and
:attr:`Operation.unsupported` name the elements, so a result can say "not checked"
instead of passing silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from medmij_stack.protocol.fhir import FhirVersion

__all__ = [
    "Action",
    "Assert",
    "Fixture",
    "Operation",
    "RequestHeader",
    "Role",
    "ScriptTest",
    "TestScript",
    "Variable",
]


class Role(StrEnum):
    """Which side is the system under test (``properties.json`` role, or the SUT flag)."""

    SERVER = "XIS-Server"
    CLIENT = "PHR-Client"


@dataclass(frozen=True)
class RequestHeader:
    field: str
    value: str


@dataclass(frozen=True)
class Variable:
    """``TestScript.variable``: a default value, or an expression over a named response.

    ``source_id`` names a fixture or a ``responseId``; ``expression`` (FHIRPath) or
    ``header_field`` is then read from that response once it has arrived.
    """

    name: str
    default_value: str | None = None
    expression: str | None = None
    header_field: str | None = None
    path: str | None = None
    source_id: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class Fixture:
    """``TestScript.fixture``: a resource file, relative to the script's folder."""

    id: str
    reference: str
    autocreate: bool = False
    autodelete: bool = False


@dataclass(frozen=True)
class Operation:
    """``TestScript.setup/test/teardown.action.operation``."""

    type_code: str | None
    type_system: str | None = None
    resource: str | None = None
    label: str | None = None
    description: str | None = None
    accept: str | None = None
    content_type: str | None = None
    destination: int | None = None
    origin: int | None = None
    encode_request_url: bool = True
    method: str | None = None
    params: str | None = None
    url: str | None = None
    request_headers: tuple[RequestHeader, ...] = ()
    request_id: str | None = None
    response_id: str | None = None
    source_id: str | None = None
    target_id: str | None = None
    unsupported: tuple[str, ...] = ()
    """Elements given that the runner cannot honour (e.g. ``minimumId`` on an operation)."""


@dataclass(frozen=True)
class Assert:
    """``TestScript...action.assert``: one check, on a response or on a request.

    ``rule_id`` is set for a Touchstone rule assert (``testscript-assert-rule``), such as
    ``assert-response-queryParamsInSelfLink``.
    """

    description: str | None = None
    label: str | None = None
    direction: str = "response"
    operator: str | None = None
    response_code: str | None = None
    response: str | None = None
    resource: str | None = None
    expression: str | None = None
    value: str | None = None
    header_field: str | None = None
    request_url: str | None = None
    request_method: str | None = None
    content_type: str | None = None
    validate_profile_id: str | None = None
    source_id: str | None = None
    rule_id: str | None = None
    warning_only: bool = False
    stop_test_on_fail: bool = False
    unsupported: tuple[str, ...] = ()
    """Check kinds given that the runner cannot evaluate (e.g. ``minimumId``, ``path``)."""

    @property
    def title(self) -> str:
        """What a report calls this assert: its description, else its label or kind."""
        return self.description or self.label or self.kind

    @property
    def kind(self) -> str:
        """The check this assert makes, as the name of its TestScript element."""
        for name, value in (
            ("rule", self.rule_id),
            ("validateProfileId", self.validate_profile_id),
            ("responseCode", self.response_code),
            ("response", self.response),
            ("resource", self.resource),
            ("expression", self.expression),
            ("headerField", self.header_field),
            ("requestURL", self.request_url),
            ("requestMethod", self.request_method),
            ("contentType", self.content_type),
        ):
            if value is not None:
                return name
        if self.unsupported:
            return self.unsupported[0]
        return "empty"


Action = Operation | Assert


@dataclass(frozen=True)
class ScriptTest:
    """``TestScript.test``: a named sequence of operations and asserts."""

    id: str | None
    name: str | None
    description: str | None
    actions: tuple[Action, ...]
    index: int = 0

    @property
    def title(self) -> str:
        return self.name or self.id or f"test {self.index + 1}"

    @property
    def operations(self) -> tuple[Operation, ...]:
        return tuple(action for action in self.actions if isinstance(action, Operation))

    @property
    def asserts(self) -> tuple[Assert, ...]:
        return tuple(action for action in self.actions if isinstance(action, Assert))


@dataclass(frozen=True)
class TestScript:
    """One parsed TestScript file and what the runner needs around it."""

    __test__ = False  # a domain name, not a pytest class

    path: Path
    id: str | None
    url: str | None
    name: str | None
    title: str | None
    description: str | None
    fhir_version: FhirVersion  # of the exchange the script tests, not of its own syntax
    role: Role
    variables: tuple[Variable, ...] = ()
    fixtures: tuple[Fixture, ...] = ()
    profiles: dict[str, str] = field(default_factory=dict)
    """``profile`` id → StructureDefinition canonical, for ``validateProfileId``."""
    rules: dict[str, str] = field(default_factory=dict)
    """Touchstone rule id → the rule file path the script names."""
    setup: tuple[Action, ...] = ()
    tests: tuple[ScriptTest, ...] = ()
    teardown: tuple[Action, ...] = ()

    @property
    def label(self) -> str:
        return self.title or self.name or self.id or self.path.name
