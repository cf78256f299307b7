"""A FHIR search as the store receives it, and its checked, ready-to-run form.

The HTTP layer hands the store the resource type, whether it is `Observation/$lastn`,
and the decoded query parameters (without `_format`). `plan` checks them against what
this server supports (`searchparams`) and raises SearchError, which the HTTP layer
answers with a 400 OperationOutcome naming the parameter and why.

Token syntax (http://hl7.org/fhir/STU3/search.html#token): `code`, `system|code`,
`|code` (no system), `system|` (any code of the system); a comma is OR, a repeated
parameter is AND, and `\\,` `\\|` `\\$` `\\\\` escape those characters.

`Observation/$lastn` (MedMij's STU3 use of the R4 operation,
http://hl7.org/fhir/R4/observation-operation-lastn.html): the same filters, then per
Observation code the latest `max` (default 1) by effective time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from medmij_stack.protocol.fhir import FhirVersion

from .compartment import is_known_type
from .searchparams import INCLUDES, PATIENT_PARAMS, TOKEN_PARAMS, IncludeSpec

__all__ = [
    "Include",
    "SearchError",
    "SearchPlan",
    "SearchRequest",
    "SearchResult",
    "StoredResource",
    "TokenAlternative",
    "TokenFilter",
    "plan",
    "unsupported_params",
]

# A client asking for thousands per code wants everything; the cap keeps the answer bounded.
_MAX_LASTN = 1000


@dataclass(frozen=True)
class SearchRequest:
    resource_type: str
    lastn: bool  # Observation/$lastn
    # Decoded (name, value) pairs as received, in order, without _format; with _include.
    params: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class StoredResource:
    resource_type: str
    id: str
    content: dict[str, Any]  # the FHIR JSON as the dataset gave it


@dataclass(frozen=True)
class SearchResult:
    matches: tuple[StoredResource, ...]
    includes: tuple[StoredResource, ...]


class SearchError(ValueError):
    """A search this server cannot answer; `code` is the FHIR issue type
    ("not-supported", "invalid") and the message says which parameter and why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class TokenAlternative:
    """One comma-separated token value; None means "any"."""

    system: str | None
    code: str | None


@dataclass(frozen=True)
class TokenFilter:
    param: str
    alternatives: tuple[TokenAlternative, ...]


@dataclass(frozen=True)
class Include:
    spec: IncludeSpec
    target_type: str | None  # a typed include (`Coverage:payor:Patient`) names one


@dataclass(frozen=True)
class SearchPlan:
    resource_type: str
    filters: tuple[TokenFilter, ...]
    includes: tuple[Include, ...]
    lastn_max: int | None  # None: not $lastn


