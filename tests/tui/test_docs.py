"""The screenshots in docs/ are the accepted snapshots, byte for byte."""

from __future__ import annotations

import pytest

from tests.tui.docs_screenshots import DOCS, SCREENSHOTS, SNAPSHOTS


@pytest.mark.parametrize(("test", "name"), sorted(SCREENSHOTS.items()))
def test_docs_screenshot_matches_snapshot(test: str, name: str) -> None:
    doc = DOCS / f"{name}.svg"
    assert doc.exists(), f"run: python -m tests.tui.docs_screenshots (missing {doc.name})"
    assert doc.read_bytes() == (SNAPSHOTS / f"{test}.svg").read_bytes(), (
        f"docs/{doc.name} is stale: run python -m tests.tui.docs_screenshots"
    )
