"""Monthly マイナ保険証 usage rate and the 医療DX推進体制整備加算 tier it reaches.

利用率 = マイナ保険証利用件数 / オンライン資格確認利用件数 (seed). From the journal: confirmations in the
month (Japan time) that the central system answered with an OQSCD006 code; マイナ保険証 = channel myna,
オンライン資格確認 = channels myna + numbers. Failures before the query (PIN, face, card pulled) and
障害時 attempts are not confirmations; an outage item re-run later counts in the month of the re-run.

Tiers, from the seed's table 「マイナ保険証利用率（案）」 (令和6年度診療報酬改定):

| 利用率実績          | 適用時期      | 加算1 | 加算2 | 加算3 |
|---------------------|---------------|-------|-------|-------|
| 令和6年7・8月～     | 令和6年10月～ | 15%   | 10%   | 5%    |
| 令和6年10・11月～   | 令和7年1月～  | 30%   | 20%   | 10%   |

- The rate used is the レセプト件数ベース rate of the month 3 months before the month of application;
  for 令和6年10月～令和7年1月 the オンライン資格確認件数ベース rate of 2 months before may be used instead.
  This journal counts online confirmations, so its rate is exactly the latter; for the former it is an
  approximation, and the output says so.
- 令和7年4月以降 (set after the seed; shared/research/real-world-2026.md §1, each row's source in
  TIER_RULES): 45/30/15% from 2025-04, 60/40/25% from 2025-10, 70/50/30% from 2026-03 (小児科特例
  12/22/27%, not modelled: the facility config does not say whether it applies). From 2026-06 the
  加算 is abolished and replaced by 電子的診療情報連携体制整備加算, whose tiers depend on 電子処方箋 /
  電子カルテ情報共有 readiness with a usage floor of 30% (how that 30% is measured is open): the
  output says so instead of a tier.
- 令和6年6月～9月: one 加算 (8点 / 歯科6点 / 調剤4点) without a usage requirement.

Points (初診時, seed): 加算1 11/9/7, 加算2 10/8/6, 加算3 8/6/4 (医科/歯科/調剤).
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Literal

from pydantic import Field

from desk.journal import SMARTPHONE_COUNT, JournalStore

# one calendar of months for the table and the statistics (desk/kasan.py checks the periods)
from desk.kasan import SchemeAssessment, parse_ym, schemes_for_month, shift_month, tier_reached
from desk.kasan import month_text as month_label
from desk.kasan import periods as kasan_periods
from desk.models import Channel, Model
from desk.seed_stats import CATEGORIES, normalize_prefecture, seed_usage_rates
from reader.staff_facing import StaffFacingError

__all__ = [
    "FEE_SCHEDULES",
    "TIER_POINTS",
    "FLAT_POINTS",
    "TierRule",
    "TIER_RULES",
    "TierAssessment",
    "MonthlyUsage",
    "StatsError",
    "parse_month",
    "month_label",
    "shift_month",
    "rate_percent",
    "tier_for",
    "assess",
    "monthly_usage",
    "render_text",
    "scheme_lines",
]

FEE_SCHEDULES = ("医科", "歯科", "調剤")
_CATEGORY_FEE = {"medical_clinic": "医科", "hospital": "医科", "dental_clinic": "歯科", "pharmacy": "調剤"}
_CATEGORY_LABEL = {"medical_clinic": "医科診療所", "hospital": "病院", "dental_clinic": "歯科診療所", "pharmacy": "薬局"}

YearMonth = tuple[int, int]


class StatsError(StaffFacingError):
    title = "利用率を計算できません"


class TierRule(Model):
    """One period of the usage-rate requirement, with where it comes from."""

    results_label: str
    applies_from: YearMonth
    applies_until: YearMonth
    thresholds: dict[int, int]  # tier → minimum rate in percent (以上)
    source: str
    points_note: str = ""  # points that differ from the seed's table, when known


def _tier_rules() -> tuple[TierRule, ...]:
    """The usage-requirement periods of desk/data/kasan_schemes.json (desk/kasan.py), as TierRules."""
    return tuple(
        TierRule(
            results_label=p.results_label or "", applies_from=parse_ym(p.applies_from),
            applies_until=parse_ym(p.applies_until or p.applies_from),
            thresholds={int(k): v for k, v in (p.thresholds_percent or {}).items()}, source=p.source,
            points_note=p.points_note if p.applies_from >= "2025-04" else "",
        )
        for p in kasan_periods() if p.requirement == "usage"
    )


TIER_RULES: tuple[TierRule, ...] = _tier_rules()
_FLAT = kasan_periods()[0]  # 令和6年6月～9月: one 加算 without a usage requirement
FLAT_POINTS: dict[str, int] = {fee: points["加算"] or 0 for fee, points in _FLAT.points.items() if points}
_FLAT_FROM = parse_ym(_FLAT.applies_from)
TIER_POINTS: dict[int, dict[str, int]] = {
    tier: {fee: (points or {})[str(tier)] or 0 for fee, points in kasan_periods()[1].points.items()} for tier in (1, 2, 3)
}
# Months of application for which the online-confirmation-based rate of 2 months before may be used.
_ONLINE_BASIS_FROM = TIER_RULES[0].applies_from
_ONLINE_BASIS_UNTIL = parse_ym(next(p.online_basis_until for p in kasan_periods() if p.online_basis_until))
_REPLACEMENT = next(p for p in kasan_periods() if p.requirement == "floor")
# From 2026-06 (令和8年度改定): the 加算 is replaced by 電子的診療情報連携体制整備加算 (加算1 15点,
# 加算2 9点, 加算3 4点, 初診・月1回), tiers by 電子処方箋 / 電子カルテ情報共有, usage ≥ 30% a base requirement.
REPLACED_FROM: YearMonth = parse_ym(_REPLACEMENT.applies_from)
NEW_SCHEME_FLOOR_PERCENT = min((_REPLACEMENT.thresholds_percent or {"1": 30}).values())
_NEW_SCHEME_SOURCE = _REPLACEMENT.source


def parse_month(text: str) -> YearMonth:
    match = re.fullmatch(r"(\d{4})-(\d{2})", text.strip())
    if not match or not 1 <= int(match.group(2)) <= 12 or not 2000 <= int(match.group(1)) <= 2099:
        raise StatsError(
            f"月は YYYY-MM の形（2000〜2099年）で指定してください（例: 2026-11）。指定: {text[:40]}", "月の指定が不正です"
        )
    return int(match.group(1)), int(match.group(2))


def _wareki_month(ym: YearMonth) -> str:
    year, month = ym
    if (year, month) >= (2019, 5):
        era_year = year - 2018
        return f"令和{'元' if era_year == 1 else era_year}年{month}月"
    return f"平成{year - 1988}年{month}月"


def rate_percent(myna: int, online: int) -> float | None:
    return None if online == 0 else round(myna * 100 / online, 2)


def tier_for(myna: int, online: int, thresholds: dict[int, int]) -> int:
    """Highest tier whose threshold the exact rate reaches (以上); 0 when below 加算3."""
    if online == 0:
        return 0
    return tier_reached(Fraction(myna * 100, online), {str(tier): percent for tier, percent in thresholds.items()})


def _rule_for(applies_to: YearMonth) -> TierRule | None:
    for rule in TIER_RULES:
        if rule.applies_from <= applies_to <= rule.applies_until:
            return rule
    return None


Basis = Literal["online", "receipt"]
Status = Literal["decided", "no_requirement", "replaced", "not_applicable", "basis_not_allowed"]


class TierAssessment(Model):
    basis: Basis
    basis_label: str
    applies_to: str  # YYYY-MM the tier would apply in
    status: Status
    thresholds: dict[int, int] | None = None
    tier: int | None = Field(default=None, description="1-3, 0 below 加算3, None when not decided")
    tier_label: str | None = None
    points: dict[str, int] | None = None
    note: str
    source: str | None = None  # where the requirement for `applies_to` comes from


class MonthlyUsage(Model):
    month: str
    definition: str = "利用率 = マイナ保険証利用件数 / オンライン資格確認利用件数"
    myna_count: int
    smartphone_count: int = 0  # of myna_count, through a phone's スマホ用電子証明書
    numbers_count: int
    online_count: int
    rate_percent: float | None
    category: str | None = None
    category_label: str | None = None
    fee_schedule: str | None = None
    assessments: list[TierAssessment]
    receipt_count: int | None = Field(default=None, description="the facility's レセプト件数 of the month, when given")
    pediatric_exception: bool = False
    schemes: list[SchemeAssessment] = Field(default_factory=list, description="every 加算 application this month's rate feeds")
    prefecture: str | None = None
    prefecture_rate_percent: float | None = Field(default=None, description="seed, 令和6年9月, this category")
    prefecture_overall_rate_percent: float | None = Field(default=None, description="seed, 令和6年9月, all types")
    national_rate_percent: float
    reference_month: str = Field(description="month of the published rates")
    reference_source: str


def _assess_one(basis: Basis, ym: YearMonth, myna: int, online: int, fee: str | None) -> TierAssessment:
    lag = 2 if basis == "online" else 3
    applies = shift_month(ym, lag)
    label = (
        "オンライン資格確認件数ベース（適用月の2か月前の実績）"
        if basis == "online"
        else "レセプト件数ベース（適用月の3か月前の実績）"
    )
    common = {"basis": basis, "basis_label": label, "applies_to": month_label(applies)}
    caveat = (
        ""
        if basis == "online"
        else "この端末の記録はオンライン資格確認の件数なので、レセプト件数ベースの利用率の目安です。"
    )

    if basis == "online" and not (_ONLINE_BASIS_FROM <= applies <= _ONLINE_BASIS_UNTIL):
        return TierAssessment(
            **common,
            status="basis_not_allowed",
            note=(
                f"オンライン資格確認件数ベースの利用率を使えるのは令和6年10月～令和7年1月の適用分だけです"
                f"（{_wareki_month(applies)}は対象外）。"
            ),
        )
    if applies < _FLAT_FROM:
        return TierAssessment(
            **common, status="not_applicable", note="医療DX推進体制整備加算は令和6年6月からの評価です。"
        )
    if applies < TIER_RULES[0].applies_from:
        points: dict[str, int] | None = {fee: FLAT_POINTS[fee]} if fee else dict(FLAT_POINTS)
        return TierAssessment(
            **common,
            status="no_requirement",
            points=points,
            note=f"{_wareki_month(applies)}は利用実績の要件がありません（令和6年10月から適用）。",
        )
    if applies >= REPLACED_FROM:
        rate = rate_percent(myna, online)
        floor_met = rate is not None and Fraction(myna, online) * 100 >= NEW_SCHEME_FLOOR_PERCENT
        return TierAssessment(
            **common,
            status="replaced",
            thresholds={0: NEW_SCHEME_FLOOR_PERCENT},
            note=(
                f"{_wareki_month(applies)}は医療DX推進体制整備加算が廃止され、電子的診療情報連携体制整備加算"
                "（加算1 15点・加算2 9点・加算3 4点、電子処方箋・電子カルテ情報共有の体制で区分）に代わっています。"
                f"マイナ保険証利用率{NEW_SCHEME_FLOOR_PERCENT}%以上が共通の要件で、この月の実績は"
                f"{'満たしています' if floor_met else '満たしていません'}（どの月・どの方法で測るかは資料で未確定）。{caveat}"
            ),
            source=_NEW_SCHEME_SOURCE,
        )
    rule = _rule_for(applies)
    if rule is None:  # a gap in the table would be a transcription error
        raise StatsError(f"{_wareki_month(applies)}の基準が表にありません。")
    tier = tier_for(myna, online, rule.thresholds)
    points = None
    if tier and not rule.points_note:  # the seed's points; later ones are in the note
        points = {fee: TIER_POINTS[tier][fee]} if fee else dict(TIER_POINTS[tier])
    thresholds_text = "、".join(f"加算{t} {p}%以上" for t, p in sorted(rule.thresholds.items()))
    reached = f"医療DX推進体制整備加算{tier}の基準に達しています。" if tier else "加算3の基準に達していません。"
    return TierAssessment(
        **common,
        status="decided",
        thresholds=dict(rule.thresholds),
        tier=tier,
        tier_label=f"医療DX推進体制整備加算{tier}" if tier else None,
        points=points,
        note=(
            f"{_wareki_month(applies)}適用（実績 {rule.results_label}の基準：{thresholds_text}）。{reached}"
            f"{rule.points_note}{caveat}"
        ),
        source=rule.source,
    )


def assess(month: str, myna: int, online: int, *, category: str | None = None) -> list[TierAssessment]:
    """The tier assessments a month's results feed: one per basis the seed allows."""
    ym = parse_month(month)
    fee = _CATEGORY_FEE.get(category) if category else None
    return [_assess_one("online", ym, myna, online, fee), _assess_one("receipt", ym, myna, online, fee)]


