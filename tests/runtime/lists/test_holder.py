"""ListHolder: validate, refuse rollbacks (also after a restart) and lists that would lock
it out, keep the last good list."""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from medmij_stack.protocol.lists import (
    ListKind,
    ListRefused,
    Whitelist,
    write_gnl,
    write_whitelist,
    write_zal,
)
from medmij_stack.protocol.lists.succession import MAX_VOLGNUMMER_STEP, Mark
from medmij_stack.runtime.lists import ListHolder, ListSet
from medmij_stack.runtime.lists.state import ListStateError
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


# Across a restart: the mark of the last accepted list is kept in the node's data folder.


def test_a_restarted_holder_refuses_a_lower_volgnummer(tmp_path: Path) -> None:
    ListHolder(ListKind.WHITELIST, state_dir=tmp_path).offer(whitelist_document(6))
    restarted = ListHolder(ListKind.WHITELIST, state_dir=tmp_path)
    assert restarted.current is None  # the list itself is fetched anew
    for lower in (5, 1):
        with pytest.raises(ListRefused, match=f"Volgnummer {lower} is lower than the held 6"):
            restarted.offer(whitelist_document(lower))
    assert restarted.current is None
    refusal = restarted.last_refusal
    assert refusal is not None
    assert refusal.volgnummer == 1
    # The same list again is taken; so is the next one.
    assert restarted.offer(whitelist_document(6)) == samples.whitelist(6)
    restarted.offer(whitelist_document(7, "nieuw.example.nl"))
    assert restarted.last_refusal is None
    assert ListHolder(ListKind.WHITELIST, state_dir=tmp_path).mark == Mark.of(
        replace(samples.whitelist(7), hostnames=("nieuw.example.nl",))
    )


def test_a_restarted_holder_refuses_its_volgnummer_with_other_content(tmp_path: Path) -> None:
    ListHolder(ListKind.WHITELIST, state_dir=tmp_path).offer(whitelist_document(6))
    restarted = ListHolder(ListKind.WHITELIST, state_dir=tmp_path)
    with pytest.raises(ListRefused, match="already held with different content"):
        restarted.offer(whitelist_document(6, "ander.example.nl"))


def test_the_mark_is_one_file_per_list_replaced_whole(tmp_path: Path) -> None:
    lists = ListSet(state_dir=tmp_path)
    lists.whitelist.offer(whitelist_document(6))
    lists.gnl.offer(write_gnl(samples.gnl(3)))
    assert sorted(path.name for path in tmp_path.iterdir()) == ["gnl.json", "whitelist.json"]
    saved = json.loads((tmp_path / "whitelist.json").read_text("utf-8"))
    assert saved["volgnummer"] == 6
    assert saved["tijdstempel"] == samples.whitelist(6).tijdstempel.isoformat()
    lists.whitelist.offer(whitelist_document(7))
    assert json.loads((tmp_path / "whitelist.json").read_text("utf-8"))["volgnummer"] == 7
    # No temporary file is left beside it.
    assert sorted(path.name for path in tmp_path.iterdir()) == ["gnl.json", "whitelist.json"]


def test_a_refused_list_leaves_the_mark_alone(tmp_path: Path) -> None:
    holder = ListHolder(ListKind.WHITELIST, state_dir=tmp_path)
    holder.offer(whitelist_document(6))
    before = (tmp_path / "whitelist.json").read_bytes()
    with pytest.raises(ListRefused):
        holder.offer(whitelist_document(6 + MAX_VOLGNUMMER_STEP + 1))
    assert (tmp_path / "whitelist.json").read_bytes() == before


@pytest.mark.parametrize(
    "content",
    [b"", b"{", b"[]", b'{"volgnummer": 0, "tijdstempel": "2026-01-01T00:00:00+00:00"}'],
)
def test_a_damaged_mark_stops_the_holder_with_the_way_out(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "zal.json").write_bytes(content)
    with pytest.raises(ListStateError) as caught:
        ListHolder(ListKind.ZAL, state_dir=tmp_path)
    message = str(caught.value)
    assert str(tmp_path / "zal.json") in message
    assert "remove the file" in message


def test_without_a_state_folder_nothing_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    ListHolder(ListKind.WHITELIST).offer(whitelist_document(6))
    assert list(tmp_path.iterdir()) == []


# A list that, once accepted, would lock the holder out of every normal list after it.

HELD = samples.whitelist(6)
NEXT = replace(HELD, volgnummer=7, tijdstempel=HELD.tijdstempel + timedelta(minutes=15))


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        pytest.param(
            replace(HELD, volgnummer=10**9),
            "Volgnummer jumps from 6 to 1000000000",
            id="absurd Volgnummer",
        ),
        pytest.param(
            replace(HELD, volgnummer=7, tijdstempel=HELD.tijdstempel - timedelta(days=1)),
            "goes backwards",
            id="Tijdstempel backwards",
        ),
        pytest.param(
            replace(HELD, volgnummer=7, tijdstempel=datetime(9999, 1, 1, tzinfo=UTC)),
            "lies in the future",
            id="Tijdstempel in the future",
        ),
    ],
)
@pytest.mark.parametrize("restarted", [False, True], ids=["running", "restarted"])
def test_a_list_that_would_lock_the_holder_is_refused_and_the_next_normal_one_taken(
    bad: Whitelist, reason: str, restarted: bool, tmp_path: Path
) -> None:
    clock = HELD.tijdstempel + timedelta(days=1)
    holder = ListHolder(ListKind.WHITELIST, state_dir=tmp_path, clock=lambda: clock)
    holder.offer(write_whitelist(HELD))
    if restarted:
        holder = ListHolder(ListKind.WHITELIST, state_dir=tmp_path, clock=lambda: clock)
    with pytest.raises(ListRefused, match=reason):
        holder.offer(write_whitelist(bad))
    refusal = holder.last_refusal
    assert refusal is not None
    assert refusal.volgnummer == bad.volgnummer
    assert refusal.tijdstempel == bad.tijdstempel
    assert reason in refusal.reason
    assert holder.volgnummer == (None if restarted else 6)
    # Not locked: the next normal list is taken, and the refusal is over.
    assert holder.offer(write_whitelist(NEXT)) == NEXT
    assert holder.last_refusal is None
    assert ListHolder(ListKind.WHITELIST, state_dir=tmp_path).mark == Mark.of(NEXT)


def test_a_list_whose_volgnummer_cannot_be_kept_is_not_taken(tmp_path: Path) -> None:
    state_dir = tmp_path / "lists"
    holder = ListHolder(ListKind.WHITELIST, state_dir=state_dir)
    holder.offer(whitelist_document(6))
    (state_dir / "whitelist.json").unlink()
    state_dir.rmdir()
    state_dir.write_text("no folder here", "utf-8")  # the mark cannot be written now
    with pytest.raises(ListRefused, match=f"cannot keep its Volgnummer in {state_dir}"):
        holder.offer(whitelist_document(7))
    assert holder.volgnummer == 6
    assert holder.last_refusal is not None
