"""ListHolder: validate, refuse rollbacks, keep the last good list."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest

from medmij_stack.protocol.lists import ListKind, ListRefused, write_gnl, write_whitelist, write_zal
from medmij_stack.runtime.lists import ListHolder, ListSet
from tests.protocol.lists import samples


def whitelist_document(volgnummer: int, *hostnames: str) -> bytes:
    lst = samples.whitelist(volgnummer)
    if hostnames:
        lst = replace(lst, hostnames=hostnames)
    return write_whitelist(lst)


def test_empty_holder() -> None:
    holder = ListHolder(ListKind.WHITELIST)
    assert holder.current is None
    assert holder.raw is None
    assert holder.volgnummer is None


def test_first_valid_list_is_taken() -> None:
    holder = ListHolder(ListKind.WHITELIST)
    document = whitelist_document(5)
    accepted = holder.offer(document)
    assert accepted == samples.whitelist(5)
    assert holder.current is accepted
    assert holder.raw == document
    assert holder.volgnummer == 5


def test_higher_volgnummer_replaces() -> None:
    holder = ListHolder(ListKind.WHITELIST)
    holder.offer(whitelist_document(5))
    newer = whitelist_document(6, "nieuw.example.nl")
    holder.offer(newer)
    assert holder.current is not None
    assert holder.current.hostnames == ("nieuw.example.nl",)
    assert holder.raw == newer


def test_lower_volgnummer_is_refused_and_the_previous_kept() -> None:
    holder = ListHolder(ListKind.WHITELIST)
    held = whitelist_document(6)
    holder.offer(held)
    with pytest.raises(ListRefused) as caught:
        holder.offer(whitelist_document(5, "oud.example.nl"))
    assert "Volgnummer 5 is lower than the held 6" in caught.value.reason
    assert caught.value.kind is ListKind.WHITELIST
    assert holder.raw == held
    assert holder.volgnummer == 6


def test_invalid_document_is_refused_and_the_previous_kept() -> None:
    holder = ListHolder(ListKind.WHITELIST)
    held = whitelist_document(6)
    holder.offer(held)
    invalid = whitelist_document(7).replace(b"rcf-rso.nl", b"RCF-RSO.NL")
    with pytest.raises(ListRefused, match="does not match the XML schema") as caught:
        holder.offer(invalid)
    assert "Whitelist" in caught.value.reason
    assert holder.raw == held
    with pytest.raises(ListRefused, match="not well-formed"):
        holder.offer(b"<Whitelist")
    assert holder.raw == held


def test_same_volgnummer_with_identical_content_is_a_no_op() -> None:
    holder = ListHolder(ListKind.WHITELIST)
    held = whitelist_document(6)
    first = holder.offer(held)
    # Same content, other bytes: another indentation is still the same list.
    reformatted = held.replace(b"    ", b"  ")
    assert holder.offer(reformatted) is first
    assert holder.raw == held


def test_same_volgnummer_with_different_content_is_refused() -> None:
    holder = ListHolder(ListKind.WHITELIST)
    held = whitelist_document(6)
    holder.offer(held)
    with pytest.raises(ListRefused, match="already held with different content"):
        holder.offer(whitelist_document(6, "ander.example.nl"))
    assert holder.raw == held


def test_same_volgnummer_with_another_tijdstempel_is_different_content() -> None:
    holder = ListHolder(ListKind.GNL)
    holder.offer(write_gnl(samples.gnl(3)))
    later = replace(samples.gnl(3), tijdstempel=samples.MOMENT)
    with pytest.raises(ListRefused, match="different content"):
        holder.offer(write_gnl(later))


def test_wrong_kind_is_refused() -> None:
    holder = ListHolder(ListKind.ZAL)
    with pytest.raises(ListRefused, match="root element is <Whitelist>"):
        holder.offer(whitelist_document(1))


def test_development_holder_accepts_ports_in_authorization_endpoints() -> None:
    zal = samples.zal()
    za = zal.zorgaanbieders[1]
    versie = za.interfaceversies[0]
    dienst = replace(
        versie.gegevensdiensten[0],
        authorization_endpoint="https://inlog.dva.localhost:8444/oauth/authorize",
    )
    lst = replace(
        zal,
        zorgaanbieders=(
            replace(za, interfaceversies=(replace(versie, gegevensdiensten=(dienst,)),)),
        ),
    )
    document = write_zal(lst)
    with pytest.raises(ListRefused, match="AuthorizationEndpointuri"):
        ListHolder(ListKind.ZAL).offer(document)
    assert ListHolder(ListKind.ZAL, development=True).offer(document) == lst
    assert ListSet(development=True).zal.offer(document) == lst


def test_size_limit_applies() -> None:
    holder = ListHolder(ListKind.WHITELIST, max_bytes=100)
    with pytest.raises(ListRefused, match="limit of 100"):
        holder.offer(whitelist_document(1))


def test_concurrent_offers_end_with_the_highest_volgnummer() -> None:
    holder = ListHolder(ListKind.WHITELIST)
    documents = [whitelist_document(n, f"host{n}.example.nl") for n in range(1, 41)]
    refused: list[int] = []
    barrier = threading.Barrier(len(documents))

    def offer(document: bytes, number: int) -> None:
        barrier.wait()
        try:
            holder.offer(document)
        except ListRefused:
            refused.append(number)

    threads = [
        threading.Thread(target=offer, args=(document, number))
        for number, document in enumerate(documents, start=1)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert holder.volgnummer == 40
    assert holder.raw == documents[-1]
    assert 40 not in refused
    current = holder.current
    assert current is not None
    assert current.hostnames == ("host40.example.nl",)


def test_list_set_holds_one_holder_per_kind() -> None:
    lists = ListSet()
    assert [lists.holder(kind).kind for kind in ListKind] == list(ListKind)
    assert lists.holder(ListKind.ZAL) is lists.zal
    assert lists[ListKind.OCL] is lists.ocl
    assert lists.holder(ListKind.GNL) is lists.gnl
    assert lists.holder(ListKind.WHITELIST) is lists.whitelist
