"""Every uniqueness rule of the list schemas is still enforced, now that lists are
validated while they are parsed (medmij_stack.protocol.lists.schemas, `_Validator`).

The rules are read from the schemas themselves (each ``xs:unique``), so a rule added to
a schema is tested here without a new test. How long a list with many duplicates takes
is measured by benchmarks/list_validation.py, not here.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import pytest
from lxml import etree

from medmij_stack.protocol.lists import (
    WHITELIST_NAMESPACE,
    ListKind,
    ListValidationError,
    parse_list,
    parse_whitelist,
    write_gnl,
    write_ocl,
    write_whitelist,
    write_zal,
)
from medmij_stack.protocol.lists.hardened import source_line
from medmij_stack.protocol.lists.schemas import SCHEMA_FILES, XSD_NAMESPACE, schema_document

from . import samples

XS = f"{{{XSD_NAMESPACE}}}"


def _sample(kind: ListKind, release: int | None) -> bytes:
    if kind is ListKind.ZAL:
        if release == 2:
            return write_zal(samples.zal_release2_compatible(), release=2)
        return write_zal(samples.zal())
    if kind is ListKind.OCL:
        return write_ocl(samples.ocl(with_gegevensdiensten=True))
    if kind is ListKind.GNL:
        return write_gnl(samples.gnl())
    return write_whitelist(samples.whitelist())


@dataclass(frozen=True)
class Rule:
    kind: ListKind
    release: int | None
    name: str
    scope: str  # the element the rule holds within
    entry: str  # its child that must not repeat the key
    key: str  # the key, a child of the entry

    def __str__(self) -> str:
        release = f" release{self.release}" if self.release else ""
        return f"{self.kind.name}{release} {self.name}"


def _local(step: str) -> str:
    return step.split(":")[-1]


def unique_rules() -> list[Rule]:
    rules = []
    for (kind, release), _ in SCHEMA_FILES.items():
        schema = schema_document(kind, zal_release=release or 3).getroot()
        for unique in schema.iter(f"{XS}unique"):
            selector = unique.find(f"{XS}selector")
            assert selector is not None
            entry, key = map(_local, selector.get("xpath", "").split("/"))
            scope = unique.getparent()
            assert scope is not None
            rules.append(
                Rule(kind, release, unique.get("name", ""), scope.get("name", ""), entry, key)
            )
    return rules


RULES = unique_rules()


def test_the_schemas_have_the_uniqueness_rules_of_the_specification() -> None:
    names = {(rule.kind, rule.name) for rule in RULES}
    assert (ListKind.ZAL, "ZorgaanbiedernaamIsUniek") in names
    assert (ListKind.OCL, "HostnameIsUniek") in names
    assert (ListKind.GNL, "GegevensdienstIdIsUniek") in names
    assert (ListKind.WHITELIST, "HostnameIsUniek") in names
    assert len(RULES) >= 11


def _with_duplicate(document: bytes, rule: Rule) -> bytes:
    """The document with a copy of the first entry of the rule's scope right after it."""
    root = etree.fromstring(document)
    scopes = [
        scope
        for scope in root.iter(f"{{*}}{rule.scope}")
        if scope.find(f"{{*}}{rule.entry}/{{*}}{rule.key}") is not None
    ]
    assert scopes, f"the sample has no <{rule.scope}> with a <{rule.entry}>"
    entry = scopes[0].find(f"{{*}}{rule.entry}")
    assert entry is not None
    entry.addnext(copy.deepcopy(entry))
    etree.indent(root)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


@pytest.mark.parametrize("rule", RULES, ids=str)
def test_a_repeated_key_is_refused_naming_the_rule_and_the_line(rule: Rule) -> None:
    document = _with_duplicate(_sample(rule.kind, rule.release), rule)
    with pytest.raises(ListValidationError) as caught:
        parse_list(rule.kind, document)
    error = caught.value
    assert error.kind is rule.kind
    assert "Duplicate key-sequence" in error.problem
    assert f"}}{rule.name}'" in error.problem
    assert "and " not in error.problem  # one problem only
    # The line of the repeated key: the second of the two identical keys.
    lines = [
        source_line(element)
        for element in etree.fromstring(document).iter(f"{{*}}{rule.key}")
        if element.getparent() is not None
        and etree.QName(element.getparent()).localname == rule.entry
    ]
    assert error.line in lines[1:]


@pytest.mark.parametrize("rule", RULES, ids=str)
def test_the_unchanged_sample_is_accepted(rule: Rule) -> None:
    parse_list(rule.kind, _sample(rule.kind, rule.release))


def test_thousands_of_duplicates_are_refused_with_a_summary() -> None:
    hostnames = "".join(
        "<MedMijNode><Hostname>node.example.nl</Hostname></MedMijNode>\n" for _ in range(5000)
    )
    document = (
        f'<Whitelist xmlns="{WHITELIST_NAMESPACE}">\n'
        "<Tijdstempel>2026-03-01T09:30:00Z</Tijdstempel><Volgnummer>1</Volgnummer>\n"
        f"<MedMijNodes>\n{hostnames}</MedMijNodes></Whitelist>"
    ).encode()
    with pytest.raises(ListValidationError) as caught:
        parse_whitelist(document)
    problem = caught.value.problem
    assert problem.count("Duplicate key-sequence ['node.example.nl']") == 3
    assert problem.endswith("; and 4996 more")  # 4,999 copies after the first


def test_the_old_whitelist_shape_keeps_its_own_uniqueness_rule() -> None:
    # That shape's hostnames are text, beyond the schema's xs:unique: the reader checks them.
    nodes = "".join(f"<MedMijNode>node{i}.example.nl</MedMijNode>\n" for i in range(3000))
    head = (
        f'<Whitelist xmlns="{WHITELIST_NAMESPACE}">\n'
        "<Tijdstempel>2026-03-01T09:30:00Z</Tijdstempel><Volgnummer>1</Volgnummer>\n"
    )
    accepted = parse_whitelist(f"{head}<MedMijNodes>\n{nodes}</MedMijNodes></Whitelist>".encode())
    assert len(accepted.hostnames) == 3000
    repeated = nodes + "<MedMijNode>node7.example.nl</MedMijNode>\n"
    with pytest.raises(ListValidationError) as caught:
        parse_whitelist(f"{head}<MedMijNodes>\n{repeated}</MedMijNodes></Whitelist>".encode())
    assert "host name 'node7.example.nl' is listed twice" in caught.value.problem
    assert caught.value.line == 3 + 3000 + 1
