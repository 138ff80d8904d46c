"""Japanese line breaking of the steps (desk/tui/linebreak.py)."""

from __future__ import annotations

import pytest
from rich.cells import cell_len

from desk.models import FailureName, Validity
from desk.rules import steps_for
from desk.tui.linebreak import wrap_japanese
from sim.fixtures import REFERENCE_DATE


def test_no_break_inside_words_or_numbers() -> None:
    lines = wrap_japanese("保険者番号は「77777777」、マイナンバーカードと併せて2026-03-31まで", 20)
    assert all("77777777" in line or "7777" not in line for line in lines)
    assert any("マイナンバーカード" in line for line in lines)
    assert any("2026-03-31" in line for line in lines)


def test_no_line_starts_with_closing_punctuation_or_ends_with_an_opening_one() -> None:
    text = "確認してください。次に、「資格確認書」（または保険証）を① 受け取り② 返してください。"
    for width in range(8, 40):
        lines = wrap_japanese(text, width)
        assert "".join(lines).replace(" ", "") == text.replace(" ", "")
        for line in lines[1:]:
            assert line[0] not in "。、」）", (width, lines)
        for line in lines[:-1]:
            assert line.rstrip()[-1] not in "「（①②", (width, lines)


@pytest.mark.parametrize("outcome", [Validity.NOT_FOUND, FailureName.CENTRAL_DOWN, FailureName.CERT_BEYOND_GRACE])
@pytest.mark.parametrize("width", [30, 46, 70])
def test_every_step_fits_and_keeps_its_text(outcome, width) -> None:
    for step in steps_for(outcome, today=REFERENCE_DATE):
        lines = wrap_japanese(step.text, width, indent=2)
        assert all(cell_len(line) <= width for line in lines)
        assert all(line.startswith("  ") for line in lines[1:])  # hanging indent
        assert "".join(line.strip() for line in lines).replace(" ", "") == step.text.replace(" ", "")
