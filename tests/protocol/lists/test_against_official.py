"""Our schemas against MedMij's published ones: the same verdict on every document.

The corpus is the published examples, a set of mutations of them (corpus.py) and,
in test_writer.py, our writer's output. Each case carries the verdict the
published schema gives, so a case that stops testing what its name says fails.
"""

from __future__ import annotations

import pytest
from lxml import etree

from medmij_stack.protocol.lists import (
    ListKind,
    ListValidationError,
    load_schema,
    parse_list,
    parse_ocl,
)
from medmij_stack.protocol.lists.schemas import ZalRelease
from tests.protocol.lists import corpus
from tests.protocol.lists.conftest import Official
from tests.protocol.lists.mutate import Mutation, add_after, apply


def our_schema_accepts(kind: ListKind, document: bytes, *, zal_release: ZalRelease = 3) -> bool:
    return load_schema(kind, zal_release=zal_release).validate(etree.fromstring(document))


def we_accept(kind: ListKind, document: bytes) -> bool:
    try:
        parse_list(kind, document)
    except ListValidationError:
        return False
    return True


@pytest.mark.parametrize(("mutation", "valid"), [*corpus.ZAL_COMMON, *corpus.ZAL_RELEASE2_ONLY])
def test_zal_release2(
    official: Official, examples: dict[str, bytes], mutation: Mutation, valid: bool
) -> None:
    document = apply(examples["zal2"], mutation)
    assert official.accepts("zal2", document) is valid, official.errors("zal2")
    assert our_schema_accepts(ListKind.ZAL, document, zal_release=2) is valid
    assert we_accept(ListKind.ZAL, document) is valid


@pytest.mark.parametrize(("mutation", "valid"), corpus.OCL)
def test_ocl(
    official: Official, examples: dict[str, bytes], mutation: Mutation, valid: bool
) -> None:
    document = apply(examples["ocl"], mutation)
    assert official.accepts("ocl", document) is valid, official.errors("ocl")
    assert our_schema_accepts(ListKind.OCL, document) is valid
    assert we_accept(ListKind.OCL, document) is valid


@pytest.mark.parametrize(("mutation", "valid"), corpus.GNL)
def test_gnl(
    official: Official, examples: dict[str, bytes], mutation: Mutation, valid: bool
) -> None:
    document = apply(examples["gnl"], mutation)
    assert official.accepts("gnl", document) is valid, official.errors("gnl")
    assert our_schema_accepts(ListKind.GNL, document) is valid
    assert we_accept(ListKind.GNL, document) is valid


@pytest.mark.parametrize(("mutation", "valid"), corpus.WHITELIST)
def test_whitelist_current_shape(
    official: Official, examples: dict[str, bytes], mutation: Mutation, valid: bool
) -> None:
    # Our Whitelist schema is mixed to admit the old shape too, so the verdict to
    # compare is that of the whole reader (schema plus the shape rules).
    document = apply(examples["whitelist"], mutation)
    assert official.accepts("whitelist", document) is valid, official.errors("whitelist")
    assert we_accept(ListKind.WHITELIST, document) is valid


def test_ocl_extension_is_accepted_by_us_and_rejected_by_the_published_schema(
    official: Official, examples: dict[str, bytes]
) -> None:
    document = apply(examples["ocl"], add_after("OAuthclientOrganisatienaam", "Gegevensdiensten"))
    assert not official.accepts("ocl", document)
    assert our_schema_accepts(ListKind.OCL, document)
    clients = parse_ocl(document)
    assert clients.clients[0].gegevensdiensten == frozenset()
    assert clients.clients[1].gegevensdiensten is None


def test_old_whitelist_shape_is_accepted_by_us_and_rejected_by_the_published_schema(
    official: Official,
) -> None:
    document = OLD_SHAPE_WHITELIST
    assert not official.accepts("whitelist", document)
    assert we_accept(ListKind.WHITELIST, document)


OLD_SHAPE_WHITELIST = b"""<?xml version="1.0" encoding="UTF-8"?>
<Whitelist xmlns="xmlns://afsprakenstelsel.medmij.nl/whitelist/release2/">
    <Tijdstempel>2018-04-16T11:41:59Z</Tijdstempel>
    <Volgnummer>3</Volgnummer>
    <MedMijNodes>
        <MedMijNode>specimen-stelselnode.medmij.nl</MedMijNode>
        <MedMijNode>medmij.deenigeechtepgo.nl</MedMijNode>
    </MedMijNodes>
</Whitelist>
"""
