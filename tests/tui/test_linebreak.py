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


def test_fields_stay_whole_and_wrap_under_the_text():
    from desk.tui.linebreak import wrap_fields

    text = "被保険者  記号 4012  番号 1508  枝番 00\n生年月日  1985-04-12  性別 女  本人\n短い"
    assert wrap_fields(text, 30, indent=10) == [
        "被保険者  記号 4012  番号 1508",
        "          枝番 00",
        "生年月日  1985-04-12  性別 女",
        "          本人",
        "短い",
    ]
    assert wrap_fields(text, 60, indent=10) == text.split("\n")  # wide enough: unchanged
    # a field wider than a line is broken as Japanese text, still under the text
    long = wrap_fields("同意      薬剤情報・診療情報・特定健診情報・手術情報（24時間有効）", 30, indent=10)
    assert long[0].startswith("同意      薬剤") and all(line.startswith(" " * 10) for line in long[1:])
    assert not any(line.strip().startswith(("）", "・", "、")) for line in long)


def test_a_line_without_a_label_wraps_flush_left():
    from desk.tui.linebreak import wrap_fields

    message = "iPhoneの画面でマイナ保険証を開き、Face ID または Touch ID で本人確認を済ませてください。"
    lines = wrap_fields(message + "\n氏名      佐藤　花子", 30, indent=10)
    assert len(lines) > 2 and not lines[1].startswith(" ")  # no hanging indent: it has no label
    assert lines[-1] == "氏名      佐藤　花子"
