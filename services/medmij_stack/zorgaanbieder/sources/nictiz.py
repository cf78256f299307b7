"""The Nictiz qualification fixtures as datasets of a qualification zorgaanbieder.

A zorgaanbieder under qualification must hold the Nictiz test patients
(docs/qualification.md#fixtures): the BgZ-3-0 fixtures (FHIR STU3, gegevensdienst 48) and
the Immunization-2-0 fixtures (FHIR R4, gegevensdienst 63), each as the Cert set plus the
Test set, read from a checkout of Nictiz/Nictiz-testscripts (or a copy in its layout) given
at run time:

    <root>/output/STU3/BgZ-3-0/MedMij/{Cert,Test}/_reference/resources/*.xml
    <root>/output/R4/Immunization-2-0/MedMij/{Cert,Test}/_reference/resources/*.xml
    <root>/Configuration/QualificationTokens.json

Each fixture is XML; its id is read from the resource, never from the file name
(docs/qualification.md#fixtures), its Touchstone date placeholders are replaced before
parsing (docs/qualification.md#date-placeholders, see `touchstone`), and it is parsed with
fhir.resources (STU3 for BgZ, R4B — element-for-element R4 for these resources,
docs/qualification.md#fhir-versions — for Immunization) and kept as FHIR JSON, extensions on
primitives (``_birthDate``) included, narrative as written. A resource that occurs in both
Cert and Test is kept once when the copies are identical, and refused when not. The fixed
bearer tokens of ``QualificationTokens.json`` are bound to the patients of the dataset whose
``qualificationScript`` names it ("MedMij BGZ", "MedMij BgZ Test", "MedMij Immunisatie"); a
token's BSN, when the file gives one, stays internal.

Errors::

    NictizError               the material cannot be served
     ├── NictizLayoutError    the path is not a Nictiz-testscripts layout; names what is missing
     └── NictizFixtureError   a fixture or the token file is not what qualification needs
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from lxml import etree
from pydantic import ValidationError

from medmij_stack.protocol.fhir import FhirVersion
from medmij_stack.zorgaanbieder.dataset import (
    Dataset,
    EndpointKey,
    PatientRecord,
    QualificationToken,
)

from .touchstone import UnknownPlaceholderError, substitute_dates

__all__ = [
    "ENVIRONMENT_VARIABLE",
    "NictizError",
    "NictizFixtureError",
    "NictizLayoutError",
    "find_nictiz",
    "load_nictiz",
    "missing_parts",
]

ENVIRONMENT_VARIABLE = "MEDMIJ_NICTIZ"
TOKENS_FILE = "Configuration/QualificationTokens.json"
_PARTS = ("Cert", "Test")
_RESOURCES = "_reference/resources"
_FHIR_NS = "http://hl7.org/fhir"
_XHTML_NS = "http://www.w3.org/1999/xhtml"


class NictizError(Exception):
    """The Nictiz qualification material cannot be served."""


class NictizLayoutError(NictizError):
    """The path is not a Nictiz-testscripts checkout: `missing` names what is absent."""

    def __init__(self, root: Path, missing: Sequence[str]) -> None:
        hint = ""
        if root.name == "output" and (root.parent / TOKENS_FILE).is_file():
            hint = f" (give the repository root {root.parent}, not its output folder)"
        super().__init__(
            f"{root} is not a Nictiz-testscripts layout{hint}; missing: {', '.join(missing)}"
        )
        self.root = root
        self.missing = tuple(missing)


class NictizFixtureError(NictizError):
    """A fixture or the token file cannot be read the way qualification needs it."""


@dataclass(frozen=True)
class _Standard:
    """One information standard of the qualification material and the dataset it fills."""

    name: str
    gegevensdienst: str
    fhir_version: FhirVersion
    folder: str
    scripts: frozenset[str]  # qualificationScript values, lower case


_STANDARDS = (
    _Standard(
        "BgZ-3-0",
        "48",
        FhirVersion.STU3,
        "output/STU3/BgZ-3-0/MedMij",
        frozenset({"medmij bgz", "medmij bgz test"}),
    ),
    _Standard(
        "Immunization-2-0",
        "63",
        FhirVersion.R4,
        "output/R4/Immunization-2-0/MedMij",
        frozenset({"medmij immunisatie"}),
    ),
)


def missing_parts(root: Path) -> list[str]:
    """The folders and files of the layout that `root` lacks (empty when it is complete)."""
    wanted = [f"{s.folder}/{part}/{_RESOURCES}" for s in _STANDARDS for part in _PARTS]
    missing = [relative for relative in wanted if not (root / relative).is_dir()]
    if not (root / TOKENS_FILE).is_file():
        missing.append(TOKENS_FILE)
    return missing


def find_nictiz(explicit: Path | None) -> Path | None:
    """Where the Nictiz material is: `explicit`, else $MEDMIJ_NICTIZ, else None.

    Never guesses another location. A path that is given (explicitly or in the
    environment) but lacks the layout raises NictizLayoutError rather than being
    skipped, so that a typo is reported instead of silently running without it.
    """
    if explicit is not None:
        candidate = explicit
    else:
        configured = os.environ.get(ENVIRONMENT_VARIABLE, "").strip()
        if not configured:
            return None
        candidate = Path(configured)
    candidate = candidate.expanduser()
    missing = missing_parts(candidate)
    if missing:
        raise NictizLayoutError(candidate, missing)
    return candidate


def load_nictiz(
    root: Path, zorgaanbieder: str, *, today: date | None = None
) -> tuple[Dataset, ...]:
    """The qualification datasets of `zorgaanbieder`: BgZ (48, STU3) and Vaccinaties (63, R4).

    `today` is the day the date placeholders count from (default: the current date).
    """
    missing = missing_parts(root)
    if missing:
        raise NictizLayoutError(root, missing)
    load_day = today if today is not None else date.today()
    tokens = _read_tokens(root / TOKENS_FILE)
    reference = _source_reference(root)
    return tuple(
        _dataset(root, standard, zorgaanbieder, load_day, tokens, reference)
        for standard in _STANDARDS
    )


# --- one dataset ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _TokenEntry:
    token: str
    patient_id: str
    script: str  # lower case
    bsn: str | None


def _dataset(
    root: Path,
    standard: _Standard,
    zorgaanbieder: str,
    today: date,
    tokens: Sequence[_TokenEntry],
    reference: str,
) -> Dataset:
    resources = _collect(root / standard.folder, standard.fhir_version, today)
    patient_ids = [r["id"] for r in resources if r["resourceType"] == "Patient"]
    own = [t for t in tokens if t.script in standard.scripts and t.patient_id in patient_ids]
    bsn_of = {t.patient_id: t.bsn for t in own if t.bsn is not None}
    patients = tuple(PatientRecord(pid, bsn_of.get(pid)) for pid in patient_ids)
    bound = tuple(QualificationToken(t.token, t.patient_id) for t in own)
    return Dataset(
        endpoint=EndpointKey(zorgaanbieder, standard.gegevensdienst),
        fhir_version=standard.fhir_version,
        resources=tuple(resources),
        patients=patients,
        source=f"nictiz:{reference}#{standard.name}",
        version=_digest(resources, patients, bound),
        tokens=bound,
        xml_at_load=True,  # the scripts' xml variants ask for all of it
    )


def _collect(folder: Path, fhir_version: FhirVersion, today: date) -> list[dict[str, Any]]:
    """Every fixture of Cert then Test, in file-name order, duplicates merged."""
    by_key: dict[tuple[str, str], tuple[Path, dict[str, Any]]] = {}
    ordered: list[dict[str, Any]] = []
    for part in _PARTS:
        for path in sorted((folder / part / _RESOURCES).glob("*.xml")):
            resource = _read_fixture(path, fhir_version, today)
            key = (resource["resourceType"], resource["id"])
            earlier = by_key.get(key)
            if earlier is None:
                by_key[key] = (path, resource)
                ordered.append(resource)
            elif earlier[1] != resource:
                kept = _richer(earlier[1], resource)
                if kept is None:
                    raise NictizFixtureError(
                        f"{key[0]}/{key[1]} differs between {earlier[0]} and {path}; "
                        "one id must mean one resource"
                    )
                by_key[key] = (path, kept)
                ordered[ordered.index(earlier[1])] = kept
    return ordered


def _richer(first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any] | None:
    """The copy that holds all of the other one, or None when each has its own content.

    The Immunization Cert and Test sets both carry GGD 06 (Location and Organization
    ``…-10000006``); the Cert copy adds name, type, telecom and address to the Test copy.
    The Cert scripts assert on those additions and the Test scripts only on what both
    hold, so serving the fuller copy passes both; narrative is not compared.
    """
    if _holds(first, second):
        return first
    if _holds(second, first):
        return second
    return None


def _holds(big: Any, small: Any) -> bool:
    if isinstance(big, dict) and isinstance(small, dict):
        return all(
            key == "text" or (key in big and _holds(big[key], value))
            for key, value in small.items()
        )
    if isinstance(big, list) and isinstance(small, list):
        # every element of `small`, in order, within its own element of `big`
        rest = iter(big)
        return all(any(_holds(candidate, item) for candidate in rest) for item in small)
    return bool(big == small)


# --- one fixture ---------------------------------------------------------------------------


def _parser() -> etree.XMLParser:
    # The path comes from the operator, but a fixture is still data: no DTDs, no
    # entities, no network.
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def _model_class(fhir_version: FhirVersion, resource_type: str) -> Any:
    return importlib.import_module(fhir_version.models_package).get_fhir_model_class(resource_type)


def _read_fixture(path: Path, fhir_version: FhirVersion, today: date) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise NictizFixtureError(f"{path}: cannot be read as UTF-8 text ({exc})") from exc
    try:
        data = substitute_dates(text, today).encode("utf-8")
    except UnknownPlaceholderError as exc:
        raise NictizFixtureError(f"{path}: {exc}") from exc
    if b"<!DOCTYPE" in data.upper():
        raise NictizFixtureError(f"{path}: a DOCTYPE is not allowed in a FHIR resource")
    try:
        document = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        raise NictizFixtureError(f"{path}: not well-formed XML ({exc})") from exc
    name = etree.QName(document)
    if name.namespace != _FHIR_NS:
        raise NictizFixtureError(f"{path}: root element {name.text} is not a FHIR resource")
    try:
        model_class = _model_class(fhir_version, name.localname)
    except (KeyError, ValueError, LookupError) as exc:
        raise NictizFixtureError(
            f"{path}: {name.localname} is not a {fhir_version.release} resource"
        ) from exc
    try:
        model = model_class.model_validate_xml(data, xmlparser=_parser())
    except (ValidationError, ValueError) as exc:
        raise NictizFixtureError(
            f"{path}: not a valid {fhir_version.release} {name.localname}: {exc}"
        ) from exc
    resource: dict[str, Any] = json.loads(model.model_dump_json())
    if not isinstance(resource.get("id"), str) or not resource["id"]:
        raise NictizFixtureError(f"{path}: the {name.localname} has no id")
    _keep_narrative(document, resource)
    return resource


def _written_div(resource_element: Any) -> str | None:
    div = resource_element.find(f"{{{_FHIR_NS}}}text/{{{_XHTML_NS}}}div")
    if div is None:
        return None
    return str(etree.tostring(div, encoding="unicode", with_tail=False))


def _keep_narrative(document: Any, resource: dict[str, Any]) -> None:
    """Put the narrative back as written: the model re-serialises it with character
    references (``Priv&#233;``) and trailing whitespace, which is equal XHTML but not
    the fixture's text."""
    pairs: list[tuple[Any, dict[str, Any]]] = [(document, resource)]
    contained_elements = [
        child
        for wrapper in document.iterfind(f"{{{_FHIR_NS}}}contained")
        for child in wrapper
        if isinstance(child.tag, str)
    ]
    pairs.extend(zip(contained_elements, resource.get("contained", []), strict=False))
    for element, part in pairs:
        written = _written_div(element)
        text = part.get("text")
        if written is not None and isinstance(text, dict) and "div" in text:
            text["div"] = written


# --- tokens, provenance, digest ------------------------------------------------------------

_BSN = re.compile(r"[0-9]{9}")


def _read_tokens(path: Path) -> list[_TokenEntry]:
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise NictizFixtureError(f"{path}: not readable JSON ({exc})") from exc
    if not isinstance(entries, list):
        raise NictizFixtureError(f"{path}: expected a JSON array of token entries")
    result: list[_TokenEntry] = []
    owner: dict[str, str] = {}
    for index, entry in enumerate(entries):
        where = f"{path} entry {index}"
        if not isinstance(entry, dict):
            raise NictizFixtureError(f"{where}: not a JSON object")
        fields = {k: entry.get(k) for k in ("accessToken", "resourceId", "qualificationScript")}
        absent = [k for k, v in fields.items() if not isinstance(v, str) or not v.strip()]
        if absent:
            raise NictizFixtureError(f"{where}: missing {', '.join(absent)}")
        token = str(fields["accessToken"]).strip().removeprefix("Bearer ").strip()
        if not token or any(c.isspace() for c in token):
            raise NictizFixtureError(f"{where}: accessToken is not a bearer token")
        patient_id = str(fields["resourceId"])
        if owner.setdefault(token, patient_id) != patient_id:
            raise NictizFixtureError(f"{where}: token is bound to two patients")
        bsn = entry.get("bsn")
        result.append(
            _TokenEntry(
                token=token,
                patient_id=patient_id,
                script=str(fields["qualificationScript"]).strip().lower(),
                bsn=bsn if isinstance(bsn, str) and _BSN.fullmatch(bsn) else None,
            )
        )
    return result


def _source_reference(root: Path) -> str:
    """The commit of a git checkout, else the absolute path."""
    head = _git_head(root / ".git")
    return head if head is not None else str(root.resolve())


def _git_head(git: Path) -> str | None:
    try:
        if git.is_file():  # a worktree: "gitdir: <path>"
            pointer = git.read_text(encoding="utf-8").strip().removeprefix("gitdir:").strip()
            git = (git.parent / pointer).resolve()
        head = (git / "HEAD").read_text(encoding="utf-8").strip()
        if not head.startswith("ref:"):
            return head if re.fullmatch(r"[0-9a-f]{40}", head) else None
        ref = head.removeprefix("ref:").strip()
        loose = git / ref
        if loose.is_file():
            return loose.read_text(encoding="utf-8").strip()
        packed = git / "packed-refs"
        for line in packed.read_text(encoding="utf-8").splitlines() if packed.is_file() else ():
            sha, _, name = line.partition(" ")
            if name == ref:
                return sha
    except OSError:
        return None
    return None


def _digest(
    resources: Iterable[dict[str, Any]],
    patients: Iterable[PatientRecord],
    tokens: Iterable[QualificationToken],
) -> str:
    content = {
        "resources": list(resources),
        "patients": [[p.patient_id, p.bsn] for p in patients],
        "tokens": [[t.token, t.patient_id] for t in tokens],
    }
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