def _split(text: str, separator: str) -> list[str]:
    """Split on unescaped `separator`, keeping escapes for the next split."""
    parts: list[str] = []
    current: list[str] = []
    escaped = False
    for char in text:
        if escaped:
            current.append("\\" + char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == separator:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    if escaped:
        current.append("\\")
    parts.append("".join(current))
    return parts


def _unescape(text: str) -> str:
    out: list[str] = []
    escaped = False
    for char in text:
        if escaped:
            out.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        else:
            out.append(char)
    if escaped:
        out.append("\\")
    return "".join(out)


def _token_filter(name: str, value: str) -> TokenFilter:
    alternatives: list[TokenAlternative] = []
    for item in _split(value, ","):
        if not item:
            raise SearchError("invalid", f"{name}={value!r}: empty value in the comma list")
        pieces = _split(item, "|")
        if len(pieces) == 1:
            alternatives.append(TokenAlternative(None, _unescape(item)))
            continue
        system, code = pieces[0], "|".join(pieces[1:])
        if not system and not code:
            raise SearchError("invalid", f"{name}={value!r}: '|' needs a system or a code")
        alternatives.append(TokenAlternative(_unescape(system), _unescape(code) if code else None))
    return TokenFilter(name, tuple(alternatives))


def _include(fhir_version: FhirVersion, resource_type: str, value: str) -> Include:
    source, _, rest = value.partition(":")
    param, _, target_type = rest.partition(":")
    spec = INCLUDES[fhir_version].get(f"{source}:{param}")
    if spec is None:
        supported = ", ".join(sorted(INCLUDES[fhir_version]))
        raise SearchError(
            "not-supported",
            f"_include={value!r} is not supported here (supported: {supported})",
        )
    if source != resource_type:
        raise SearchError(
            "invalid", f"_include={value!r} does not start with the searched type {resource_type}"
        )
    if target_type and target_type not in spec.targets:
        raise SearchError(
            "invalid",
            f"_include={value!r}: {spec.name} points at "
            f"{', '.join(sorted(spec.targets))}, not {target_type}",
        )
    return Include(spec, target_type or None)


def _lastn_max(value: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= _MAX_LASTN:
        raise SearchError("invalid", f"max={value!r}: must be a whole number 1-{_MAX_LASTN}")
    return int(value)


def _knows(fhir_version: FhirVersion, resource_type: str, lastn: bool, name: str) -> bool:
    """Whether this server has a meaning for parameter ``name`` (with any modifier) here."""
    base, colon, _ = name.partition(":")
    if base in PATIENT_PARAMS or name == "_include":
        return True
    if name == "max" and lastn:
        return True
    return name in TOKEN_PARAMS[fhir_version].get(resource_type, {}) and not colon


def unsupported_params(
    fhir_version: FhirVersion, request: SearchRequest
) -> tuple[tuple[str, str], ...]:
    """The parameters this server does not support here, which :func:`plan` would refuse
    as "not-supported": unknown names, modifiers, and ``_include`` paths it does not
    serve. A client asking ``Prefer: handling=lenient`` gets them ignored instead (FHIR R4
    search §3.1.1.0.5). The patient parameters are not among them: those are refused in
    every mode, as the patient follows from the token and nothing else.
    """
    ignored: list[tuple[str, str]] = []
    for name, value in request.params:
        if not _knows(fhir_version, request.resource_type, request.lastn, name):
            ignored.append((name, value))
        elif name == "_include":
            source, _, rest = value.partition(":")
            param = rest.partition(":")[0]
            if f"{source}:{param}" not in INCLUDES[fhir_version]:
                ignored.append((name, value))
    return tuple(ignored)


def plan(fhir_version: FhirVersion, request: SearchRequest) -> SearchPlan:
    """Check a search against what this server supports; raises SearchError."""
    resource_type = request.resource_type
    if not is_known_type(fhir_version, resource_type):
        raise SearchError("not-supported", f"resource type {resource_type!r} is not served here")
    if request.lastn and resource_type != "Observation":
        raise SearchError("not-supported", "$lastn is an operation on Observation only")
    token_params = TOKEN_PARAMS[fhir_version].get(resource_type, {})
    filters: list[TokenFilter] = []
    includes: list[Include] = []
    lastn_max: int | None = 1 if request.lastn else None
    seen_max = False
    for name, value in request.params:
        base, colon, modifier = name.partition(":")
        if base in PATIENT_PARAMS:
            raise SearchError("not-supported", f"search parameter {name!r}: {PATIENT_PARAMS[base]}")
        if name == "_include":
            includes.append(_include(fhir_version, resource_type, value))
        elif name == "max" and request.lastn:
            if seen_max:
                raise SearchError("invalid", "max may be given only once")
            seen_max = True
            lastn_max = _lastn_max(value)
        elif base in token_params and colon:
            raise SearchError(
                "not-supported", f"search parameter {name!r}: modifier :{modifier} not supported"
            )
        elif name in token_params:
            if not value:
                raise SearchError("invalid", f"search parameter {name!r} has no value")
            filters.append(_token_filter(name, value))
        else:
            supported = sorted({*token_params, "_include", *(["max"] if request.lastn else [])})
            raise SearchError(
                "not-supported",
                f"search parameter {name!r} is not supported on {resource_type}"
                f"{'/$lastn' if request.lastn else ''} (supported: {', '.join(supported)})",
            )
    return SearchPlan(resource_type, tuple(filters), tuple(includes), lastn_max)
