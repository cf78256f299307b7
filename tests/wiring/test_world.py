"""Worlds: the embedded default world, world files with errors, and external participants."""

from __future__ import annotations

import socket
from contextlib import closing
from pathlib import Path

import pytest

from medmij_stack.protocol import catalogue
from medmij_stack.protocol.lists import ListKind, parse_list, write_list
from medmij_stack.wiring.publication import publication
from medmij_stack.wiring.world import World, WorldError, load_world, save_world

# A small valid world; the error cases below each change one thing in it.
BASE = """\
[world]
name = "Testwereld"
development = true
seed = 7

[stelselnode]
hostname = "stelselnode.test.localhost"
port = 9440

[[pgo]]
hostname = "pgo.test.localhost"
naam = "Test PGO"
port = 9443

[[dva]]
id = "test-dva"
naam = "Test DVA"
telefoon = "088 000 0000"
front = { hostname = "inlog.test.localhost", port = 9444 }
back = { hostname = "api.test.localhost", port = 9445 }
resource = { hostname = "fhir.test.localhost", port = 9446 }

[[dva.zorgaanbieder]]
naam = "testziekenhuis@medmij"
weergavenaam = "Testziekenhuis"
gegevensdiensten = ["48", "63"]
"""

EXTERNAL_DVA = """
[[dva]]
id = "mijn-xis"
naam = "Mijn XIS"
external = true
ca = "rel/xis-ca.pem"
authorization_endpoint = "https://inlog.mijnxis.localhost/authorize"
token_endpoint = "https://api.mijnxis.localhost:9545/token"
resource_endpoints = { "48" = "https://fhir.mijnxis.localhost:9546/fhir/48" }

[[dva.zorgaanbieder]]
naam = "mijnziekenhuis@medmij"
weergavenaam = "Mijn Ziekenhuis"
gegevensdiensten = ["48"]
"""

EXTERNAL_PGO = """
[[pgo]]
hostname = "mijnpgo.localhost"
naam = "Mijn PGO"
external = true
ca = "rel/pgo-ca.pem"
"""


def variant(old: str, new: str, text: str = BASE) -> str:
    """`text` with `old` replaced by `new`; fails when `old` is not there to replace."""
    assert old in text, old
    return text.replace(old, new)


def write_world(directory: Path, text: str, name: str = "world.toml") -> Path:
    path = directory / name
    path.write_text(text, "utf-8")
    return path


# --- the default world --------------------------------------------------------------


@pytest.fixture(scope="module")
def default() -> World:
    return load_world()


def test_default_world_has_a_stelselnode_and_is_a_development_world(default: World) -> None:
    assert default.world.development is True
    assert default.stelselnode.hostname == "stelselnode.localhost"
    assert default.stelselnode.endpoint.url() == "https://stelselnode.localhost:8440"
    assert 5 <= default.stelselnode.refresh_seconds <= 900


def test_default_world_has_one_trusted_pgo_and_one_ocl_entry_off_the_whitelist(
    default: World,
) -> None:
    trusted = [p for p in default.pgo if p.whitelisted]
    untrusted = [p for p in default.pgo if not p.whitelisted]
    assert [(p.hostname, p.naam, p.external) for p in trusted] == [
        ("pgo.localhost", "Demo PGO", False)
    ]
    assert len(untrusted) == 1
    # Not ours to run: it only exists on the OCL, for negative cases.
    assert untrusted[0].external


def test_default_world_has_one_dva_with_front_and_back_channel(default: World) -> None:
    assert len(default.dva) == 1
    dva = default.dva[0]
    assert not dva.external
    assert dva.front is not None
    assert dva.back is not None
    assert dva.resource is not None
    assert dva.front.hostname == "inlog.dva.localhost"
    assert dva.back.hostname == "api.dva.localhost"
    assert dva.authorization_url.startswith("https://inlog.dva.localhost:")
    assert dva.token_url.startswith("https://api.dva.localhost:")


