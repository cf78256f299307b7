"""Finding the TestScript files under a folder.

Fixtures and other XML may lie beside the scripts, so a file counts as a script by its
root element, ``TestScript``; a file whose root is another element is skipped quietly.
A file whose root element cannot be read at all (empty, not XML, cut off in its first
tag, unreadable) may well be a broken script, so it is kept, as is a script that is not
well-formed further on: reading it then raises a ScriptError that says what is wrong,
and the run reports that file as an error instead of leaving it out unnoticed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from lxml import etree

from medmij_stack.testscript.fhirxml import FHIR_NS, parse_xml
from medmij_stack.testscript.model import Role
from medmij_stack.testscript.parsing import declared_role, read_properties, role_of

__all__ = ["discover"]

_TESTSCRIPT = f"{{{FHIR_NS}}}TestScript"
_CHUNK = 64 * 1024
_SKIPPED_FOLDERS = ("_reference", "_LoadResources")


def _root_is_testscript(parser: etree.XMLPullParser) -> bool | None:
    for _event, element in parser.read_events():
        if isinstance(element, etree._Element):
            return bool(element.tag == _TESTSCRIPT)
    return None


def _is_testscript(path: Path) -> bool | None:
    """Whether the root element is TestScript; None when no root element can be read.

    Reads only up to the root's start tag, so large fixtures cost little.
    """
    parser = etree.XMLPullParser(
        events=("start",), resolve_entities=False, no_network=True, load_dtd=False
    )
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                try:
                    parser.feed(chunk)
                except etree.XMLSyntaxError:
                    break  # a root start tag read before the error is still in the events
                found = _root_is_testscript(parser)
                if found is not None:
                    return found
    except OSError:
        return None
    return _root_is_testscript(parser)


def _role(path: Path) -> Role | None:
    """The side a script tests; None when only its content could tell and it cannot be read."""
    properties = read_properties(path.parent)
    declared = declared_role(path.resolve(), properties)
    if declared is not None:
        return declared
    try:
        root = parse_xml(path.read_bytes())
    except (OSError, ValueError):
        return None
    return role_of(path.resolve(), properties, root)


def discover(root: Path, role: Role | None = None) -> Iterator[Path]:
    """TestScript files under ``root`` (a file or folder), sorted, optionally of one role.

    Skips ``_reference`` (fixtures, rules) and ``_LoadResources`` (the loaders that fill
    Nictiz's own reference server). A broken script whose role cannot be told is returned
    for either role, so that both ``qualify`` and ``qualify-client`` report it.
    """
    if root.is_file():
        candidates = [root]
    else:
        candidates = sorted(
            path
            for path in root.rglob("*.xml")
            if not any(part.startswith(_SKIPPED_FOLDERS) for part in path.relative_to(root).parts)
        )
    for path in candidates:
        if _is_testscript(path) is False:
            continue
        if role is None:
            yield path
            continue
        found = _role(path)
        if found is None or found is role:
            yield path
