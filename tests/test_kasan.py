"""The 加算 schemes by date (desk/data/kasan_schemes.json): every boundary month, the months a
rate feeds, open values marked, and the `schemes` contract of `desk stats --json`."""

from __future__ import annotations

import json

import pytest

from desk.cli import main
from desk.journal import Journal
from desk.kasan import periods, schemes_for_month, shift_month
from tests.test_stats import fill


def _applications(month: tuple[int, int], myna: int = 50, online: int = 100, **kwargs):
    return [(s.applies_to, s.basis, s.months_before) for s in schemes_for_month(month, myna, online, **kwargs)]


def test_every_period_has_a_source_and_they_follow_each_other() -> None:
    rows = periods()
    assert rows[0].applies_from == "2024-06" and rows[-1].applies_until is None
    assert all(p.source for p in rows)
    for earlier, later in zip(rows, rows[1:], strict=False):
        assert earlier.applies_until is not None and shift_month(tuple(map(int, earlier.applies_until.split("-"))), 1) == tuple(
            map(int, later.applies_from.split("-"))
        )


# (results month, [(application month, basis, months before)]) on the boundaries of each period
@pytest.mark.parametrize(("month", "expected"), [
    ((2024, 6), [("2024-09", "receipt", 3)] * 0),  # 2024-08/09 have no usage requirement
    ((2024, 7), [("2024-10", "receipt", 3)]),  # the first month that counts
    ((2024, 8), [("2024-10", "online", 2), ("2024-11", "receipt", 3)]),
    # the last online-basis application; and April 2025 may take the best of Nov, Dec and Jan
    ((2024, 11), [("2025-01", "online", 2), ("2025-02", "receipt", 3), ("2025-04", "receipt", 5)]),
    ((2024, 12), [("2025-03", "receipt", 3), ("2025-04", "receipt", 4), ("2025-05", "receipt", 5)]),  # 2025-02 online: no longer
    ((2025, 1), [("2025-04", "receipt", 3), ("2025-05", "receipt", 4), ("2025-06", "receipt", 5)]),
    ((2026, 1), [("2026-04", "receipt", 3), ("2026-05", "receipt", 4), ("2026-06", "receipt", 5)][:2]),  # 2026-06: its lag is open, 3 assumed
    ((2026, 3), [("2026-06", "receipt", 3)]),
])
def test_which_applications_a_months_rate_feeds(month, expected) -> None:
    assert _applications(month) == expected


@pytest.mark.parametrize(("applies", "thresholds", "pediatric"), [
    ((2024, 10), {"1": 15, "2": 10, "3": 5}, None),
    ((2024, 12), {"1": 15, "2": 10, "3": 5}, None),
    ((2025, 1), {"1": 30, "2": 20, "3": 10}, None),
    ((2025, 3), {"1": 30, "2": 20, "3": 10}, None),
    ((2025, 4), {"1": 45, "2": 30, "3": 15}, 12),
    ((2025, 9), {"1": 45, "2": 30, "3": 15}, 12),
    ((2025, 10), {"1": 60, "2": 40, "3": 25}, 22),
    ((2026, 2), {"1": 60, "2": 40, "3": 25}, 22),
    ((2026, 3), {"1": 70, "2": 50, "3": 30}, 27),
    ((2026, 5), {"1": 70, "2": 50, "3": 30}, 27),
])
def test_thresholds_on_the_first_and_last_month_of_each_period(applies, thresholds, pediatric) -> None:
    month = shift_month(applies, -3)
    (found,) = [s for s in schemes_for_month(month, 1, 100) if s.applies_to == f"{applies[0]:04d}-{applies[1]:02d}" and s.basis == "receipt"]
    assert found.name == "医療DX推進体制整備加算" and found.thresholds_percent == thresholds
    (child,) = [s for s in schemes_for_month(month, 1, 100, pediatric=True) if s.applies_to == found.applies_to and s.basis == "receipt"]
    assert child.thresholds_percent["3"] == (pediatric or thresholds["3"]) and child.pediatric_exception is (pediatric is not None)