def test_default_world_has_zorgaanbieders_with_different_gegevensdiensten(
    default: World,
) -> None:
    zorgaanbieders = default.dva[0].zorgaanbieder
    assert len(zorgaanbieders) >= 3
    offers = {za.gegevensdiensten for za in zorgaanbieders}
    assert len(offers) >= 2, "every zorgaanbieder offers the same gegevensdiensten"
    served = {g.id for g in catalogue.served()}
    assert {gid for za in zorgaanbieders for gid in za.gegevensdiensten} == served
    not_sharing = [za for za in zorgaanbieders if not za.deelt]
    assert len(not_sharing) == 1
    # Listed, so a PGO can choose it, but nobody's data is there.
    everyones = {za for names in default.person_zorgaanbieders().values() for za in names}
    assert not_sharing[0].naam not in everyones


def test_default_world_has_persons_that_are_known_somewhere(default: World) -> None:
    persons = default.persons_list()
    assert len(persons) == default.persons.count > 0
    where = default.person_zorgaanbieders()
    assert set(where) == {p.bsn for p in persons}
    assert all(where.values())


def test_whitelist_has_the_trusted_pgo_and_the_dva_back_channel_nodes(default: World) -> None:
    dva = default.dva[0]
    assert dva.back is not None
    assert dva.resource is not None
    assert dva.front is not None
    assert default.collector is not None
    whitelist = default.whitelist()
    # The collector too: nodes check its host there before they deliver their ketenlog.
    assert set(whitelist) == {
        "pgo.localhost",
        dva.back.hostname,
        dva.resource.hostname,
        default.collector.hostname,
    }
    assert "niet-vertrouwd.pgo.localhost" not in whitelist
    # The front channel is for browsers: no server calls it with a client certificate.
    assert dva.front.hostname not in whitelist
    assert len(whitelist) == len(set(whitelist))


def test_our_hostnames_and_hosts_cover_exactly_the_nodes_we_run(default: World) -> None:
    assert default.our_hostnames() == (
        "stelselnode.localhost",
        "collector.localhost",
        "pgo.localhost",
        "inlog.dva.localhost",
        "api.dva.localhost",
        "fhir.dva.localhost",
    )
    assert default.hosts() == dict.fromkeys(default.our_hostnames(), "127.0.0.1")
    assert "niet-vertrouwd.pgo.localhost" not in default.our_hostnames()


def test_hosts_map_a_wildcard_listen_address_to_loopback(tmp_path: Path) -> None:
    world = load_world(write_world(tmp_path, variant("seed = 7", 'seed = 7\nlisten = "0.0.0.0"')))
    assert set(world.hosts().values()) == {"127.0.0.1"}


def test_with_free_ports_gives_distinct_free_ports_and_keeps_the_rest(default: World) -> None:
    moved = default.with_free_ports()
    ports = [e.port for e in moved.endpoints()]
    assert len(ports) == len(set(ports)) == len(list(default.endpoints()))
    assert not set(ports) & {e.port for e in default.endpoints()}
    for port in ports:
        with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
            sock.bind(("127.0.0.1", port))  # raises when the port was not free
    assert [e.hostname for e in moved.endpoints()] == [e.hostname for e in default.endpoints()]

    def without_ports(world: World) -> dict[str, object]:
        data = world.model_dump(mode="json")
        data["stelselnode"].pop("port")
        data["collector"].pop("port")
        for pgo in data["pgo"]:
            pgo.pop("port")
        for dva in data["dva"]:
            for node in ("front", "back", "resource"):
                dva[node].pop("port")
        return data

    assert without_ports(moved) == without_ports(default)


# --- world files with errors --------------------------------------------------------

