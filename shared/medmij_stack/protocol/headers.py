"""MedMij-Request-ID and X-Correlation-ID: the two tracing ids of every MedMij request.

The spec (docs/protocol.md#headers):

* ``core.authint.208``: the authorization request carries both as "twee HTTP query
  parameters"; the X-Correlation-ID is a UUID unique per authorization request and ties the
  flow together.
* ``core.tknint.208``: the token request carries both as HTTP header fields; the
  X-Correlation-ID is the one of the authorization request, or a new UUID for a refresh
  (langdurige toestemming).
* ``core.rscint.201``: the resource request carries both as headers, with the
  X-Correlation-ID of the authorization request (or of the token request after a refresh).
* MedMij-Request-ID is a UUID unique per request in the MedMij network, so every request of a
  flow gets a fresh one (:meth:`Tracing.next_request`).

Readings taken:

* "UUID" is read as the RFC 4122 text form, 8-4-4-4-12 hexadecimal digits with hyphens, of
  any version: the spec does not say v4 (we send v4). Case is accepted either way and the id
  is returned lower case (RFC 4122 section 3: case-insensitive on input, lower case on
  output). Other spellings Python would accept (no hyphens, braces, ``urn:uuid:``,
  surrounding whitespace) are refused: the spec names no other form and a strict shape
  keeps log correlation exact. The nil UUID is refused because it cannot be unique.
* One copy of the Authorization interface page shows the ids as custom headers on the
  authorization request, which a browser redirect cannot carry. Servers therefore take
  them from headers or query parameters (:func:`lenient_from`), header first, and report
  rather than refuse what is missing or malformed: a tracing id must not cost the person
  their request.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = [
    "MEDMIJ_REQUEST_ID",
    "X_CORRELATION_ID",
    "HeaderError",
    "Tracing",
    "lenient_from",
    "new_id",
    "parse_id",
]

MEDMIJ_REQUEST_ID = "MedMij-Request-ID"
X_CORRELATION_ID = "X-Correlation-ID"

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
_NIL = "00000000-0000-0000-0000-000000000000"


class HeaderError(ValueError):
    """A tracing id that is missing or not a UUID; ``header`` names the field."""

    def __init__(self, header: str, message: str) -> None:
        super().__init__(message)
        self.header = header


def new_id() -> str:
    """A fresh random (version 4) UUID in lower case."""
    return str(uuid.uuid4())


def _show(value: str) -> str:
    # The value comes from the network and ends up in logs: escaped and cut short.
    return repr(value if len(value) <= 60 else value[:57] + "...")


def parse_id(value: str | None, *, name: str) -> str:
    """The canonical lower-case UUID in ``value``; HeaderError naming ``name`` otherwise."""
    if value is None:
        raise HeaderError(name, f"{name} is missing")
    if not isinstance(value, str):
        raise HeaderError(name, f"{name} must be a string, got {type(value).__name__}")
    if value == "":
        raise HeaderError(name, f"{name} is empty")
    if not _UUID.fullmatch(value):
        raise HeaderError(
            name, f"{name} is not a UUID (8-4-4-4-12 hexadecimal digits): {_show(value)}"
        )
    canonical = value.lower()
    if canonical == _NIL:
        raise HeaderError(name, f"{name} is the nil UUID, which cannot be unique")
    return canonical


def _lookup(fields: Mapping[str, str], name: str) -> str | None:
    """The value of ``name`` in ``fields``, ignoring case; None when absent."""
    # Case-insensitive mappings (Starlette, httpx) answer directly; plain dicts need the scan.
    direct = fields.get(name)
    if direct is not None:
        return direct
    wanted = name.lower()
    found = {value for key, value in fields.items() if key.lower() == wanted}
    if len(found) > 1:
        raise HeaderError(name, f"{name} is given more than once, with different values")
    return next(iter(found), None)


@dataclass(frozen=True)
class Tracing:
    """The two ids of one request: a fresh request id and the flow's correlation id."""

    request_id: str
    correlation_id: str

    def __post_init__(self) -> None:
        # Store the canonical form so equal ids compare and log equal.
        object.__setattr__(self, "request_id", parse_id(self.request_id, name=MEDMIJ_REQUEST_ID))
        object.__setattr__(
            self, "correlation_id", parse_id(self.correlation_id, name=X_CORRELATION_ID)
        )

    @classmethod
    def new(cls, correlation_id: str | None = None) -> Tracing:
        """A new request id, in the given flow or (without one) a new flow."""
        return cls(new_id(), new_id() if correlation_id is None else correlation_id)

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> Tracing:
        """Both ids from HTTP headers (token and resource requests); HeaderError when absent."""
        return cls(
            parse_id(_lookup(headers, MEDMIJ_REQUEST_ID), name=MEDMIJ_REQUEST_ID),
            parse_id(_lookup(headers, X_CORRELATION_ID), name=X_CORRELATION_ID),
        )

    @classmethod
    def from_query(cls, params: Mapping[str, str]) -> Tracing:
        """Both ids from query parameters (the authorization request, ``core.authint.208``)."""
        return cls.from_headers(params)

    def headers(self) -> dict[str, str]:
        """The two header fields of a token or resource request."""
        return {MEDMIJ_REQUEST_ID: self.request_id, X_CORRELATION_ID: self.correlation_id}

    def query_params(self) -> dict[str, str]:
        """The two query parameters of an authorization request (a redirect has no headers)."""
        return {MEDMIJ_REQUEST_ID: self.request_id, X_CORRELATION_ID: self.correlation_id}

    def next_request(self) -> Tracing:
        """The ids for the next request of the same flow: same correlation, new request id."""
        return Tracing(new_id(), self.correlation_id)


def _lenient_one(
    name: str, headers: Mapping[str, str], params: Mapping[str, str], problems: list[str]
) -> str:
    valid: list[tuple[str, str]] = []
    present = False
    for where, fields in (("header", headers), ("query parameter", params)):
        try:
            raw = _lookup(fields, name)
            if raw is not None:
                present = True
                valid.append((where, parse_id(raw, name=name)))
        except HeaderError as error:
            present = True
            problems.append(f"{where} {error}")
    if not valid:
        generated = new_id()
        why = "no valid" if present else "no"
        problems.append(f"{why} {name} in header or query; generated {generated}")
        return generated
    if len(valid) == 2 and valid[0][1] != valid[1][1]:
        problems.append(
            f"{name} differs between header ({valid[0][1]}) and query parameter "
            f"({valid[1][1]}); the header is used"
        )
    return valid[0][1]


def lenient_from(
    headers: Mapping[str, str], params: Mapping[str, str]
) -> tuple[Tracing, list[str]]:
    """Ids for a server to log under, never failing: problems come back as messages.

    Each id is taken from the header, else from the query parameter, else generated.
    """
    problems: list[str] = []
    request_id = _lenient_one(MEDMIJ_REQUEST_ID, headers, params, problems)
    correlation_id = _lenient_one(X_CORRELATION_ID, headers, params, problems)
    return Tracing(request_id, correlation_id), problems
