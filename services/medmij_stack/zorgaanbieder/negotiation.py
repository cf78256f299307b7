"""Which representation to answer in: JSON or XML, and only in this endpoint's FHIR version.

FHIR's http page (STU3 and R4, "Content Types and encodings") lets a client choose the
format with ``Accept`` or with ``_format``, which wins when both are given; ``_format``
takes ``json``, ``xml`` or a MIME type. R4 adds the ``fhirVersion`` MIME parameter, and
MedMij's resource requests send it (``Accept: application/fhir+json; fhirVersion=3.0``,
docs/protocol.md#resource-requests). The Nictiz "xml" scripts send ``Accept: application/fhir+xml``.

Readings taken:

* A ``fhirVersion`` is matched on major.minor (``3.0`` also admits ``3.0.2``). A client that
  offers only other versions gets ``400 invalid_request`` "Requested FHIR version not
  supported", as MGO's DVA answers.
* An ``Accept`` that names nothing FHIR-like (a browser's ``text/html``) gets JSON: the
  server's default format, as RFC 9110 §12.5.1 allows. An explicit ``_format`` we cannot
  give is refused with 406, because the caller asked for it by name.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from medmij_stack.protocol.fhir import FhirFormat, FhirVersion

from .errors import NotAcceptable, UnsupportedVersion

__all__ = ["content_type", "lenient_handling", "negotiate"]

# FHIR http page: the _format values, and the MIME types a FHIR server is expected to honour.
_BY_NAME = {
    "json": FhirFormat.JSON,
    "application/json": FhirFormat.JSON,
    "application/fhir+json": FhirFormat.JSON,
    "application/json+fhir": FhirFormat.JSON,  # DSTU2 spelling, still sent by older clients
    "xml": FhirFormat.XML,
    "text/xml": FhirFormat.XML,
    "application/xml": FhirFormat.XML,
    "application/fhir+xml": FhirFormat.XML,
    "application/xml+fhir": FhirFormat.XML,
}
_WILDCARDS = frozenset({"*/*", "application/*"})


def content_type(fmt: FhirFormat, fhir_version: FhirVersion) -> str:
    """The Content-Type of a FHIR answer, e.g. ``application/fhir+json; fhirVersion=3.0``."""
    return f"{fmt.media_type}; fhirVersion={fhir_version}"


@dataclass(frozen=True)
class _Range:
    name: str
    q: float
    params: dict[str, str] = field(default_factory=dict)


def _split(text: str, separator: str) -> list[str]:
    """Split on ``separator`` outside double quotes (RFC 9110 quoted-string)."""
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for char in text:
        if char == '"':
            quoted = not quoted
        if char == separator and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def _parse_range(text: str) -> _Range | None:
    name, *raw_params = _split(text, ";")
    name = name.strip().lower()
    if not name:
        return None
    params: dict[str, str] = {}
    q = 1.0
    for raw in raw_params:
        key, _, value = raw.partition("=")
        key = key.strip().lower()
        value = value.strip().strip('"')
        if key == "q":
            try:
                q = float(value)
            except ValueError:
                q = 0.0  # a q we cannot read is no preference for this range
        elif key:
            params[key] = value
    return _Range(name, q, params)


def _version_ok(rng: _Range, fhir_version: FhirVersion) -> bool:
    wanted = rng.params.get("fhirversion")
    return wanted is None or FhirVersion.from_number(wanted) is fhir_version


def negotiate(
    accept: str | None, format_param: str | None, fhir_version: FhirVersion
) -> FhirFormat:
    """The format to answer in; UnsupportedVersion or NotAcceptable when none will do."""
    if format_param is not None:
        rng = _parse_range(format_param)
        fmt = _BY_NAME.get(rng.name) if rng else None
        if rng is None or fmt is None:
            raise NotAcceptable(f"_format {format_param[:60]!r} is not supported: use json or xml")
        if not _version_ok(rng, fhir_version):
            raise _unsupported(fhir_version)
        return fmt
    if not accept:
        return FhirFormat.JSON
    ranges = [r for r in map(_parse_range, _split(accept, ",")) if r is not None and r.q > 0]
    ranges.sort(key=lambda r: -r.q)  # stable: equal q keeps the client's order
    refused_version = False
    for rng in ranges:
        fmt = _BY_NAME.get(rng.name) or (FhirFormat.JSON if rng.name in _WILDCARDS else None)
        if fmt is None:
            continue
        if not _version_ok(rng, fhir_version):
            refused_version = True
            continue
        return fmt
    if refused_version:
        raise _unsupported(fhir_version)
    return FhirFormat.JSON


def _unsupported(served: FhirVersion) -> UnsupportedVersion:
    # MGO's wording first (a client may match on it), then what would have worked.
    return UnsupportedVersion(
        f"Requested FHIR version not supported: this endpoint serves"
        f" fhirVersion={served.value} ({served.release})"
    )


def lenient_handling(prefer_headers: list[str]) -> bool:
    """Whether the client asked ``Prefer: handling=lenient`` (FHIR R4 search §3.1.1.0.5).

    Without it a search with a parameter this server does not support is refused (400
    "not-supported"), so that a client never takes an unfiltered answer for a filtered
    one; with it such parameters are ignored and left out of the self link.
    """
    for header in prefer_headers:
        for preference in header.split(","):
            for token in preference.split(";"):
                name, _, value = token.strip().partition("=")
                if name.strip().lower() == "handling" and value.strip().strip('"') == "lenient":
                    return True
    return False