BAD_WORLDS: list[tuple[str, str, tuple[str, ...]]] = [
    ("toml-syntax", BASE + "\n[broken\n", ("not valid TOML",)),
    (
        "unknown-key",
        variant("seed = 7", 'seed = 7\nkleur = "blauw"'),
        ("world.kleur", "Extra inputs are not permitted"),
    ),
    (
        "bad-hostname",
        variant('"pgo.test.localhost"', '"PGO_test.localhost"'),
        ("pgo.0.hostname", "pattern"),
    ),
    ("duplicate-port", variant("port = 9446", "port = 9445"), ("share a port",)),
    (
        "duplicate-hostname",
        variant('"fhir.test.localhost"', '"api.test.localhost"'),
        ("share a hostname",),
    ),
    (
        "duplicate-zorgaanbieder",
        BASE
        + '\n[[dva.zorgaanbieder]]\nnaam = "testziekenhuis@medmij"\n'
        + 'weergavenaam = "Nog een"\ngegevensdiensten = ["63"]\n',
        ("named twice", "testziekenhuis@medmij"),
    ),
    (
        "gegevensdienst-not-served",
        variant('["48", "63"]', '["48", "51"]'),
        ("gegevensdienst 51 is not served", "served: 48, 63"),
    ),
    (
        "gegevensdienst-unknown",
        variant('["48", "63"]', '["48", "999"]'),
        ("999", "not in the MedMij catalogue"),
    ),
    (
        "external-dva-without-endpoints",
        BASE
        + '\n[[dva]]\nid = "elders"\nnaam = "Elders"\nexternal = true\n'
        + 'resource_endpoints = { "48" = "https://fhir.elders.localhost/48" }\n',
        ("external DVA elders needs authorization_endpoint, token_endpoint",),
    ),
    (
        "external-dva-without-resource-endpoint",
        variant(
            'gegevensdiensten = ["48"]', 'gegevensdiensten = ["48", "63"]', BASE + EXTERNAL_DVA
        ),
        ("mijn-xis", "no resource_endpoints entry for gegevensdienst 63", "mijnziekenhuis@medmij"),
    ),
    (
        "external-dva-endpoint-not-https",
        BASE
        + variant(
            '"https://api.mijnxis.localhost:9545/token"', '"api.mijnxis/token"', EXTERNAL_DVA
        ),
        ("mijn-xis", "token_endpoint must be an https URL", "api.mijnxis/token"),
    ),
    (
        "pgo-section-not-a-list",
        variant("[[pgo]]", "[pgo]"),
        ("pgo", "tuple"),
    ),
    (
        "more-persons-than-test-bsns",
        BASE + "\n[persons]\ncount = 10000\n",
        ("persons.count", "9091"),
    ),
    (
        "production-world-with-front-port",
        variant("development = true", "development = false"),
        ("test-dva", "forbids a port", "AuthorizationEndpointuri"),
    ),
    (
        "no-whitelisted-pgo",
        variant("port = 9443", "port = 9443\nwhitelisted = false"),
        ("no PGO on the Whitelist",),
    ),
    (
        "our-pgo-without-port",
        variant("port = 9443\n", ""),
        ("PGO pgo.test.localhost runs here, so it needs a port",),
    ),
    (
        "our-dva-without-resource-node",
        variant('resource = { hostname = "fhir.test.localhost", port = 9446 }\n', ""),
        ("DVA test-dva runs here: give front, back and resource",),
    ),
    (
        "our-dva-without-telefoon",
        variant('telefoon = "088 000 0000"\n', ""),
        ("DVA test-dva runs here: give telefoon",),
    ),
    (
        "our-dva-with-a-blank-telefoon",
        variant('telefoon = "088 000 0000"', 'telefoon = "  "'),
        ("DVA test-dva runs here: give telefoon",),
    ),
]


@pytest.mark.parametrize(
    ("text", "expected"),
    [pytest.param(text, expected, id=name) for name, text, expected in BAD_WORLDS],
)
def test_a_bad_world_file_is_refused_with_a_message_naming_the_problem(
    tmp_path: Path, text: str, expected: tuple[str, ...]
) -> None:
    path = write_world(tmp_path, text)
    with pytest.raises(WorldError) as caught:
        load_world(path)
    message = str(caught.value)
    assert str(path) in message
    for fragment in expected:
        assert fragment in message


def test_the_base_world_of_the_error_cases_is_itself_valid(tmp_path: Path) -> None:
    world = load_world(write_world(tmp_path, BASE))
    assert world.world.name == "Testwereld"
    assert world.whitelist() == (
        "pgo.test.localhost",
        "api.test.localhost",
        "fhir.test.localhost",
    )


def test_a_missing_world_file_is_a_world_error(tmp_path: Path) -> None:
    missing = tmp_path / "nergens.toml"
    with pytest.raises(WorldError, match=r"cannot read world file .*nergens\.toml"):
        load_world(missing)


def test_a_broken_json_world_is_a_world_error(tmp_path: Path) -> None:
    path = write_world(tmp_path, '{"world": ', "world.json")
    with pytest.raises(WorldError, match="not valid TOML or JSON"):
        load_world(path)


def test_a_json_world_that_is_not_an_object_is_a_world_error(tmp_path: Path) -> None:
    path = write_world(tmp_path, "[]", "world.json")
    with pytest.raises(WorldError, match="a world is a table of sections, not list"):
        load_world(path)


