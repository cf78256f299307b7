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
    """Official MedMij list XSDs (xsd/) and examples (examples/)."""
    return shared_data / "medmij"
