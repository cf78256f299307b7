"""The protocol core does no I/O and services never import each other: the linter holds
both boundaries by itself (ruff.toml in the core and in each service)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "shared" / "medmij_stack" / "protocol"
RUFF = (sys.executable, "-m", "ruff")  # ruff comes with the test extras


def ruff(source: str, where: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*RUFF, "check", "--no-cache", "--stdin-filename", str(where), "-"],
        input=source,
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )


@pytest.mark.parametrize(
    "statement",
    [
        "import httpx",
        "from httpx import AsyncClient",
        "import uvicorn",
        "from starlette.requests import Request",
        "from fastapi import FastAPI",
        "from sqlalchemy import select",
        "import sqlalchemy.orm",
        "import socket",
        "import ssl",
        "import asyncio",
        "from medmij_stack.runtime import net",
    ],
)
def test_the_linter_refuses_an_io_import_in_the_core(statement: str) -> None:
    result = ruff(f"{statement}\n\n__all__ = ['x']\nx = 1\n", CORE / "new_module.py")
    assert result.returncode == 1
    assert "TID251" in result.stdout


def test_the_same_import_is_allowed_outside_the_core() -> None:
    where = ROOT / "shared" / "medmij_stack" / "runtime" / "new_module.py"
    result = ruff("import httpx\n\n__all__ = ['httpx']\n", where)
    assert result.returncode == 0, result.stdout


def test_the_core_as_it_stands_passes_the_rule() -> None:
    result = ruff("", CORE / "__init__.py")
    assert result.returncode == 0
    whole = subprocess.run(
        [*RUFF, "check", "--no-cache", "--select", "TID251", str(CORE)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert whole.returncode == 0, whole.stdout


@pytest.mark.parametrize(
    ("service", "other"),
    [
        ("pgo", "authserver"),
        ("pgo", "zorgaanbieder"),
        ("authserver", "zorgaanbieder"),
        ("zorgaanbieder", "authserver"),
        ("stelselnode", "pgo"),
        ("authserver", "wiring"),
        ("pgo", "collector"),
        ("collector", "authserver"),
    ],
)
def test_the_linter_refuses_a_service_importing_another(service: str, other: str) -> None:
    where = ROOT / "services" / "medmij_stack" / service / "new_module.py"
    result = ruff(f"from medmij_stack.{other} import x\n\n__all__ = ['x']\n", where)
    assert result.returncode == 1
    assert "TID251" in result.stdout


def test_the_wiring_may_import_every_service() -> None:
    where = ROOT / "services" / "medmij_stack" / "wiring" / "new_module.py"
    source = "from medmij_stack.pgo import app\n\n__all__ = ['app']\n"
    assert ruff(source, where).returncode == 0
