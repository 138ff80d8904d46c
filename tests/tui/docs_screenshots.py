"""Copy the accepted snapshots to docs/ under readable names: `python -m tests.tui.docs_screenshots`.

tests/tui/test_docs.py checks the copies still match, so the README never shows a stale screen.
"""

from __future__ import annotations

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOTS = Path(__file__).resolve().parent / "__snapshots__" / "test_snapshots"
DOCS = ROOT / "docs"

# snapshot test name -> docs/<name>.svg
SCREENSHOTS = {
    "test_choosing": "tui-choosing",
    "test_pin_pad_after_a_wrong_pin": "tui-pin",
    "test_face_rejected": "tui-face",
    "test_visual_single_screen": "tui-visual",
    "test_consent": "tui-consent",
    "test_result_valid": "tui-result-valid",
    "test_result_renewal_alert": "tui-result-renewal",
    "test_result_invalid": "tui-result-invalid",
    "test_result_not_found": "tui-result-not-found",
    "test_failure_central_down": "tui-failure-central-down",
    "test_numbers_query": "tui-numbers",
    "test_training_picker": "tui-training",
    "test_statistics": "tui-statistics",
    "test_phone_android_choosing": "tui-phone-android",
    "test_phone_iphone_not_opened": "tui-phone-iphone-not-opened",
    "test_two_lanes": "tui-lanes",
}


def main() -> None:
    DOCS.mkdir(exist_ok=True)
    for test, name in SCREENSHOTS.items():
        shutil.copyfile(SNAPSHOTS / f"{test}.svg", DOCS / f"{name}.svg")
        print(f"docs/{name}.svg")


if __name__ == "__main__":
    main()
