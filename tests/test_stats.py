"""Usage rate, 医療DX推進体制整備加算 tiers, the transcribed seed rates and `desk stats`."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from desk.cli import main
from desk.journal import JST, ConfirmationRecord, Journal
from desk.models import AuthMethod, Channel, FacilityType, FailureName, Validity
from desk.seed_stats import CATEGORIES, PREFECTURES, normalize_prefecture, prefecture_rates, seed_usage_rates
from desk.stats import StatsError, assess, monthly_usage, parse_month, rate_percent, render_text, tier_for


def fill(journal: Journal, month: tuple[int, int], myna: int, numbers: int, *, failures: int = 0) -> None:
    at = dt.datetime(month[0], month[1], 15, 10, 0, tzinfo=JST)
    for _ in range(myna):
        journal.record_confirmation(
            ConfirmationRecord(at=at, channel=Channel.MYNA, method=AuthMethod.FACE, validity=Validity.VALID, facility_type=FacilityType.NORMAL)
        )
    for _ in range(numbers):
        journal.record_confirmation(
            ConfirmationRecord(at=at, channel=Channel.NUMBERS, method=AuthMethod.NONE, validity=Validity.VALID, facility_type=FacilityType.NORMAL)
        )
    for _ in range(failures):
        journal.record_confirmation(
            ConfirmationRecord(at=at, channel=Channel.MYNA, method=AuthMethod.PIN, failure=FailureName.PIN_BLOCKED, facility_type=FacilityType.NORMAL)
        )


# ---------------------------------------------------------------------------------------------
# tiers


R6 = {1: 15, 2: 10, 3: 5}
R7 = {1: 30, 2: 20, 3: 10}


@pytest.mark.parametrize(
    ("myna", "online", "thresholds", "tier"),
    [
        (15, 100, R6, 1),  # exactly 15% reaches 加算1 (以上)
        (1499, 10000, R6, 2),  # 14.99%
        (10, 100, R6, 2),
        (999, 10000, R6, 3),
        (5, 100, R6, 3),
        (499, 10000, R6, 0),
        (0, 0, R6, 0),
        (30, 100, R7, 1),
        (2999, 10000, R7, 2),
        (20, 100, R7, 2),
        (10, 100, R7, 3),
        (1, 11, R7, 0),  # 9.09%
        (1, 3, R7, 1),  # 33.3%
    ],
)
def test_tier_boundaries_are_exact(myna, online, thresholds, tier):
    assert tier_for(myna, online, thresholds) == tier


def _by_basis(month: str, myna: int, online: int, category: str | None = None):
    return {a.basis: a for a in assess(month, myna, online, category=category)}


def test_results_of_august_2024_apply_from_october_2024():
    a = _by_basis("2024-08", 15, 100, "medical_clinic")
    assert a["online"].applies_to == "2024-10" and a["online"].status == "decided"
    assert a["online"].thresholds == R6 and a["online"].tier == 1 and a["online"].points == {"医科": 11}
    assert a["receipt"].applies_to == "2024-11" and a["receipt"].tier == 1


def test_results_of_july_2024_receipt_basis_apply_from_october():
    a = _by_basis("2024-07", 10, 100, "dental_clinic")
    assert a["receipt"].applies_to == "2024-10" and a["receipt"].tier == 2 and a["receipt"].points == {"歯科": 8}
    assert a["online"].applies_to == "2024-09" and a["online"].status == "basis_not_allowed"


def test_results_of_october_2024_receipt_basis_apply_from_january_2025_with_new_thresholds():
    a = _by_basis("2024-10", 15, 100, "pharmacy")
    assert a["receipt"].applies_to == "2025-01" and a["receipt"].thresholds == R7 and a["receipt"].tier == 3
    assert a["receipt"].points == {"調剤": 4}
    # The online basis for the same results applies to December 2024, still under the R6.10 thresholds.
    assert a["online"].applies_to == "2024-12" and a["online"].thresholds == R6 and a["online"].tier == 1


def test_results_of_november_2024_online_basis_is_the_last_allowed():
    a = _by_basis("2024-11", 30, 100)
    assert a["online"].applies_to == "2025-01" and a["online"].tier == 1
    assert a["online"].points == {"医科": 11, "歯科": 9, "調剤": 7}
    assert _by_basis("2024-12", 30, 100)["online"].status == "basis_not_allowed"


@pytest.mark.parametrize(
    ("results", "applies", "thresholds"),
    [
        ("2024-12", "2025-03", {1: 30, 2: 20, 3: 10}),  # the seed's last period
        ("2025-01", "2025-04", {1: 45, 2: 30, 3: 15}),  # the first set after the seed
        ("2025-06", "2025-09", {1: 45, 2: 30, 3: 15}),
        ("2025-07", "2025-10", {1: 60, 2: 40, 3: 25}),
        ("2025-11", "2026-02", {1: 60, 2: 40, 3: 25}),
        ("2025-12", "2026-03", {1: 70, 2: 50, 3: 30}),
        ("2026-02", "2026-05", {1: 70, 2: 50, 3: 30}),  # the last month of the 医療DX推進体制整備加算
    ],
)
def test_thresholds_by_date_on_every_boundary(results, applies, thresholds):
    a = _by_basis(results, 44, 100)["receipt"]
    assert (a.applies_to, a.status, a.thresholds) == (applies, "decided", thresholds)
    assert a.source
    assert a.tier == min((t for t, p in thresholds.items() if p <= 44), default=0)


def test_from_june_2026_the_scheme_is_replaced_and_the_floor_is_reported():
    a = _by_basis("2026-03", 31, 100)["receipt"]
    assert a.applies_to == "2026-06" and a.status == "replaced" and a.tier is None
    assert "電子的診療情報連携体制整備加算" in a.note and "満たしています" in a.note and a.source
    assert "満たしていません" in _by_basis("2026-09", 29, 100)["receipt"].note


def test_before_october_2024_no_usage_requirement():
    a = _by_basis("2024-04", 0, 100, "hospital")
    assert a["receipt"].applies_to == "2024-07" and a["receipt"].status == "no_requirement"
    assert a["receipt"].points == {"医科": 8}
    assert _by_basis("2024-01", 0, 100)["receipt"].status == "not_applicable"


def test_below_tier_3_reaches_nothing():
    a = _by_basis("2024-08", 4, 100)["online"]
    assert a.tier == 0 and a.points is None and "達していません" in a.note


def test_parse_month_rejects_bad_input():
    assert parse_month("2026-01") == (2026, 1)
    for bad in ("2026-13", "2026/01", "26-01", ""):
        with pytest.raises(StatsError):
            parse_month(bad)


def test_rate_percent():
    assert rate_percent(1, 3) == 33.33 and rate_percent(0, 0) is None


# ---------------------------------------------------------------------------------------------
# journal → monthly usage


def test_monthly_usage_counts_only_answered_confirmations(tmp_path):
    with Journal(tmp_path / "j.sqlite3") as j:
        fill(j, (2024, 8), myna=3, numbers=17, failures=4)
        fill(j, (2024, 9), myna=50, numbers=0)
        usage = monthly_usage(j, "2024-08", category="medical_clinic", prefecture="東京")
    assert (usage.myna_count, usage.numbers_count, usage.online_count) == (3, 17, 20)
    assert usage.rate_percent == 15.0
    assert usage.prefecture == "東京都"
    assert usage.prefecture_rate_percent == 10.37 and usage.prefecture_overall_rate_percent == 12.38
    assert usage.national_rate_percent == 13.87
    text = render_text(usage)
    assert "15.00%" in text and "医療DX推進体制整備加算1" in text and "東京都の医科診療所 10.37%" in text


def test_outage_rerun_counts_in_its_channel(tmp_path):
    with Journal(tmp_path / "j.sqlite3") as j:
        qid = j.enqueue_outage(
            channel=Channel.MYNA, method=AuthMethod.PIN, facility_type=FacilityType.NORMAL,
            at=dt.datetime(2024, 8, 31, 18, 0, tzinfo=JST),
        )  # fmt: skip
        assert monthly_usage(j, "2024-08").online_count == 0
        j.complete_outage(qid, Validity.VALID, at=dt.datetime(2024, 9, 1, 9, 0, tzinfo=JST))
        assert monthly_usage(j, "2024-09").myna_count == 1


# ---------------------------------------------------------------------------------------------
# transcribed seed data


def test_seed_rates_cover_every_prefecture_and_category():
    data = seed_usage_rates()
    assert list(data.prefectures) == list(PREFECTURES) and len(PREFECTURES) == 47
    for category in CATEGORIES:
        ranks = sorted(data.prefectures[p].for_category(category).rank for p in PREFECTURES)
        assert ranks == list(range(1, 48)), category


def test_seed_rates_match_their_counts():
    # Each published rate is MNC利用件数 ÷ オン資件数; a mistyped digit would show here.
    for name, rates in seed_usage_rates().prefectures.items():
        for category in CATEGORIES:
            r = rates.for_category(category)
            assert abs(r.myna_count * 100 / r.online_count - r.rate_percent) < 0.006, (name, category)


def test_seed_national_breakdown_adds_up():
    for month, rows in seed_usage_rates().national_breakdown.items():
        parts = [rows[c] for c in CATEGORIES]
        assert sum(p.online_count for p in parts) == rows["total"].online_count, month
        for row in rows.values():
            assert row.myna_count + row.health_card_count == row.online_count


@pytest.mark.parametrize(
    ("prefecture", "overall", "clinic", "hospital", "dental", "pharmacy"),
    [
        ("富山県", 21.29, 16.80, 35.07, 29.11, 20.03),  # spot checks against the seed's tables
        ("沖縄", 6.24, 6.42, 11.11, 12.88, 4.75),
        ("北海道", 14.61, 13.11, 28.06, 16.37, 13.23),
    ],
)
def test_seed_spot_values(prefecture, overall, clinic, hospital, dental, pharmacy):
    r = prefecture_rates(prefecture)
    assert r is not None
    assert (r.overall.rate_percent, r.medical_clinic.rate_percent, r.hospital.rate_percent) == (overall, clinic, hospital)
    assert (r.dental_clinic.rate_percent, r.pharmacy.rate_percent) == (dental, pharmacy)


def test_normalize_prefecture():
    assert normalize_prefecture("京都") == "京都府" and normalize_prefecture("北海道") == "北海道"
    assert normalize_prefecture("北海") is None and normalize_prefecture("東京県") is None


# ---------------------------------------------------------------------------------------------
# CLI


@pytest.fixture
def no_config(tmp_path, monkeypatch):
    monkeypatch.setenv("MADOGUCHI_CONFIG", str(tmp_path / "missing" / "facility.json"))


def test_desk_stats_json(tmp_path, capsys, no_config):
    path = tmp_path / "j.sqlite3"
    with Journal(path) as j:
        fill(j, (2024, 10), myna=1, numbers=9)
    assert main(["stats", "--month", "2024-10", "--json", "--journal", str(path)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["rate_percent"] == 10.0 and out["online_count"] == 10
    by_basis = {a["basis"]: a for a in out["assessments"]}
    assert by_basis["online"]["tier"] == 2 and by_basis["receipt"]["tier"] == 3


def test_desk_stats_text_uses_facility_config(tmp_path, capsys, monkeypatch):
    from desk.facility import FacilityCategory, FacilityConfig, save_config

    journal_path = tmp_path / "j.sqlite3"
    with Journal(journal_path) as j:
        fill(j, (2026, 10), myna=2, numbers=2)
    cfg = tmp_path / "facility.json"
    save_config(
        FacilityConfig(
            medical_institution_code="2712345678", name="テスト薬局", category=FacilityCategory.PHARMACY,
            prefecture="大阪府", journal_path=journal_path,
        ),
        cfg,
    )  # fmt: skip
    monkeypatch.setenv("MADOGUCHI_CONFIG", str(cfg))
    assert main(["stats", "--month", "2026-10"]) == 0
    out = capsys.readouterr().out
    assert "50.00%" in out and "電子的診療情報連携体制整備加算" in out and "出典" in out and "大阪府の薬局 12.56%" in out


def test_desk_stats_errors(tmp_path, capsys, no_config, monkeypatch):
    monkeypatch.setenv("MADOGUCHI_SIM_DIR", str(tmp_path / "no-sim"))  # not the user's own training journal
    assert main(["stats", "--month", "2026-13", "--journal", str(tmp_path / "j.sqlite3")]) == 2
    assert main(["stats", "--month", "2026-10"]) == 2  # nowhere to read from
    assert main(["stats", "--month", "2026-10", "--journal", str(tmp_path / "none.sqlite3")]) == 2  # named, missing
    err = capsys.readouterr().err
    assert "YYYY-MM" in err and "none.sqlite3 がありません" in err


def test_desk_stats_counts_the_training_journal_when_no_facility_is_set_up(tmp_path, capsys, no_config, monkeypatch):
    sim = tmp_path / "sim"
    monkeypatch.setenv("MADOGUCHI_SIM_DIR", str(sim))
    assert main(["check", "--sim-dir", str(sim), "--card", "adult", "--method", "pin", "--pin", "1234", "--json"]) == 0
    capsys.readouterr()
    assert main(["stats", "--month", "2026-12", "--json"]) == 0  # the fixtures' day: 2026-12-01
    captured = capsys.readouterr()
    assert json.loads(captured.out)["myna_count"] == 1
    assert "訓練用の受付記録" in captured.err
