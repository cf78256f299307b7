"""The collector imports no other service: its ruff.toml bans them, as every service's does."""

from __future__ import annotations

import pytest

from tests.protocol.test_purity import ROOT, ruff

COLLECTOR = ROOT / "services" / "medmij_stack" / "collector"


@pytest.mark.parametrize("other", ["authserver", "zorgaanbieder", "pgo", "stelselnode", "wiring"])
def test_the_linter_refuses_the_collector_importing_another_service(other: str) -> None:
    result = ruff(f"from medmij_stack.{other} import x\n\n__all__ = ['x']\n", COLLECTOR / "new.py")
    assert result.returncode == 1
    assert "TID251" in result.stdout


def test_the_collector_may_import_the_shared_runtime_and_protocol() -> None:
    source = (
        "from medmij_stack.protocol import ketenlog\n"
        "from medmij_stack.runtime import ketenlog_delivery\n\n"
        "__all__ = ['ketenlog', 'ketenlog_delivery']\n"
    )
    assert ruff(source, COLLECTOR / "new.py").returncode == 0