def test_a_production_world_on_port_443_publishes_a_zal_the_official_pattern_accepts(
    tmp_path: Path,
) -> None:
    text = variant("development = true", "development = false")
    text = variant("port = 9444", "port = 443", text)
    world = load_world(write_world(tmp_path, text))
    assert world.dva[0].authorization_url == "https://inlog.test.localhost/oauth/authorize"
    zal = publication(world).zal
    parsed = parse_list(ListKind.ZAL, write_list(zal), development=False)
    assert parsed == zal


# --- external participants ----------------------------------------------------------


@pytest.fixture
def external_world_file(tmp_path: Path) -> Path:
    (tmp_path / "rel").mkdir()
    for name in ("pgo-ca.pem", "xis-ca.pem"):
        (tmp_path / "rel" / name).write_text("-----BEGIN CERTIFICATE-----\n", "utf-8")
    return write_world(tmp_path, BASE + EXTERNAL_PGO + EXTERNAL_DVA)


def test_external_participants_are_on_the_lists_but_not_run_here(
    external_world_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elders"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # CA paths are relative to the world file, not to the cwd
    world = load_world(external_world_file)

    assert world.extra_trust() == (
        (tmp_path / "rel" / "pgo-ca.pem").resolve(),
        (tmp_path / "rel" / "xis-ca.pem").resolve(),
    )
    assert "mijnpgo.localhost" not in world.our_hostnames()
    assert not {"inlog.mijnxis.localhost", "api.mijnxis.localhost"} & set(world.our_hostnames())
    assert [d.id for d in world.ours()] == ["test-dva"]

    lists = publication(world)
    assert {c.hostname: c.organisatienaam for c in lists.ocl.clients} == {
        "pgo.test.localhost": "Test PGO",
        "mijnpgo.localhost": "Mijn PGO",
    }
    assert set(lists.whitelist.hostnames) == {
        "pgo.test.localhost",
        "api.test.localhost",
        "fhir.test.localhost",
        "mijnpgo.localhost",
        "api.mijnxis.localhost",
        "fhir.mijnxis.localhost",
    }
    theirs = lists.zal.get("mijnziekenhuis@medmij")
    assert theirs is not None
    (dienst,) = theirs.interfaceversies[0].gegevensdiensten
    assert dienst.authorization_endpoint == "https://inlog.mijnxis.localhost/authorize"
    assert dienst.token_endpoint == "https://api.mijnxis.localhost:9545/token"
    assert {r.resource_endpoint for r in dienst.systeemrollen} == {
        "https://fhir.mijnxis.localhost:9546/fhir/48"
    }
    for kind, lst in (
        (ListKind.ZAL, lists.zal),
        (ListKind.OCL, lists.ocl),
        (ListKind.WHITELIST, lists.whitelist),
    ):
        parse_list(kind, write_list(lst), development=True)


def test_an_external_dva_may_name_its_whitelist_hostnames(tmp_path: Path) -> None:
    text = BASE + variant(
        'ca = "rel/xis-ca.pem"\n', 'whitelist = ["xis.mijnxis.localhost"]\n', EXTERNAL_DVA
    )
    world = load_world(write_world(tmp_path, text))
    assert "xis.mijnxis.localhost" in world.whitelist()
    assert "api.mijnxis.localhost" not in world.whitelist()


def test_an_external_ca_that_does_not_exist_is_a_world_error(tmp_path: Path) -> None:
    path = write_world(tmp_path, BASE + EXTERNAL_PGO)
    with pytest.raises(WorldError, match=r"pgo-ca\.pem"):
        load_world(path)


# --- the effective world, as `medmij up` hands it to its processes ------------------


def test_json_round_trip_gives_the_same_world(default: World, tmp_path: Path) -> None:
    effective = default.with_free_ports()
    path = save_world(effective, tmp_path / "state" / "world.json")
    assert path.is_file()
    assert load_world(path) == effective


def test_json_round_trip_keeps_external_cas(external_world_file: Path, tmp_path: Path) -> None:
    world = load_world(external_world_file)
    copy = load_world(save_world(world, tmp_path / "effective" / "world.json"))
    assert copy == world
    assert copy.extra_trust() == world.extra_trust()
    assert all(ca.is_absolute() for ca in copy.extra_trust())
