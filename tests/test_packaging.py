"""The distribution installs exactly one top-level import name, `medmij_stack`.

Generic or taken names (`medmij` is installed by the `medmij-lists` distribution, `pgo` is a
distribution of its own, `stack` and `authserver` are anyone's) would overwrite or be
overwritten by another package in the same environment.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # Built from a copy: setuptools leaves a build/ folder behind, and a stale one would
    # carry modules that no longer exist into the next wheel.
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    for name in ("shared", "services"):
        shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(out), str(source)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if built.returncode != 0 and "No module named" in built.stderr:
        pytest.skip(f"cannot build a wheel here: {built.stderr.strip()[-200:]}")
    assert built.returncode == 0, built.stderr
    (path,) = out.glob("medmij_reference_stack-*.whl")
    return path


def test_the_wheel_installs_one_top_level_name(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    tops = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert tops == {"medmij_stack"}


def test_the_wheel_holds_every_package_and_its_data(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    for package in ("protocol", "runtime", "testscript", "authserver", "zorgaanbieder", "pgo",
                    "stelselnode", "collector", "wiring"):  # fmt: skip
        assert f"medmij_stack/{package}/__init__.py" in names
        assert f"medmij_stack/{package}/py.typed" in names
    # Package data travels with the code: schemas, templates, the default world, migrations.
    assert "medmij_stack/wiring/worlds/default.toml" in names
    assert any(n.startswith("medmij_stack/protocol/lists/xsd/") for n in names)
    assert any(n.startswith("medmij_stack/authserver/templates/") for n in names)
    assert any(n.startswith("medmij_stack/authserver/migrations/versions/") for n in names)
    # The namespace itself has no __init__: it is spread over shared/ and services/.
    assert "medmij_stack/__init__.py" not in names


def test_the_entry_point_names_the_namespaced_cli(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        (entry_points,) = [n for n in archive.namelist() if n.endswith("entry_points.txt")]
        text = archive.read(entry_points).decode()
    assert "medmij = medmij_stack.wiring.cli:app" in text
