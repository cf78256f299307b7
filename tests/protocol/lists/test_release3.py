"""The reconstructed ZAL release3 schema.

No published release3 schema exists to compare with, so: the published release3
example must validate, every mutation of the elements release2 shares must get the
verdict MedMij's release2 schema gives it (corpus.ZAL_COMMON, checked against that
schema in test_against_official.py), and the release3 additions get their own cases.
"""

from __future__ import annotations

import pytest
from lxml import etree

from medmij_stack.protocol.lists import ListKind, ListValidationError, load_schema, parse_zal
from tests.protocol.lists import corpus
from tests.protocol.lists.mutate import (
    Mutation,
    add_after,
    apply,
    compose,
    copy_text,
    duplicate,
    empty,
    remove,
    remove_all,
    set_text,
    swap_with_next,
    unchanged,
)


def accepted(document: bytes) -> bool:
    schema_says = load_schema(ListKind.ZAL, zal_release=3).validate(etree.fromstring(document))
    try:
        parse_zal(document)
    except ListValidationError:
        reader_says = False
    else:
        reader_says = True
    assert schema_says is reader_says
    return reader_says


def test_published_example_validates(examples: dict[str, bytes]) -> None:
    assert accepted(examples["zal3"])


@pytest.mark.parametrize(("mutation", "valid"), corpus.ZAL_COMMON)
def test_shared_elements_behave_as_in_release2(
    examples: dict[str, bytes], mutation: Mutation, valid: bool
) -> None:
    assert accepted(apply(examples["zal3"], mutation)) is valid


RELEASE3 = [
    pytest.param(unchanged(), True, id="unchanged"),
    pytest.param(remove("AuthorizationEndpoint"), True, id="AuthorizationEndpoint optional"),
    pytest.param(remove("TokenEndpoint"), True, id="TokenEndpoint optional"),
    pytest.param(
        compose(remove_all("AuthorizationEndpoint"), remove_all("TokenEndpoint")),
        True,
        id="no OAuth endpoints at all",
    ),
    pytest.param(remove("Abonneren"), True, id="Abonneren optional"),
    pytest.param(duplicate("Abonneren"), False, id="Abonneren twice"),
    pytest.param(swap_with_next("TokenEndpoint"), False, id="Abonneren before TokenEndpoint"),
    pytest.param(set_text("Aanbiedertype", "BAZB"), True, id="Aanbiedertype BAZB"),
    pytest.param(set_text("Aanbiedertype", "APD"), True, id="Aanbiedertype APD"),
    pytest.param(set_text("Aanbiedertype", "XX"), False, id="Aanbiedertype unknown"),
    pytest.param(set_text("Aanbiedertype", "za"), False, id="Aanbiedertype lowercase"),
    pytest.param(set_text("Aanbiedertype", " ZA"), False, id="Aanbiedertype with space"),
    pytest.param(remove("Aanbiedertype"), False, id="Aanbiedertype missing"),
    pytest.param(set_text("InterfaceversieId", ""), False, id="InterfaceversieId empty"),
    pytest.param(set_text("InterfaceversieId", "2.0.0-beta"), True, id="InterfaceversieId text"),
    pytest.param(duplicate("Interfaceversie"), False, id="duplicate InterfaceversieId"),
    pytest.param(
        compose(duplicate("Interfaceversie"), set_text("InterfaceversieId", "2.0.0", 1)),
        True,
        id="same GegevensdienstId in two interfaceversies",
    ),
    pytest.param(
        copy_text("GegevensdienstId", 0, 1), False, id="duplicate GegevensdienstId in a versie"
    ),
    pytest.param(empty("Interfaceversies"), False, id="no Interfaceversie"),
    pytest.param(remove("Interfaceversies"), False, id="Interfaceversies missing"),
    pytest.param(set_text("MaximaleDuur", "0"), True, id="MaximaleDuur 0"),
    pytest.param(set_text("MaximaleDuur", " 30 "), True, id="MaximaleDuur with spaces"),
    pytest.param(set_text("MaximaleDuur", "-1"), False, id="MaximaleDuur negative"),
    pytest.param(set_text("MaximaleDuur", "P30D"), False, id="MaximaleDuur as duration"),
    pytest.param(remove("MaximaleDuur"), False, id="MaximaleDuur missing"),
    pytest.param(remove("SubscriptionEndpointuri"), False, id="SubscriptionEndpointuri missing"),
    pytest.param(
        set_text("SubscriptionEndpointuri", "https://medmij.xisbridge.net:8443/subscription"),
        True,
        id="subscription with port",
    ),
    pytest.param(
        set_text("SubscriptionEndpointuri", "https://medmij.xisbridge.net/subscription?x"),
        False,
        id="subscription with query",
    ),
    pytest.param(
        set_text("SubscriptionEndpointuri", "https://medmij.xisbridge.net/subscription/"),
        False,
        id="subscription with trailing slash",
    ),
    pytest.param(
        add_after("Zorgaanbiedernaam", "Gegevensdiensten"), False, id="release2 structure"
    ),
]


@pytest.mark.parametrize(("mutation", "valid"), RELEASE3)
def test_release3_additions(examples: dict[str, bytes], mutation: Mutation, valid: bool) -> None:
    assert accepted(apply(examples["zal3"], mutation)) is valid


def test_release3_example_is_not_a_release2_document(examples: dict[str, bytes]) -> None:
    release2 = examples["zal3"].replace(b"/release3/", b"/release2/")
    with pytest.raises(ListValidationError, match="does not match the XML schema"):
        parse_zal(release2)
