"""A FHIR search, read from its request once: the checked plan the store runs.

The resource server's request handler (:mod:`medmij_stack.zorgaanbieder.fhir_api`) calls
:func:`plan_search` once per search with what the request says: the resource type, whether
it is ``Observation/$lastn``, the decoded query parameters (without ``_format``), the
negotiated format and whether the client asked ``Prefer: handling=lenient``. The
:class:`SearchPlan` it gets back holds everything the answer depends on; the handler renders
and caches by it and hands it to the store (``Records.search``), which runs it as it is:
nothing after this module reads a query parameter again.

A plan is checked against what this server supports (:mod:`.searchparams`). A search it
cannot answer raises SearchError, which the handler answers with a 400 OperationOutcome
naming the parameter and why ("not-supported" or "invalid"). Under lenient handling (FHIR
R4 search, http://hl7.org/fhir/R4/search.html#errors) the parameters this server does not
support (unknown names, modifiers, ``_include`` paths it does not serve) are left out
instead and listed in :attr:`SearchPlan.ignored`, so that the self link can leave them out
too. The patient parameters are refused in every mode: the patient follows from the access
token and nothing else. There is no paging: a searchset holds every match, and ``_count``
is a parameter this server does not support.

Token syntax (http://hl7.org/fhir/STU3/search.html#token): ``code``, ``system|code``,
``|code`` (no system), ``system|`` (any code of the system); a comma is OR, a repeated
parameter is AND, and ``\\,`` ``\\|`` ``\\$`` ``\\\\`` escape those characters.

``Observation/$lastn`` (MedMij's STU3 use of the R4 operation,
http://hl7.org/fhir/R4/observation-operation-lastn.html): the same filters, then per
Observation code the latest ``max`` (default 1) by effective time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from medmij_stack.protocol.fhir import FhirFormat, FhirVersion

from .compartment import is_known_type
from .searchparams import INCLUDES, PATIENT_PARAMS, TOKEN_PARAMS, IncludeSpec, Path

__all__ = [
    "Include",
    "SearchError",
    "SearchPlan",
    "SearchResult",
    "StoredResource",
    "TokenAlternative",
    "TokenFilter",
    "plan_search",
]

# A client asking for thousands per code wants everything; the cap keeps the answer bounded.
_MAX_LASTN = 1000
_LASTN = "$lastn"


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
    """One token parameter: a resource matches when it has one of the alternatives."""

    param: str
    alternatives: tuple[TokenAlternative, ...]


@dataclass(frozen=True)
class Include:
    """One ``_include``: where the references are, and which types it reaches."""

    spec: IncludeSpec
    target_type: str | None  # a typed include (`Coverage:payor:Patient`) names one


@dataclass(frozen=True)
class SearchPlan:
    """A search as this server will answer it: checked, with nothing left to interpret."""

    fhir_version: FhirVersion
    resource_type: str
    lastn_max: int | None  # Observation/$lastn: the latest this many per code; None: a search
    filters: tuple[TokenFilter, ...]  # every one must match (a repeated parameter is AND)
    includes: tuple[Include, ...]
    fmt: FhirFormat  # of the answer; the store does not read it
    # The parameters left out under lenient handling, as (name, value) pairs received.
    ignored: tuple[tuple[str, str], ...] = ()

    @property
    def path(self) -> str:
        """What was searched, relative to the FHIR base: ``Condition``, ``Observation/$lastn``."""
        return self.resource_type if self.lastn_max is None else f"{self.resource_type}/{_LASTN}"


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


def _supported(
    fhir_version: FhirVersion,
    token_params: Mapping[str, Path],
    lastn: bool,
    name: str,
    value: str,
) -> bool:
    """Whether this server has a meaning for parameter ``name`` here: False for what lenient
    handling may leave out. The patient parameters count as supported: they are refused, never
    ignored."""
    base, colon, _ = name.partition(":")
    if base in PATIENT_PARAMS:
        return True
    if name == "_include":
        source, _, rest = value.partition(":")
        return f"{source}:{rest.partition(':')[0]}" in INCLUDES[fhir_version]
    if name == "max" and lastn:
        return True
    return name in token_params and not colon


def plan_search(
    fhir_version: FhirVersion,
    resource_type: str,
    params: Sequence[tuple[str, str]],
    *,
    lastn: bool,
    fmt: FhirFormat,
    lenient: bool,
) -> SearchPlan:
    """The plan of ``GET [base]/<resource_type>`` (``/$lastn`` when ``lastn``) with these
    decoded (name, value) pairs, in the order received; raises SearchError."""
    if not is_known_type(fhir_version, resource_type):
        raise SearchError("not-supported", f"resource type {resource_type!r} is not served here")
    if lastn and resource_type != "Observation":
        raise SearchError("not-supported", "$lastn is an operation on Observation only")
    token_params = TOKEN_PARAMS[fhir_version].get(resource_type, {})
    filters: list[TokenFilter] = []
    includes: list[Include] = []
    ignored: list[tuple[str, str]] = []
    lastn_max: int | None = 1 if lastn else None
    seen_max = False
    for name, value in params:
        if lenient and not _supported(fhir_version, token_params, lastn, name, value):
            ignored.append((name, value))
            continue
        base, colon, modifier = name.partition(":")
        if base in PATIENT_PARAMS:
            raise SearchError("not-supported", f"search parameter {name!r}: {PATIENT_PARAMS[base]}")
        if name == "_include":
            includes.append(_include(fhir_version, resource_type, value))
        elif name == "max" and lastn:
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
            supported = sorted({*token_params, "_include", *(["max"] if lastn else [])})
            raise SearchError(
                "not-supported",
                f"search parameter {name!r} is not supported on {resource_type}"
                f"{'/$lastn' if lastn else ''} (supported: {', '.join(supported)})",
            )
    return SearchPlan(
        fhir_version=fhir_version,
        resource_type=resource_type,
        lastn_max=lastn_max,
        filters=tuple(filters),
        includes=tuple(includes),
        fmt=fmt,
        ignored=tuple(ignored),
    )
