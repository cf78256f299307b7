"""Publishing: Volgnummer 1 first, unchanged lists byte for byte, +1 per change, never down."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from medmij_stack.protocol.lists import ListKind, MedMijList, parse_list
from medmij_stack.protocol.lists.succession import Mark, refusal
from medmij_stack.stelselnode.publisher import Published, StateError, publish
from medmij_stack.wiring.publication import Publication, publication
from medmij_stack.wiring.world import Pgo, World, load_world

T0 = datetime(2026, 3, 2, 9, 30, 15, 123456, tzinfo=UTC)


def desired(lists: Publication) -> dict[ListKind, MedMijList]:
    return {
        ListKind.ZAL: lists.zal,
        ListKind.OCL: lists.ocl,
        ListKind.GNL: lists.gnl,
        ListKind.WHITELIST: lists.whitelist,
    }


@pytest.fixture(scope="module")
def world() -> World:
    return load_world()


@pytest.fixture(scope="module")
def original(world: World) -> dict[ListKind, MedMijList]:
    return desired(publication(world))


@pytest.fixture(scope="module")
def with_extra_pgo(world: World) -> dict[ListKind, MedMijList]:
    """The world with one more PGO that is not whitelisted: only the OCL changes."""
    extra = Pgo(hostname="nieuw.pgo.localhost", naam="Nieuwe PGO", whitelisted=False, external=True)
    changed = world.model_copy(update={"pgo": (*world.pgo, extra)})
    return desired(publication(changed))


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "stelselnode" / "published.json"


def volgnummers(published: Mapping[ListKind, Published]) -> dict[ListKind, int]:
    return {kind: p.volgnummer for kind, p in published.items()}


def test_the_first_publication_has_volgnummer_1_and_the_time_of_publishing(
    original: dict[ListKind, MedMijList], state: Path
) -> None:
    published = publish(original, state, development=True, now=T0)
    assert set(published) == set(ListKind)
    for kind, item in published.items():
        assert item.volgnummer == 1
        assert item.tijdstempel == T0.replace(microsecond=0)
        parsed = parse_list(kind, item.document, development=True)
        assert parsed.volgnummer == 1
        assert parsed.tijdstempel == T0.replace(microsecond=0)
    assert state.is_file()


def test_republishing_the_same_content_changes_nothing_not_even_a_byte(
    original: dict[ListKind, MedMijList], state: Path
) -> None:
    first = publish(original, state, development=True, now=T0)
    # A fresh call reads the state file again, as a restarted Stelselnode does.
    again = publish(original, state, development=True, now=T0 + timedelta(days=3))
    assert volgnummers(again) == dict.fromkeys(ListKind, 1)
    for kind in ListKind:
        assert again[kind].tijdstempel == first[kind].tijdstempel
        assert again[kind].document == first[kind].document


def test_a_changed_list_gets_the_next_volgnummer_and_the_others_stay(
    original: dict[ListKind, MedMijList],
    with_extra_pgo: dict[ListKind, MedMijList],
    state: Path,
) -> None:
    first = publish(original, state, development=True, now=T0)
    later = T0 + timedelta(hours=1)
    second = publish(with_extra_pgo, state, development=True, now=later)
    assert volgnummers(second) == {
        ListKind.ZAL: 1,
        ListKind.OCL: 2,
        ListKind.GNL: 1,
        ListKind.WHITELIST: 1,
    }
    assert second[ListKind.OCL].tijdstempel == later.replace(microsecond=0)
    ocl = parse_list(ListKind.OCL, second[ListKind.OCL].document)
    assert ocl.volgnummer == 2
    for kind in (ListKind.ZAL, ListKind.GNL, ListKind.WHITELIST):
        assert second[kind].document == first[kind].document


def test_the_volgnummer_never_falls_not_even_back_to_old_content(
    original: dict[ListKind, MedMijList],
    with_extra_pgo: dict[ListKind, MedMijList],
    state: Path,
) -> None:
    publish(original, state, development=True, now=T0)
    publish(with_extra_pgo, state, development=True, now=T0 + timedelta(hours=1))
    back = publish(original, state, development=True, now=T0 + timedelta(hours=2))
    # The content of Volgnummer 1 again, but a receiver holding 2 must take it: 3.
    assert back[ListKind.OCL].volgnummer == 3
    assert back[ListKind.ZAL].volgnummer == 1
    restarted = publish(original, state, development=True, now=T0 + timedelta(days=1))
    assert restarted[ListKind.OCL].volgnummer == 3
    assert restarted[ListKind.OCL].document == back[ListKind.OCL].document


def test_a_clock_set_back_does_not_make_the_tijdstempel_go_backwards(
    original: dict[ListKind, MedMijList],
    with_extra_pgo: dict[ListKind, MedMijList],
    state: Path,
) -> None:
    """Receivers refuse a list whose Tijdstempel goes backwards; the Stelselnode must never
    publish one, even when its clock was set back between two publications."""
    first = publish(original, state, development=True, now=T0)
    second = publish(with_extra_pgo, state, development=True, now=T0 - timedelta(days=3))
    before = first[ListKind.OCL].tijdstempel
    assert second[ListKind.OCL].volgnummer == 2
    assert second[ListKind.OCL].tijdstempel == before + timedelta(seconds=1)
    previous = parse_list(ListKind.OCL, first[ListKind.OCL].document)
    following = parse_list(ListKind.OCL, second[ListKind.OCL].document)
    assert refusal(Mark.of(previous), following, now=T0) is None  # a receiver takes it


def test_a_list_that_would_not_validate_is_not_published(
    original: dict[ListKind, MedMijList], state: Path
) -> None:
    # Ports in front-channel URIs are only valid in a development world.
    with pytest.raises(ValueError, match="AuthorizationEndpointuri"):
        publish(original, state, development=False, now=T0)


@pytest.mark.parametrize(
    "content",
    [
        pytest.param("{not json", id="not-json"),
        pytest.param("[1, 2, 3]", id="not-an-object"),
        pytest.param('{"ZAL": {"volgnummer": "een", "digest": "x"}}', id="bad-volgnummer"),
        pytest.param('{"OCL": "kapot"}', id="entry-not-an-object"),
        pytest.param(
            '{"GNL": {"volgnummer": 4, "tijdstempel": "gisteren", "digest": "x"}}',
            id="bad-tijdstempel",
        ),
    ],
)
def test_a_corrupt_state_file_is_a_clear_error_not_a_fresh_start(
    original: dict[ListKind, MedMijList], state: Path, content: str
) -> None:
    state.parent.mkdir(parents=True)
    state.write_text(content, "utf-8")
    # Starting again at Volgnummer 1 would make every receiver refuse the lists.
    with pytest.raises(StateError, match=f"cannot read the Stelselnode state {state}"):
        publish(original, state, development=True, now=T0)
    assert state.read_text("utf-8") == content


def test_a_state_file_with_the_same_digest_but_a_bad_tijdstempel_is_refused(
    original: dict[ListKind, MedMijList], state: Path
) -> None:
    publish(original, state, development=True, now=T0)
    text = state.read_text("utf-8")
    stamp = T0.replace(microsecond=0).isoformat()
    assert stamp in text
    state.write_text(text.replace(stamp, "morgen"), "utf-8")
    with pytest.raises(StateError, match="cannot read the Stelselnode state"):
        publish(original, state, development=True, now=T0)
