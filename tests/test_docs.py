"""The repository documents itself: every reference into docs/ names a heading that exists,
and nothing points at notes outside the repository."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUTSIDE = re.compile(r"\b(DESIGN|MEDMIJ|QUALIFICATION|STYLE)\.md\b")
REFERENCE = re.compile(r"docs/([a-z_-]+\.md)#([a-z0-9-]+)")


def tracked() -> list[Path]:
    names = subprocess.run(
        ["git", "ls-files", "*.py", "*.md", "*.toml", "*.html", "*.yml"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    return [ROOT / name for name in names if (ROOT / name).is_file()]


def anchors(page: Path) -> set[str]:
    """GitHub's anchors of a Markdown page's headings."""
    found = set()
    for line in page.read_text("utf-8").splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            slug = re.sub(r"[^\w\- ]", "", title).replace(" ", "-")
            found.add(slug)
    return found


def test_no_file_points_at_notes_outside_the_repository() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in tracked()
        if path.name != "test_docs.py"
        for number, line in enumerate(path.read_text("utf-8").splitlines(), 1)
        if OUTSIDE.search(line)
    ]
    assert offenders == []


def test_every_reference_into_docs_names_an_existing_heading() -> None:
    known = {page.name: anchors(page) for page in (ROOT / "docs").glob("*.md")}
    broken = []
    for path in tracked():
        text = path.read_text("utf-8")
        for page, anchor in REFERENCE.findall(text):
            if anchor not in known.get(page, set()):
                broken.append(f"{path.relative_to(ROOT)}: docs/{page}#{anchor}")
    assert broken == []
    assert sum(len(REFERENCE.findall(p.read_text("utf-8"))) for p in tracked()) > 50
