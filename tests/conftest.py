"""Fixtures every test package may use.

`../shared/data` (MedMij XSDs and examples, Nictiz material) sits beside the project in
development and CI but not on a user's machine: tests that need it skip with a reason.
MEDMIJ_SHARED_DATA points somewhere else.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("MEDMIJ_SHARED_DATA", PROJECT_ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder with the official MedMij and Nictiz material; skips when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"official reference material not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def medmij_data(shared_data: Path) -> Path:
    """Official MedMij list XSDs (xsd/) and examples (examples/); skips when they are absent."""
    folder = shared_data / "medmij"
    if not folder.is_dir():
        pytest.skip(f"MedMij list XSDs and examples not found at {folder}")
    return folder


@pytest.fixture(scope="session")
def fhir_profiles(shared_data: Path) -> Path:
    """The Nictiz profile folders (zib2017 STU3, nl-core R4, Vaccination-Immunization);
    skips when they are absent."""
    folder = shared_data / "fhir-profiles"
    if not folder.is_dir():
        pytest.skip(f"FHIR profiles not found at {folder}")
    return folder


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Under CI=true a skipped test fails the run: CI installs everything the suite needs.

    On a developer's machine tests that need PostgreSQL, Chromium or the official material
    skip with their reason; in CI such a skip would hide a test that never ran.
    """
    if os.environ.get("CI", "").lower() != "true" or exitstatus != 0:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter is not None else []
    if skipped:
        reasons = sorted({str(report.longrepr[-1]) for report in skipped if report.longrepr})
        if reporter is not None:
            reporter.ensure_newline()
            reporter.write_line(
                f"CI=true: {len(skipped)} test(s) skipped, which CI does not allow:", red=True
            )
            for reason in reasons:
                reporter.write_line(f"  {reason}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
