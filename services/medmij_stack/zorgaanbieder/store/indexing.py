"""What the store extracts from a resource at load time, so that searches never parse JSON.

From each resource: the tokens it answers to per search parameter (`searchparams`), the
literal references it makes (for _include, and for which shared resources a patient may
read), and for an Observation the two keys of `$lastn`: its code (the set of codings)
and its effective time as a sortable UTC string.

References are resolved as FHIR's "literal reference" (http://hl7.org/fhir/STU3/references.html):
`Type/id`, optionally `/_history/version`, or an absolute URL ending that way. A
reference starting with `#` points into the resource's own `contained` resources, which
are not resources of their own; logical references (identifier only) and `urn:` URIs do
not name a stored resource either.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from medmij_stack.protocol.fhir import FhirVersion

from .searchparams import TOKEN_PARAMS, Path
from .tables import NO_SYSTEM

__all__ = [
    "Token",
    "all_references",
    "effective",
    "lastn_code",
    "normalise_instant",
    "parse_reference",
    "references_at",
    "tokens",
    "values_at",
]

#: (search parameter, system, code); system is NO_SYSTEM for a plain `code` element.
Token = tuple[str, str, str]

_ID = r"[A-Za-z0-9\-.]{1,64}"
_TYPE = r"[A-Z][A-Za-z]{1,63}"
_RELATIVE = re.compile(rf"(?P<type>{_TYPE})/(?P<id>{_ID})(?:/_history/{_ID})?")
_ABSOLUTE = re.compile(rf"https?://\S+?/(?P<type>{_TYPE})/(?P<id>{_ID})(?:/_history/{_ID})?")
# A Reference.reference member in compact or spaced JSON text; group 1 is still escaped.
_REFERENCE_MEMBER = re.compile(r'"reference"\s*:\s*"((?:[^"\\]|\\.)*)"')

# FHIR date, dateTime and instant: a year, optionally month, day, time and zone.
_DATETIME = re.compile(
    r"(?P<y>\d{4})(?:-(?P<m>\d{2})(?:-(?P<d>\d{2})"
    r"(?:T(?P<H>\d{2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?P<f>\.\d+)?)?"
    r"(?P<tz>Z|[+-]\d{2}:\d{2})?)?)?)?"
)


def values_at(resource: Mapping[str, Any], path: Path) -> Iterator[Any]:
    """Every value at `path`; lists on the way (and at the end) fan out."""
    level: list[Any] = [resource]
    for name in path:
        following: list[Any] = []
        for node in level:
            if isinstance(node, dict) and name in node:
                value = node[name]
                following.extend(value if isinstance(value, list) else [value])
        level = following
    yield from level


def parse_reference(reference: str) -> tuple[str, str] | None:
    """(type, id) of a literal reference; None for contained, logical or urn references."""
    match = _RELATIVE.fullmatch(reference) or _ABSOLUTE.fullmatch(reference)
    if match is None:
        return None
    return match["type"], match["id"]


def references_at(
    resource: Mapping[str, Any], path: Path, target_type: str | None = None
) -> Iterator[tuple[str, str]]:
    """The resolvable references at `path`, in document order, optionally of one type."""
    for value in values_at(resource, path):
        if not isinstance(value, dict):
            continue
        reference = value.get("reference")
        if not isinstance(reference, str):
            continue
        parsed = parse_reference(reference)
        if parsed is not None and (target_type is None or parsed[0] == target_type):
            yield parsed


def all_references(content: str) -> Iterator[tuple[str, str]]:
    """Every resolvable reference anywhere in a resource's JSON text, extensions and
    contained resources included (a contained Location may point at a shared
    Organization).

    Read from the serialised text rather than by walking the objects: the store has the
    text at hand, and one regular expression over it is many times faster. A
    `"reference":"…"` inside a string value is escaped there (`\\"reference\\"`), so
    only real Reference.reference members match.
    """
    for match in _REFERENCE_MEMBER.finditer(content):
        raw = match[1]
        reference = json.loads(f'"{raw}"') if "\\" in raw else raw
        parsed = parse_reference(reference)
        if parsed is not None:
            yield parsed


def _codings(value: Any) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield NO_SYSTEM, value
    elif isinstance(value, dict):
        codings = value.get("coding")
        # A CodeableConcept has `coding`; a Coding (STU3 Encounter.class) is the coding.
        candidates = codings if isinstance(codings, list) else [value] if codings is None else []
        for coding in candidates:
            if not isinstance(coding, dict):
                continue
            system, code = coding.get("system"), coding.get("code")
            system = system if isinstance(system, str) else NO_SYSTEM
            code = code if isinstance(code, str) else ""
            if system or code:
                yield system, code


def tokens(fhir_version: FhirVersion, resource: Mapping[str, Any]) -> set[Token]:
    """The tokens this resource answers to, for every supported token parameter."""
    params = TOKEN_PARAMS[fhir_version].get(resource["resourceType"], {})
    found: set[Token] = set()
    for param, path in params.items():
        for value in values_at(resource, path):
            found.update((param, system, code) for system, code in _codings(value))
    return found


def normalise_instant(value: str) -> str | None:
    """A FHIR date/dateTime/instant as a sortable UTC string (partial dates at their
    start, no zone taken as UTC); None when the value is not one."""
    match = _DATETIME.fullmatch(value)
    if match is None:
        return None
    zone = match["tz"]
    if zone is None or zone == "Z":
        tzinfo: timezone = UTC
    else:
        sign = -1 if zone[0] == "-" else 1
        tzinfo = timezone(sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
    fraction = match["f"]
    try:
        moment = datetime(
            int(match["y"]),
            int(match["m"] or 1),
            int(match["d"] or 1),
            int(match["H"] or 0),
            int(match["M"] or 0),
            int(match["S"] or 0),
            min(999_999, round(float(fraction) * 1_000_000)) if fraction else 0,
            tzinfo=tzinfo,
        ).astimezone(UTC)
    except (ValueError, OverflowError):
        return None
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")


def effective(resource: Mapping[str, Any]) -> str | None:
    """When an Observation holds: effective[x] (its start for a Period), else `issued`."""
    period = resource.get("effectivePeriod")
    candidates = (
        resource.get("effectiveDateTime"),
        period.get("start") if isinstance(period, Mapping) else None,
        resource.get("effectiveInstant"),
        resource.get("issued"),
    )
    for candidate in candidates:
        if isinstance(candidate, str):
            normalised = normalise_instant(candidate)
            if normalised is not None:
                return normalised
    return None


def lastn_code(resource: Mapping[str, Any]) -> str:
    """The $lastn group of an Observation: the set of its code's codings (text when it
    has none), as one canonical string."""
    code = resource.get("code")
    pairs = sorted({f"{system}|{value}" for system, value in _codings(code)})
    if pairs:
        return "\n".join(pairs)
    text = code.get("text") if isinstance(code, Mapping) else None
    return f"text:{text}" if isinstance(text, str) else ""
