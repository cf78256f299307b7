"""Small edits of a list document, for checking which documents a schema accepts.

Each mutation changes a parsed copy of a document in place; elements are found by
local name in document order, so one mutation applies to every release of a list
that has the same elements.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

from lxml import etree

Mutation = Callable[[etree._Element], None]


def _nth(root: etree._Element, name: str, index: int) -> etree._Element:
    found = list(root.iter(f"{{*}}{name}"))
    assert len(found) > index, f"document has no <{name}> number {index}"
    return found[index]


def apply(document: bytes, mutation: Mutation) -> bytes:
    root = etree.fromstring(document)
    changed = copy.deepcopy(root)
    mutation(changed)
    return etree.tostring(changed, xml_declaration=True, encoding="UTF-8")


def unchanged() -> Mutation:
    return lambda root: None


def set_text(name: str, value: str, index: int = 0) -> Mutation:
    def mutate(root: etree._Element) -> None:
        _nth(root, name, index).text = value

    return mutate


def copy_text(name: str, source: int, target: int) -> Mutation:
    def mutate(root: etree._Element) -> None:
        _nth(root, name, target).text = _nth(root, name, source).text

    return mutate


def remove(name: str, index: int = 0) -> Mutation:
    def mutate(root: etree._Element) -> None:
        element = _nth(root, name, index)
        parent = element.getparent()
        assert parent is not None
        parent.remove(element)

    return mutate


def remove_all(name: str) -> Mutation:
    def mutate(root: etree._Element) -> None:
        for element in list(root.iter(f"{{*}}{name}")):
            parent = element.getparent()
            assert parent is not None
            parent.remove(element)

    return mutate


def empty(name: str, index: int = 0) -> Mutation:
    """Remove every child of an element (and its text)."""

    def mutate(root: etree._Element) -> None:
        element = _nth(root, name, index)
        for child in list(element):
            element.remove(child)
        element.text = None

    return mutate


def add_after(name: str, new: str, text: str | None = None, index: int = 0) -> Mutation:
    """Add a sibling element in the document's namespace right after an element."""

    def mutate(root: etree._Element) -> None:
        anchor = _nth(root, name, index)
        namespace = etree.QName(anchor).namespace
        element = etree.Element(f"{{{namespace}}}{new}")
        element.text = text
        anchor.addnext(element)

    return mutate


def duplicate(name: str, index: int = 0) -> Mutation:
    """Repeat an element (with its content) right after itself."""

    def mutate(root: etree._Element) -> None:
        element = _nth(root, name, index)
        element.addnext(copy.deepcopy(element))

    return mutate


def swap_with_next(name: str, index: int = 0) -> Mutation:
    def mutate(root: etree._Element) -> None:
        element = _nth(root, name, index)
        following = element.getnext()
        assert following is not None
        following.addnext(element)

    return mutate


def set_attribute(name: str, attribute: str, value: str, index: int = 0) -> Mutation:
    def mutate(root: etree._Element) -> None:
        _nth(root, name, index).set(attribute, value)

    return mutate


def split_text_with_comment(name: str, index: int = 0) -> Mutation:
    """Put a comment in the middle of an element's text (its value stays the same)."""

    def mutate(root: etree._Element) -> None:
        element = _nth(root, name, index)
        text = element.text or ""
        half = len(text) // 2
        element.text = text[:half]
        comment = etree.Comment(" split ")
        comment.tail = text[half:]
        element.insert(0, comment)

    return mutate


def namespace(new: str | None) -> Mutation:
    """Move every element to another namespace (None: no namespace)."""

    def mutate(root: etree._Element) -> None:
        for element in root.iter(etree.Element):
            local = etree.QName(element).localname
            element.tag = local if new is None else f"{{{new}}}{local}"
        etree.cleanup_namespaces(root)

    return mutate


def compose(*mutations: Mutation) -> Mutation:
    def mutate(root: etree._Element) -> None:
        for mutation in mutations:
            mutation(root)

    return mutate
