"""A whole attempt and its retry on each database the PGO supports: SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from medmij_stack.protocol.funnel import FailureReason
from tests.databases import BACKENDS, fresh_database

from .harness import ZIEKENHUIS, Failing, running_pgo, text


@pytest.mark.parametrize("backend", BACKENDS)
async def test_fetch_fail_and_retry_on_each_database(backend: str, tmp_path: Path) -> None:
    with fresh_database(backend, tmp_path, "pgo") as url:
        async with running_pgo(tmp_path, database_url=url) as pw:
            person = pw.person()
            await person.sign_up()
            pw.retrieval.failing[("48", "Alert")] = Failing(FailureReason.RESOURCE_ERROR, 500, "x")
            failed, page = await person.fetch(ZIEKENHUIS, langdurig=True)
            assert "Niet alle gegevens zijn opgehaald" in text(page)
            del pw.retrieval.failing[("48", "Alert")]
            retry = await person.post("/opnieuw", flow_id=failed)
            # With langdurige toestemming the retry needs no login.
            assert retry.headers["location"].startswith("/ophalen/")
            done = await person.client.get(retry.headers["location"])
            assert "Je gegevens zijn opgehaald" in text(done)
            assert pw.retrieval.calls[-1].queries == ("Alert",)
            await person.client.aclose()
