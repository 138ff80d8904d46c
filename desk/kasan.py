"""The 加算 schemes by date, as data (desk/data/kasan_schemes.json), and what a month's usage reaches.

A month's マイナ保険証 rate counts for the 加算 of a later month: 3 months later on the レセプト件数
basis (from 2025-04 the best of the months 3, 4 and 5 before may be used, so one month's rate feeds
three application months); 2 months later on the オンライン資格確認件数 basis while the seed allowed it
(applications 2024-10 to 2025-01). `schemes_for_month` lists every (scheme, application month, basis)
a month's rate feeds, with the tier it reaches, the points, and how many more patients by マイナ保険証
the next tier needed. Values the sources leave open are None and named in `open`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from fractions import Fraction
from functools import cache
from importlib import resources
from typing import Literal

from pydantic import Field, ValidationError, model_validator

from desk.models import Model

__all__ = [
    "SchemePeriod", "SchemeAssessment", "periods", "schemes_for_month", "shift_month", "month_text", "parse_ym", "tier_reached",
]

YearMonth = tuple[int, int]
Basis = Literal["online", "receipt"]


def parse_ym(text: str) -> YearMonth:
    year, month = text.split("-")
    return int(year), int(month)


def month_text(ym: YearMonth) -> str:
    return f"{ym[0]:04d}-{ym[1]:02d}"


def shift_month(ym: YearMonth, months: int) -> YearMonth:
    index = ym[0] * 12 + ym[1] - 1 + months
    return index // 12, index % 12 + 1


class BasisRule(Model):
    basis: Basis
    months_before: list[int] | None  # None: which month counts is open


class SchemePeriod(Model):
    name: str
    applies_from: str = Field(pattern=r"^\d{4}-\d{2}$")
    applies_until: str | None = Field(pattern=r"^\d{4}-\d{2}$")
    results_label: str | None = None
    requirement: Literal["none", "usage", "floor"]
    bases: list[BasisRule]
    online_basis_until: str | None = None
    thresholds_percent: dict[str, int] | None
    pediatric_thresholds_percent: dict[str, int] | None
    points: dict[str, dict[str, int | None] | None]
    points_note: str = ""
    source: str = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> SchemePeriod:
        if self.requirement != "none" and not (self.bases and self.thresholds_percent):
            raise ValueError(f"{self.applies_from}: a usage requirement needs its bases and thresholds")
        if self.requirement == "usage" and self.thresholds_percent:
            values = [self.thresholds_percent[k] for k in sorted(self.thresholds_percent)]
            if values != sorted(values, reverse=True):
                raise ValueError(f"{self.applies_from}: tier 1 needs the highest rate")
        return self

    def covers(self, ym: YearMonth) -> bool:
        return parse_ym(self.applies_from) <= ym and (self.applies_until is None or ym <= parse_ym(self.applies_until))


@cache
def periods() -> tuple[SchemePeriod, ...]:
    """The table, checked: one period after the other, no gap, no overlap, the last open-ended."""
    text = resources.files("desk.data").joinpath("kasan_schemes.json").read_text(encoding="utf-8")
    try:
        rows = tuple(SchemePeriod.model_validate(p) for p in json.loads(text)["periods"])
    except (ValidationError, KeyError, ValueError) as exc:  # a transcription error in the shipped table
        raise RuntimeError(f"desk/data/kasan_schemes.json: {exc}") from exc
    for earlier, later in zip(rows, rows[1:], strict=False):
        assert earlier.applies_until is not None
        if shift_month(parse_ym(earlier.applies_until), 1) != parse_ym(later.applies_from):
            raise RuntimeError(f"desk/data/kasan_schemes.json: {earlier.applies_until} → {later.applies_from} is not contiguous")
    if rows[-1].applies_until is not None:
        raise RuntimeError("desk/data/kasan_schemes.json: the last period must be open-ended")
    return rows


def period_for(ym: YearMonth) -> SchemePeriod | None:
    return next((p for p in periods() if p.covers(ym)), None)


class SchemeAssessment(Model):
    """One application month a month's rate feeds (the `schemes` of `desk stats --json`)."""

    name: str
    applies_to: str
    basis: Basis
    months_before: int
    rate_percent: float | None
    approximate: bool = Field(description="receipt basis without the facility's レセプト件数: online confirmations stand in")
    thresholds_percent: dict[str, int | None] | None
    pediatric_exception: bool
    tier: int | None = Field(description="1 best; 0 below every tier; None when the rate does not decide it")
    floor_met: bool | None = None
    points: dict[str, int | None] | None = None
    gap_patients: int | None = Field(default=None, description="more マイナ保険証 patients this month for the next tier (or the floor)")
    open: list[str] = Field(default_factory=list)
    note: str = ""
    source: str