@pytest.mark.parametrize(("myna", "online", "tier", "gap"), [
    (70, 100, 1, None), (69, 100, 2, 1), (50, 100, 2, 20), (49, 100, 3, 1), (30, 100, 3, 20), (29, 100, 0, 1), (0, 0, 0, None),
])
def test_tier_and_gap_at_the_2026_03_thresholds(myna, online, tier, gap) -> None:
    (first, *_) = schemes_for_month((2025, 12), myna, online, fee="医科")
    assert (first.applies_to, first.tier, first.gap_patients) == ("2026-03", tier, gap)
    if tier:
        assert first.points == {f"加算{tier}": {1: 12, 2: 11, 3: 10}[tier], f"加算{tier + 3}": {1: 10, 2: 9, 3: None}[tier]}
        assert ("加算6の点数" in first.open) is (tier == 3)  # 8 or 9 points: the sources disagree


def test_pediatric_exception_lowers_only_tier_3() -> None:
    (plain, *_) = schemes_for_month((2025, 12), 28, 100)
    (child, *_) = schemes_for_month((2025, 12), 28, 100, pediatric=True)
    assert plain.tier == 0 and child.tier == 3 and child.thresholds_percent["1"] == 70


def test_from_june_2026_the_floor_and_the_open_values() -> None:
    (new,) = schemes_for_month((2026, 3), 31, 100, fee="医科")
    assert new.name == "電子的診療情報連携体制整備加算" and new.applies_to == "2026-06"
    assert new.tier is None and new.floor_met is True and new.points == {"1": 15, "2": 9, "3": 4}
    assert "適用月に使う実績の月" in new.open and any("電子処方箋" in o for o in new.open)
    (below,) = schemes_for_month((2026, 3), 25, 100)
    assert below.floor_met is False and below.gap_patients == 5


def test_receipt_basis_uses_the_facilitys_receipt_count() -> None:
    (estimate, *_) = schemes_for_month((2025, 12), 60, 100)
    (exact, *_) = schemes_for_month((2025, 12), 60, 200, receipts=100)  # 60 of 100 receipts, 200 confirmations
    assert estimate.approximate and not exact.approximate and exact.rate_percent == 60.0 and exact.tier == 2


def test_desk_stats_json_schemes_contract(tmp_path, capsys) -> None:
    journal_path = tmp_path / "j.sqlite3"
    with Journal(journal_path) as j:
        fill(j, (2026, 1), myna=6, numbers=4)
    assert main(["stats", "--month", "2026-01", "--journal", str(journal_path), "--json", "--receipts", "12"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["month"] == "2026-01" and out["rate_percent"] == 60.0 and out["receipt_count"] == 12
    assert [s["applies_to"] for s in out["schemes"]] == ["2026-04", "2026-05"]
    for scheme in out["schemes"]:
        assert {"name", "applies_to", "basis", "thresholds_percent", "tier", "source"} <= set(scheme)
        assert scheme["basis"] == "receipt" and scheme["tier"] == 2 and scheme["rate_percent"] == 50.0  # 6 of 12 receipts
        assert scheme["thresholds_percent"] == {"1": 70, "2": 50, "3": 30}
    assert main(["stats", "--month", "2026-01", "--journal", str(journal_path), "--receipts", "-1"]) == 2


def test_a_damaged_period_is_refused() -> None:
    from pydantic import ValidationError

    from desk.kasan import SchemePeriod

    good = periods()[3].model_dump()
    with pytest.raises(ValidationError, match="tier 1 needs the highest rate"):
        SchemePeriod.model_validate(good | {"thresholds_percent": {"1": 30, "2": 45, "3": 15}})
    with pytest.raises(ValidationError):
        SchemePeriod.model_validate(good | {"source": ""})  # every period names its source
