"""Reading a resource server's answer as FHIR JSON of the gegevensdienst's release.

The PGO stores nothing it could not read as the FHIR release the gegevensdienst is
published in: STU3 3.0.2 for BgZ (48), R4 4.0.1 for Vaccinaties (63). fhir.resources has
both: ``fhir.resources.STU3``, and ``fhir.resources.R4B``, whose models are
element-for-element those of R4 for every resource these services use (the resource
server and the TestScript engine validate with the same two packages). The models forbid
unknown elements, so an R4 resource in an STU3 answer, or the other way round, fails too.

Readings taken:

* JSON is read strictly: one UTF-8 JSON object, no ``NaN``/``Infinity`` (JSON has no such
  numbers) and no member twice in one object (FHIR JSON never repeats a name, and a
  second copy would hide the first from whoever reads it next).
* A searchset's entries are judged by their ``search.mode``: ``match`` entries must be
  of the searched type, ``include`` entries of a type the query's ``_include``s can
  reach, ``outcome`` entries OperationOutcomes. An entry without a mode is read as
  ``match`` or ``include``, whichever its type allows. OperationOutcome entries are
  validated but are not health data, so they are not returned.
* Error messages name where the problem is and what rule it broke, never the value:
  they end up in logs and on screens, and the value may be a person's data.
* Validity depends on nothing but the bytes and the release, so :class:`ValidBodies`
  remembers the digests of bodies already read as valid: the same answer again (a person
  fetching again gets the same bytes) is parsed with the plain parser and its models are
  not built a second time. Every check that depends on the request (types, search modes,
  the id read) still runs on every answer, and a body never read as valid is read in full.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import threading
from collections import OrderedDict
from collections.abc import Collection, Sequence
from functools import cache
from typing import Any, Literal

from pydantic import ValidationError

__all__ = [
    "FhirContentError",
    "FhirRelease",
    "ValidBodies",
    "outcome_text",
    "parse_json",
    "parse_valid",
    "read_resource",
    "read_searchset",
]

FhirRelease = Literal["STU3", "R4"]

_MODULES: dict[FhirRelease, str] = {"STU3": "fhir.resources.STU3", "R4": "fhir.resources.R4B"}
_SHOWN_ERRORS = 3
_OUTCOME = "OperationOutcome"


class FhirContentError(ValueError):
    """An answer that is not what the request asked for; the message says why."""


def _no_constant(name: str) -> Any:
    raise FhirContentError(f"not valid JSON: {name} is not a JSON number")


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, value in pairs:
        if name in result:
            raise FhirContentError(f"not valid FHIR JSON: member {name!r} appears twice")
        result[name] = value
    return result


def parse_json(body: bytes) -> dict[str, Any]:
    """The JSON object in ``body``; FhirContentError when it is none."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FhirContentError(f"not UTF-8 text (byte {exc.start})") from None
    if not text.strip():
        raise FhirContentError("empty answer")
    try:
        data = json.loads(text, parse_constant=_no_constant, object_pairs_hook=_unique_members)
    except json.JSONDecodeError as exc:
        raise FhirContentError(
            f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except RecursionError:
        raise FhirContentError("not valid JSON: nested too deeply") from None
    if not isinstance(data, dict):
        raise FhirContentError(f"not a FHIR resource: the JSON is a {type(data).__name__}")
    return data


class ValidBodies:
    """Digests of answer bodies read as valid FHIR JSON of a release, the newest ``size``.

    A hit means: these exact bytes parsed strictly to one JSON object and passed the
    release's models before. Only successes are kept, so an invalid body is always read
    (and refused) in full. Thread-safe: large answers are read in worker threads.
    """

    def __init__(self, size: int = 4096) -> None:
        self._size = size
        self._seen: OrderedDict[tuple[bytes, FhirRelease], None] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def key(body: bytes, release: FhirRelease) -> tuple[bytes, FhirRelease]:
        return hashlib.sha256(body).digest(), release

    def known(self, key: tuple[bytes, FhirRelease]) -> bool:
        with self._lock:
            if key not in self._seen:
                return False
            self._seen.move_to_end(key)
            return True

    def add(self, key: tuple[bytes, FhirRelease]) -> None:
        with self._lock:
            self._seen[key] = None
            self._seen.move_to_end(key)
            while len(self._seen) > self._size:
                self._seen.popitem(last=False)


def parse_valid(body: bytes) -> dict[str, Any]:
    """The JSON object of a body :class:`ValidBodies` knows: it parsed strictly before,
    so the plain parser (no per-object checks) gives the same object."""
    data = json.loads(body.decode("utf-8"))
    assert isinstance(data, dict)
    return data


@cache
def _model(release: FhirRelease, resource_type: str) -> Any | None:
    """The model class of a resource type of ``release``; None for anything else."""
    if not resource_type[:1].isupper():
        return None
    module = importlib.import_module(_MODULES[release])
    try:
        model = module.get_fhir_model_class(resource_type)
        resource = module.get_fhir_model_class("Resource")
    except (KeyError, ValueError, AttributeError, ImportError):
        return None
    # Datatypes (Coding, HumanName) have model classes too, but are no resources.
    return model if isinstance(model, type) and issubclass(model, resource) else None


def _where(root: str, loc: Sequence[int | str]) -> str:
    text = root
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part.endswith("__ext"):
            text += f"._{part[:-5]}"
        else:
            text += f".{part}"
    return text


def _summary(root: str, exc: ValidationError) -> str:
    # msg, not str(exc): pydantic's full text repeats the offending input value.
    errors = exc.errors(include_url=False, include_input=False)
    shown = [f"{_where(root, error['loc'])}: {error['msg']}" for error in errors[:_SHOWN_ERRORS]]
    more = len(errors) - len(shown)
    return "; ".join(shown) + (f" (and {more} more)" if more > 0 else "")


def _validate(data: dict[str, Any], release: FhirRelease) -> None:
    resource_type = data.get("resourceType")
    if not isinstance(resource_type, str) or not resource_type:
        raise FhirContentError("the answer has no resourceType")
    model = _model(release, resource_type)
    if model is None:
        raise FhirContentError(f"{resource_type!r} is not a FHIR {release} resource type")
    try:
        model.model_validate(data)
    except ValidationError as exc:
        raise FhirContentError(
            f"not valid FHIR {release}: {_summary(resource_type, exc)}"
        ) from None
    except (ValueError, TypeError, KeyError) as exc:
        # fhir.resources raises plain errors for some shapes, e.g. an entry whose
        # resourceType names no resource of the release.
        raise FhirContentError(
            f"not valid FHIR {release}: {resource_type} ({type(exc).__name__})"
        ) from None


def read_resource(
    data: dict[str, Any],
    release: FhirRelease,
    resource_type: str,
    resource_id: str,
    *,
    valid: bool = False,
) -> dict[str, Any]:
    """``data`` as the answer to a read of ``resource_type/resource_id``; validated unless
    ``valid`` (its body is known valid FHIR of ``release``: :class:`ValidBodies`)."""
    found = data.get("resourceType")
    if found != resource_type:
        raise FhirContentError(f"the answer is a {found or 'JSON object'}, not a {resource_type}")
    if data.get("id") != resource_id:
        raise FhirContentError(f"the {resource_type} answered has another id than the one read")
    if not valid:
        _validate(data, release)
    return data


def outcome_text(data: dict[str, Any]) -> str:
    """The issues of an OperationOutcome as one line: diagnostics, else details, else code."""
    issues = data.get("issue")
    texts = []
    for issue in issues if isinstance(issues, list) else []:
        if not isinstance(issue, dict):
            continue
        details = issue.get("details")
        text = issue.get("diagnostics") or (
            details.get("text") if isinstance(details, dict) else None
        )
        texts.append(str(text or issue.get("code") or "unspecified"))
    return "; ".join(texts) or "no issues"


def read_searchset(
    data: dict[str, Any],
    release: FhirRelease,
    *,
    matches: str,
    includes: Collection[str] = (),
    valid: bool = False,
) -> tuple[list[dict[str, Any]], str | None]:
    """The resources of a searchset Bundle, validated, and its ``next`` link (or None).

    ``matches`` is the searched resource type, ``includes`` the types its ``_include``s
    reach. Raises FhirContentError for anything else than a valid searchset of
    ``release`` holding those types. ``valid``: the body is known valid FHIR of
    ``release`` (:class:`ValidBodies`), so the models are not built again; the checks
    against the search still run.
    """
    kind = data.get("resourceType")
    if kind == _OUTCOME:
        raise FhirContentError(f"the answer is an OperationOutcome: {outcome_text(data)}")
    if kind != "Bundle":
        raise FhirContentError(f"the answer is a {kind or 'JSON object'}, not a Bundle")
    if data.get("type") != "searchset":
        raise FhirContentError(f"the Bundle is of type {data.get('type')!r}, not 'searchset'")
    if not valid:
        _known_entry_types(data, release)
        _validate(data, release)
    resources: list[dict[str, Any]] = []
    for index, entry in enumerate(data.get("entry") or []):
        resource = entry.get("resource")
        if resource is None:
            raise FhirContentError(f"Bundle.entry[{index}] has no resource")
        resource_type = resource["resourceType"]
        search = entry.get("search")
        mode = search.get("mode") if isinstance(search, dict) else None
        if mode == "outcome" or (mode is None and resource_type == _OUTCOME):
            if resource_type != _OUTCOME:
                raise FhirContentError(
                    f"Bundle.entry[{index}] is an outcome entry, but a {resource_type}"
                )
            continue
        allowed = {
            "match": {matches},
            "include": {matches, *includes},
            None: {matches, *includes},
        }.get(mode)
        if allowed is None:
            raise FhirContentError(f"Bundle.entry[{index}] has search mode {mode!r}")
        if resource_type not in allowed:
            shown = "match" if mode == "match" else "match or include"
            raise FhirContentError(
                f"Bundle.entry[{index}] is a {resource_type}, which this search cannot "
                f"{shown} (expected {', '.join(sorted(allowed))})"
            )
        resources.append(resource)
    return resources, _next_link(data)


def _known_entry_types(data: dict[str, Any], release: FhirRelease) -> None:
    # fhir.resources answers an unknown entry type with a bare KeyError; say it plainly.
    entries = data.get("entry")
    for index, entry in enumerate(entries if isinstance(entries, list) else []):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        kind = resource.get("resourceType") if isinstance(resource, dict) else None
        if isinstance(kind, str) and _model(release, kind) is None:
            raise FhirContentError(
                f"Bundle.entry[{index}].resource: {kind!r} is not a FHIR {release} resource type"
            )


def _next_link(data: dict[str, Any]) -> str | None:
    for link in data.get("link") or []:
        if link.get("relation") == "next":
            url = link.get("url")
            return str(url) if url else None
    return None
