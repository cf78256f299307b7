"""The `medmij` command: help, clear refusals of bad input, and the dev PKI it makes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path
from typing import cast

import pytest
import typer.main
from cryptography import x509
from cryptography.x509.oid import NameOID
from typer.core import TyperCommand, TyperGroup, TyperOption
from typer.testing import CliRunner, Result

from medmij_stack.runtime.devpki import load_certificate, load_certificates
from medmij_stack.wiring.cli import app
from medmij_stack.wiring.roles import Role
from medmij_stack.wiring.world import load_world, save_world


def run(*args: str) -> Result:
    # Wide enough that rich does not wrap a long path in the middle.
    return CliRunner().invoke(app, list(args), prog_name="medmij", env={"COLUMNS": "1000"})


def said(result: Result) -> str:
    """Everything the command printed, on one line."""
    return " ".join((result.stdout + result.stderr).split())


def test_help_names_the_commands() -> None:
    result = run("--help")
    assert result.exit_code == 0
    for command in ("up", "serve", "health", "certs"):
        assert command in result.stdout


@pytest.mark.parametrize("command", ["up", "serve", "health", "certs"])
def test_every_command_has_help(command: str) -> None:
    result = run(command, "--help")
    assert result.exit_code == 0
    assert "--world" in result.stdout


def test_version_is_the_installed_one() -> None:
    result = run("version")
    assert result.exit_code == 0
    assert result.stdout.strip() == version("medmij-reference-stack")


@pytest.mark.parametrize("command", ["serve", "health"])
def test_an_unknown_role_is_refused_naming_the_roles(command: str) -> None:
    result = run(command, "bogus")
    assert result.exit_code == 2
    message = said(result)
    assert "Unknown role 'bogus'" in message
    for role in Role:
        assert role.value in message
    assert "Traceback" not in message


def test_up_with_a_missing_world_file_says_so(tmp_path: Path) -> None:
    missing = tmp_path / "missing.toml"
    result = run("up", "--world", str(missing), "--data-dir", str(tmp_path / "data"))
    assert result.exit_code == 2
    message = said(result)
    assert "World not usable" in message
    assert "cannot read world file" in message
    assert "missing.toml" in message
    assert not (tmp_path / "data").exists()  # nothing was started


def test_serve_with_a_broken_world_file_says_what_is_wrong(tmp_path: Path) -> None:
    world = tmp_path / "world.toml"
    world.write_text('[world]\nkleur = "blauw"\n', "utf-8")
    result = run("serve", "stelselnode", "--world", str(world))
    assert result.exit_code == 2
    assert "world.kleur: Extra inputs are not permitted" in said(result)


def test_serve_an_unknown_dva_is_refused(tmp_path: Path) -> None:
    result = run(
        "serve",
        "authserver",
        "--dva",
        "nope",
        "--certs",
        str(tmp_path / "certs"),
        "--data-dir",
        str(tmp_path / "data"),
    )
    assert result.exit_code == 2
    assert "no DVA with id 'nope' (known: demo-dva)" in said(result)


@pytest.fixture(scope="module")
def dev_certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pki") / "certs"
    result = run("certs", "--out", str(out))
    assert result.exit_code == 0, said(result)
    return out


def test_certs_makes_a_root_an_intermediate_and_a_leaf_per_hostname(dev_certs: Path) -> None:
    root = load_certificate(dev_certs / "ca" / "root.pem")
    intermediate = load_certificate(dev_certs / "ca" / "intermediate.pem")
    intermediate.verify_directly_issued_by(root)
    for hostname in load_world().our_hostnames():
        leaf, *chain = load_certificates(dev_certs / "nodes" / hostname / "cert.pem")
        assert (dev_certs / "nodes" / hostname / "key.pem").is_file()
        assert chain == [intermediate]  # a peer gets the whole chain up to the root
        leaf.verify_directly_issued_by(intermediate)
        common_name = leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
        assert common_name == hostname
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert san.get_values_for_type(x509.DNSName) == [hostname]


def test_certs_is_idempotent(dev_certs: Path) -> None:
    before = {path: path.read_bytes() for path in dev_certs.rglob("*.pem")}
    result = run("certs", "--out", str(dev_certs))
    assert result.exit_code == 0
    assert {path: path.read_bytes() for path in dev_certs.rglob("*.pem")} == before


def test_certs_for_an_extra_hostname(tmp_path: Path) -> None:
    out = tmp_path / "certs"
    result = run("certs", "--out", str(out), "--hostname", "mijnpgo.localhost")
    assert result.exit_code == 0
    assert "mijnpgo.localhost" in said(result)
    leaf = load_certificate(out / "nodes" / "mijnpgo.localhost" / "cert.pem")
    names = leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    assert [n.value for n in names] == ["mijnpgo.localhost"]


def test_certs_for_a_hostname_that_cannot_be_one_is_refused(tmp_path: Path) -> None:
    result = run("certs", "--out", str(tmp_path / "certs"), "--hostname", "../etc")
    assert result.exit_code == 2
    assert "not a valid node hostname: '../etc'" in said(result)
    assert "Traceback" not in said(result)


def test_health_without_certificates_says_where_it_looked(tmp_path: Path) -> None:
    result = run("health", "stelselnode", "--certs", str(tmp_path / "leeg"))
    assert result.exit_code == 2
    assert f"No dev root CA at {tmp_path / 'leeg' / 'ca' / 'root.pem'}" in said(result)


def test_health_of_an_unknown_pgo_is_refused(dev_certs: Path) -> None:
    result = run("health", "pgo", "--pgo", "nope.localhost", "--certs", str(dev_certs))
    assert result.exit_code == 2
    assert "no PGO of ours with hostname 'nope.localhost'" in said(result)


def test_health_of_a_node_that_does_not_run_fails(dev_certs: Path, tmp_path: Path) -> None:
    # Free ports: nothing listens there, so the check must fail, not hang or pass.
    world = save_world(load_world().with_free_ports(), tmp_path / "world.json")
    url = load_world(world).stelselnode.endpoint.url()
    result = run("health", "stelselnode", "--world", str(world), "--certs", str(dev_certs))
    assert result.exit_code == 1
    assert url in said(result)


def test_serve_with_a_damaged_stelselnode_state_says_so(dev_certs: Path, tmp_path: Path) -> None:
    state = tmp_path / "data" / "stelselnode" / "published.json"
    state.parent.mkdir(parents=True)
    state.write_text("{kapot", "utf-8")
    result = run(
        "serve", "stelselnode", "--certs", str(dev_certs), "--data-dir", str(tmp_path / "data")
    )
    assert result.exit_code == 2
    assert f"cannot read the Stelselnode state {state}" in said(result)
    assert "Traceback" not in said(result)


def test_serve_with_a_damaged_list_mark_says_so(dev_certs: Path, tmp_path: Path) -> None:
    """A node that cannot read which Volgnummer it accepted last does not start on a guess."""
    from prometheus_client import values

    mark = tmp_path / "data" / "pgo" / "lists" / "whitelist.json"
    mark.parent.mkdir(parents=True)
    mark.write_text("{kapot", "utf-8")
    counting = os.environ.get("PROMETHEUS_MULTIPROC_DIR"), values.ValueClass
    result = run("serve", "pgo", "--certs", str(dev_certs), "--data-dir", str(tmp_path / "data"))
    # It got as far as counting across its workers; having returned, the process counts
    # as before it (rather than writing every later app's metrics into that run's files).
    assert (tmp_path / "data" / "metrics" / "pgo").is_dir()
    assert (os.environ.get("PROMETHEUS_MULTIPROC_DIR"), values.ValueClass) == counting
    assert result.exit_code == 2
    assert f"cannot read the last accepted list from {mark}" in said(result)
    assert "remove the file" in said(result)
    assert "Traceback" not in said(result)


def test_scripts_up_hands_its_arguments_to_medmij_up() -> None:
    """`./scripts/up ARGS` must reach `medmij up ARGS`, not read ARGS as pip extras."""
    venv = Path(sys.prefix)
    if not any((venv / stamp).exists() for stamp in (".installed", ".installed-test")):
        pytest.skip("this virtual environment was not made by scripts/ (it would reinstall)")
    project = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        ["bash", str(project / "scripts" / "up"), "--help"],
        capture_output=True,
        text=True,
        env={**os.environ, "MEDMIJ_VENV": str(venv), "COLUMNS": "200"},
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Usage: medmij up" in done.stdout
    assert "--world" in done.stdout


def _commands() -> dict[str, TyperCommand]:
    group = typer.main.get_command(app)
    assert isinstance(group, TyperGroup)
    commands = {name: command for name, command in group.commands.items()}
    assert all(isinstance(command, TyperCommand) for command in commands.values())
    return cast("dict[str, TyperCommand]", commands)


def _help_line(help_text: str, option: str) -> str:
    # An option's own line starts with its name after two spaces; wrapped help is deeper.
    entry = re.compile(rf"  {re.escape(option)}(?![\w-])")
    lines = [line for line in help_text.splitlines() if entry.match(line)]
    assert len(lines) == 1, (option, help_text)
    return lines[0].strip()


def _options(command: TyperCommand | TyperGroup) -> list[TyperOption]:
    """Every option, --help included (it is made per context)."""
    context = command.make_context("medmij", ["--help"], resilient_parsing=True)
    return [param for param in command.get_params(context) if isinstance(param, TyperOption)]


@pytest.mark.parametrize("name", [*sorted(_commands()), ""])
def test_help_shows_every_on_off_option_as_a_flag_and_every_other_with_its_value(
    name: str,
) -> None:
    """`--free-ports` is shown as a flag, not as `--free-ports <bool>`; the same for every
    boolean option of every command (and --help itself), and a value option keeps its
    placeholder, so the test cannot pass by showing no placeholders at all."""
    group = typer.main.get_command(app)
    assert isinstance(group, TyperGroup)
    command = _commands()[name] if name else group
    result = run(*([name] if name else []), "--help")
    assert result.exit_code == 0, result.output
    shown = result.stdout
    assert "<bool>" not in shown
    assert "BOOLEAN" not in shown
    options = _options(command)
    assert any(option.opts == ["--help"] for option in options)
    for option in options:
        if option.hidden:
            continue
        line = _help_line(shown, option.opts[0])
        names = " / ".join([", ".join(option.opts), *option.secondary_opts])
        if option.is_flag:
            # The names, then the help text: nothing that looks like a value in between.
            assert re.match(rf"{re.escape(names)}(\s{{2,}}|$)", line), line
        else:
            assert re.match(rf"{re.escape(option.opts[0])} <[^>]+>", line), line


@pytest.mark.parametrize("name", sorted(_commands()))
def test_every_boolean_option_is_a_flag_that_takes_no_value(name: str) -> None:
    command = _commands()[name]
    for option in _options(command):
        annotation = option.type_descriptor.annotation
        if (annotation is bool or option.is_flag) and option.expose_value:
            assert option.is_flag, (name, option.name)
            assert option.is_bool_flag, (name, option.name)
            # A flag that took a value would swallow the next option here.
            context = command.make_context(name, [option.opts[0], "--help"], resilient_parsing=True)
            assert context.params[option.name or ""] is True, (name, option.name)