def monthly_usage(
    journal: JournalStore, month: str, *, category: str | None = None, prefecture: str | None = None,
    receipts: int | None = None, pediatric: bool = False,
) -> MonthlyUsage:
    ym = parse_month(month)
    if category is not None and category not in CATEGORIES:
        raise StatsError(f"施設の種類「{category}」は使えません。")
    counts = journal.month_counts(month_label(ym))
    myna = counts[Channel.MYNA.value]
    phones = counts.get(SMARTPHONE_COUNT, 0)
    numbers = counts[Channel.NUMBERS.value]
    online = myna + numbers
    seed = seed_usage_rates()
    pref = normalize_prefecture(prefecture) if prefecture else None
    pref_rates = seed.prefectures.get(pref) if pref else None
    return MonthlyUsage(
        month=month_label(ym),
        myna_count=myna,
        smartphone_count=phones,
        numbers_count=numbers,
        online_count=online,
        rate_percent=rate_percent(myna, online),
        category=category,
        category_label=_CATEGORY_LABEL.get(category) if category else None,
        fee_schedule=_CATEGORY_FEE.get(category) if category else None,
        assessments=assess(month_label(ym), myna, online, category=category),
        receipt_count=receipts,
        pediatric_exception=pediatric,
        schemes=schemes_for_month(ym, myna, online, receipts=receipts, pediatric=pediatric, fee=_CATEGORY_FEE.get(category) if category else None),
        prefecture=pref,
        prefecture_rate_percent=(
            pref_rates.for_category(category).rate_percent if pref_rates is not None and category else None
        ),
        prefecture_overall_rate_percent=pref_rates.overall.rate_percent if pref_rates is not None else None,
        national_rate_percent=seed.national.rate_percent,
        reference_month=seed.month,
        reference_source=seed.source,
    )


