"""The documents a patient may present instead of a readable card, by date
(desk/data/documents.json): every boundary day, and `desk check --numbers --document`."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from desk.cli import main
from desk.documents import Document, rule_for, rules

D = dt.date
SATO = ["01130012", "4012", "1508", "00", "1985-04-12"]


def test_every_rule_names_its_source_and_open_values_are_said() -> None:
    assert all(r.source and r.step for r in rules())
    assert {r.open is not None for r in rules() if r.decision == "refuse" and r.from_ == D(2026, 4, 1)} == {True}


# (document, with the card, day, decision): the day before, the first and the last day of each rule
@pytest.mark.parametrize(("document", "with_card", "day", "decision"), [
    (Document.KAKUNINSHO, False, D(2024, 12, 2), "accept"),
    (Document.KAKUNINSHO, False, D(2026, 12, 1), "accept"),
    (Document.HEALTH_CARD, False, D(2025, 12, 1), "accept"),
    (Document.HEALTH_CARD, False, D(2025, 12, 2), "transitional"),
    (Document.HEALTH_CARD, True, D(2025, 12, 2), "transitional"),
    (Document.HEALTH_CARD, False, D(2026, 3, 31), "transitional"),
    (Document.HEALTH_CARD, False, D(2026, 4, 1), "refuse"),
    (Document.NOTICE, False, D(2025, 11, 11), "refuse"),
    (Document.NOTICE, False, D(2025, 11, 12), "transitional"),
    (Document.NOTICE, False, D(2026, 3, 31), "transitional"),
    (Document.NOTICE, False, D(2026, 4, 1), "refuse"),
    (Document.NOTICE, True, D(2024, 12, 2), "accept"),
    (Document.NOTICE, True, D(2026, 4, 1), "accept"),
])
def test_rule_of_the_day(document: Document, with_card: bool, day: dt.date, decision: str) -> None:
    assert rule_for(document, day, with_card=with_card).decision == decision


@pytest.mark.parametrize(("document", "extra", "today", "code", "name", "first_step"), [
    ("shikaku-kakuninsho", [], "2026-12-01", 1, "有効", "document_shikaku_kakuninsho_accept"),
    ("health-card", [], "2026-03-31", 1, "有効", "document_health_card_transitional"),
    ("health-card", [], "2026-04-01", None, "document_not_accepted", "document_health_card_refuse"),
    ("notice", [], "2026-04-01", None, "document_not_accepted", "document_notice_refuse"),
    ("notice", ["--with-card"], "2026-04-01", 1, "有効", "document_notice_accept"),
])
def test_desk_check_numbers_with_a_document(tmp_path, capsys, document, extra, today, code, name, first_step) -> None:
    args = ["check", "--sim-dir", str(tmp_path), "--numbers", *SATO, "--document", document, *extra, "--today", today, "--json"]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["outcome"]["code"], out["outcome"]["name"]) == (code, name)
    assert out["steps"][0]["code"] == first_step and out["document"]["name"] == document
    if code is None:  # refused: nothing was asked, nothing recorded, no result file
        assert out["record"] is None and not list((tmp_path / "res").glob("OQS_*"))
        assert out["steps"][1:]  # and what to do instead
    else:
        assert out["record"] == "journal"


def test_with_card_needs_a_document(tmp_path, capsys) -> None:
    assert main(["check", "--sim-dir", str(tmp_path), "--numbers", *SATO, "--with-card"]) == 2
    assert "--with-card は --document と一緒に" in capsys.readouterr().err


def test_overlapping_or_missing_rules_are_refused() -> None:
    from desk.documents import _check

    table = rules()
    health = [r for r in table if r.document is Document.HEALTH_CARD and r.later_elderly is False]
    overlapping = (*table, health[1].model_copy(update={"decision": "refuse"}))
    with pytest.raises(RuntimeError, match="2 rules"):
        _check(overlapping)
    with pytest.raises(RuntimeError, match="0 rules"):
        _check(tuple(r for r in table if r is not health[1]))  # a gap between two periods
