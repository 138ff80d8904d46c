"""Published usage rates from the seed (MHLW, 令和6年9月), to show beside the facility's own rate.

desk/data/usage_rates_2024_09.json was transcribed from the seed 「マイナ保険証の利用促進等について」
(厚生労働省 保険局): オンライン資格確認 マイナ保険証の利用実績 — 都道府県別 (令和6年9月, with the change
from 令和6年8月 in points) and 施設類型別・都道府県別の利用実績 (医科診療所, 病院, 歯科診療所, 薬局: rank,
R6.8 rank, rate, MNC利用件数, オン資件数), plus the national breakdown by facility type for 2024-09 and
2024-11 (【9月分実績の内訳】, 【11月分実績の内訳】). A test checks every rate against its counts.
利用率 = マイナ保険証利用件数 ÷ オンライン資格確認利用件数.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import cast

from pydantic import Field

from desk.models import Model

__all__ = [
    "PREFECTURES",
    "CATEGORIES",
    "DATA_FILE",
    "normalize_prefecture",
    "CategoryRate",
    "OverallRate",
    "PrefectureRates",
    "NationalCounts",
    "SeedUsageRates",
    "seed_usage_rates",
    "prefecture_rates",
]

DATA_FILE = Path(__file__).resolve().parent / "data" / "usage_rates_2024_09.json"

# JIS X 0401 order, the order of the seed's table.
PREFECTURES: tuple[str, ...] = (
    "北海道", "青森県", "岩手県", "宮城県", "秋田県", "山形県", "福島県", "茨城県", "栃木県", "群馬県",
    "埼玉県", "千葉県", "東京都", "神奈川県", "新潟県", "富山県", "石川県", "福井県", "山梨県", "長野県",
    "岐阜県", "静岡県", "愛知県", "三重県", "滋賀県", "京都府", "大阪府", "兵庫県", "奈良県", "和歌山県",
    "鳥取県", "島根県", "岡山県", "広島県", "山口県", "徳島県", "香川県", "愛媛県", "高知県", "福岡県",
    "佐賀県", "長崎県", "熊本県", "大分県", "宮崎県", "鹿児島県", "沖縄県",
)  # fmt: skip

# Category ids as in desk.facility.FacilityCategory.
CATEGORIES: tuple[str, ...] = ("medical_clinic", "hospital", "dental_clinic", "pharmacy")


def normalize_prefecture(name: str) -> str | None:
    """Full name for "東京都" or "東京" (the seed's per-type tables drop 都・府・県); None if unknown."""
    name = name.strip()
    for full in PREFECTURES:
        if name == full or (full != "北海道" and name == full[:-1]):
            return full
    return None


class CategoryRate(Model):
    rank: int = Field(ge=1, le=47)
    rank_2024_08: int = Field(ge=1, le=47)
    rate_percent: float
    myna_count: int
    online_count: int


class OverallRate(Model):
    rate_percent: float
    change_points_from_2024_08: float


class PrefectureRates(Model):
    overall: OverallRate
    medical_clinic: CategoryRate
    hospital: CategoryRate
    dental_clinic: CategoryRate
    pharmacy: CategoryRate

    def for_category(self, category: str) -> CategoryRate:
        if category not in CATEGORIES:
            raise KeyError(category)
        return cast(CategoryRate, getattr(self, category))


class NationalCounts(Model):
    online_count: int
    myna_count: int
    health_card_count: int


class SeedUsageRates(Model):
    source: str
    definition: str
    month: str
    national: OverallRate
    national_breakdown: dict[str, dict[str, NationalCounts]]
    prefectures: dict[str, PrefectureRates]


@lru_cache(maxsize=1)
def seed_usage_rates() -> SeedUsageRates:
    return SeedUsageRates.model_validate(json.loads(DATA_FILE.read_text(encoding="utf-8")))


def prefecture_rates(prefecture: str) -> PrefectureRates | None:
    full = normalize_prefecture(prefecture)
    return None if full is None else seed_usage_rates().prefectures[full]