def scheme_lines(usage: MonthlyUsage) -> list[str]:
    """The 加算 applications the month's rate feeds, in Japanese (the text output and the screen)."""
    lines = []
    for a in usage.schemes:
        basis = "オンライン資格確認件数ベース" if a.basis == "online" else "レセプト件数ベース"
        rate = "—" if a.rate_percent is None else f"{a.rate_percent:.2f}%"
        approx = "（レセプト件数が未入力のためオンライン資格確認件数で代用）" if a.approximate else ""
        lines.append(f"・{a.applies_to} 適用 {a.name}（{basis}、{a.months_before}か月前の実績 {rate}{approx}）")
        limits = "、".join(f"加算{t} {'未確定' if p is None else f'{p}%以上'}" for t, p in sorted((a.thresholds_percent or {}).items()))
        if a.pediatric_exception:
            limits += "（小児科特例）"
        lines.append(f"    基準: {limits}")
        if a.tier is not None:
            reached = f"{a.name}{a.tier}に達しています" if a.tier else "どの区分にも達していません"
            gap = f"。次の区分まで あと{a.gap_patients}人がマイナ保険証なら達していました" if a.gap_patients else ""
            lines.append(f"    {reached}{gap}")
        elif a.floor_met is not None:
            gap = f"（あと{a.gap_patients}人）" if a.gap_patients else ""
            lines.append(f"    利用率の要件を{'満たしています' if a.floor_met else '満たしていません' + gap}。区分は電子処方箋・電子カルテ情報共有の体制で決まります")
        if a.points:
            lines.append("    点数（初診時）: " + "、".join(f"{k} {'未確定' if v is None else f'{v}点'}" for k, v in a.points.items()))
        if a.note:
            lines.append(f"    {a.note}")
        if a.open:
            lines.append(f"    未確定: {'、'.join(a.open)}")
        lines.append(f"    出典: {a.source}")
    if not lines:
        lines.append("・この月の利用率を要件とする加算はありません")
    return lines