def tier_reached(rate: Fraction, thresholds: Mapping[str, int]) -> int:
    """Highest tier (1 best) whose threshold the exact rate reaches (以上); 0 when below them all."""
    for tier, percent in sorted(thresholds.items(), key=lambda item: int(item[0])):
        if rate >= percent:
            return int(tier)
    return 0


def _gap(myna: int, denominator: int, percent: int) -> int:
    """Patients who would have had to come by マイナ保険証 instead of otherwise to reach `percent`."""
    return max(0, math.ceil(Fraction(percent, 100) * denominator - myna))


def _assess(
    period: SchemePeriod, applies: YearMonth, basis: Basis, lag: int, lag_open: bool, myna: int, online: int,
    receipts: int | None, pediatric: bool, fee: str | None,
) -> SchemeAssessment:
    denominator = receipts if basis == "receipt" and receipts is not None else online
    rate = Fraction(myna * 100, denominator) if denominator else None
    thresholds: dict[str, int | None] = dict(period.thresholds_percent or {})
    if pediatric and period.pediatric_thresholds_percent:
        thresholds.update(period.pediatric_thresholds_percent)
    open_items = ["適用月に使う実績の月"] if lag_open else []
    fee_points = period.points.get(fee) if fee else None
    if fee and fee_points is None:
        open_items.append(f"{fee}の点数")
    common = {
        "name": period.name, "applies_to": month_text(applies), "basis": basis, "months_before": lag,
        "rate_percent": None if rate is None else round(float(rate), 2),
        "approximate": basis == "receipt" and receipts is None,
        "thresholds_percent": thresholds, "pediatric_exception": pediatric and bool(period.pediatric_thresholds_percent),
        "source": period.source, "note": period.points_note,
    }
    if period.requirement == "floor":
        floor = min(v for v in thresholds.values() if v is not None)
        met = rate is not None and rate >= floor
        return SchemeAssessment(
            **common, tier=None, floor_met=met, points=fee_points, open=open_items + ["区分（電子処方箋・電子カルテ情報共有の体制による）"],
            gap_patients=None if met or not denominator else _gap(myna, denominator, floor),
        )
    decided = {k: v for k, v in thresholds.items() if v is not None}
    tier = tier_reached(rate, decided) if rate is not None else 0
    points = None
    if fee_points and tier:
        points = {f"加算{tier}": fee_points.get(str(tier))}
        if str(tier + 3) in fee_points:  # from 2025-04: the same tier without 電子処方箋 is 加算4-6
            points[f"加算{tier + 3}"] = fee_points.get(str(tier + 3))
        open_items += [f"{k}の点数" for k, v in points.items() if v is None]
    better = [int(t) for t in decided if int(t) < tier or tier == 0]
    gap = None
    if better and denominator:
        target = max(better)  # the next tier up
        gap = _gap(myna, denominator, decided[str(target)])
    return SchemeAssessment(**common, tier=tier, points=points, gap_patients=gap, open=open_items)


def schemes_for_month(
    month: YearMonth, myna: int, online: int, *, receipts: int | None = None, pediatric: bool = False, fee: str | None = None,
) -> list[SchemeAssessment]:
    """Every 加算 application this month's rate feeds, in order of application month."""
    found = []
    for lag in range(1, 7):
        applies = shift_month(month, lag)
        period = period_for(applies)
        if period is None or period.requirement == "none":
            continue
        for rule in period.bases:
            lags = rule.months_before or [3]  # open: the 3 months of the previous schemes, said so
            if lag not in lags:
                continue
            if rule.basis == "online" and period.online_basis_until and applies > parse_ym(period.online_basis_until):
                continue
            found.append(_assess(period, applies, rule.basis, lag, rule.months_before is None, myna, online, receipts, pediatric, fee))
    return found