def render_text(usage: MonthlyUsage) -> str:
    ym = parse_month(usage.month)
    rate = f"{usage.rate_percent:.2f}%" if usage.rate_percent is not None else "—（オンライン資格確認の件数が0件）"
    lines = [
        f"{_wareki_month(ym)}（{usage.month}）のマイナ保険証利用率",
        f"  {usage.definition}",
        f"  マイナ保険証 {usage.myna_count}件" + (f"（うちスマートフォン {usage.smartphone_count}件）" if usage.smartphone_count else "")
        + f" / オンライン資格確認 {usage.online_count}件（うち被保険者番号等 {usage.numbers_count}件）",
        f"  利用率 {rate}",
        "",
        "この月の利用率が使われる加算",
    ]
    if usage.receipt_count is not None:
        lines.insert(4, f"  レセプト件数 {usage.receipt_count}件（施設が入力）")
    lines += [f"  {line}" for line in scheme_lines(usage)]
    ref = _wareki_month(parse_month(usage.reference_month))
    lines += ["", f"参考：{ref}の公表値（厚生労働省）"]
    if usage.prefecture:
        if usage.prefecture_rate_percent is not None:
            lines.append(f"  {usage.prefecture}の{usage.category_label} {usage.prefecture_rate_percent:.2f}%")
        if usage.prefecture_overall_rate_percent is not None:
            lines.append(f"  {usage.prefecture}（全施設） {usage.prefecture_overall_rate_percent:.2f}%")
    lines.append(f"  全国 {usage.national_rate_percent:.2f}%")
    return "\n".join(lines) + "\n"
