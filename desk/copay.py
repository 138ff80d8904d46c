"""The patient's share of the bill (一部負担金の割合), from the qualification record and the day.

Age rules (健康保険法 §74 and the 高齢者医療確保法), in percent:

- 未就学 (義務教育就学前) 20: until the first 31 March on or after the day the child reaches 6.
- 70-74 (高齢受給者) 20, or 30 for 現役並み所得者 (read from the 高齢受給者 info): from the month after
  the month in which the patient reaches 70 — in practice the 1st of the month after the 70th birthday,
  or the birthday itself for someone born on the 1st — up to the day before the 75th birthday.
- 75 and over (後期高齢者医療, 法別番号 39): 10, 20 or 30 as the record says.
- everyone else 30.

"Reaches N" follows 年齢計算ニ関スル法律 and 民法 §143: a person reaches an age at the end of the day before
the birthday, so the *day of reaching* is the day before it. That is why a child born on 1 April leaves
未就学 one year earlier than one born on 2 April (same school year), and why someone born on the 1st starts
the 70-74 rate in the birthday month.

Sources: 健康保険法 §74 1項 1-2号 (text recalled, checked against municipal pages: city.anjo.aichi.jp
faq 016 「70歳の誕生日を迎えた月の翌月1日(誕生日が1日の人は誕生月)から」, city.sakai.lg.jp 高齢受給者証
「7月31日までに75歳になる方は、75歳の誕生日の前日まで」); the seed's 申立書 説明書: 3割 (未就学児は2割,
70歳以上等の方は1～3割).
"""

from __future__ import annotations

import calendar
import datetime as dt
from typing import Literal

from desk.models import QualificationRecord

__all__ = [
    "CopaySource",
    "copay_with_source",
    "GENERAL_PERCENT",
    "PRESCHOOL_PERCENT",
    "ELDERLY_DEFAULT_PERCENT",
    "birthday_in",
    "age_on",
    "reaching_day",
    "preschool_until",
    "is_preschool",
    "elderly_rate_from",
    "later_elderly_from",
    "is_later_elderly_record",
    "is_later_elderly_insurer",
    "copay_percent",
    "copay_to_collect",
    "default_copay_percent",
]

GENERAL_PERCENT = 30
PRESCHOOL_PERCENT = 20
# 70-74 without 現役並み所得: the statutory rate. Used when the record lacks the 高齢受給者 info.
ELDERLY_DEFAULT_PERCENT = 20

# 法別番号 39: 後期高齢者医療広域連合 (insurer numbers 39PPNNNC).
_LATER_ELDERLY_LAW_NUMBER = "39"


def birthday_in(birth: dt.date, year: int) -> dt.date:
    """The birthday in `year`; 29 February falls on 1 March in common years (the age changes at the end of 28 Feb)."""
    if birth.month == 2 and birth.day == 29 and not calendar.isleap(year):
        return dt.date(year, 3, 1)
    return birth.replace(year=year)


def age_on(birth: dt.date, day: dt.date) -> int:
    """Completed years on `day` (the age turns on the birthday itself)."""
    years = day.year - birth.year
    return years if day >= birthday_in(birth, day.year) else years - 1


def reaching_day(birth: dt.date, years: int) -> dt.date:
    """The legal day of reaching `years` of age: the day before that birthday."""
    return birthday_in(birth, birth.year + years) - dt.timedelta(days=1)


def preschool_until(birth: dt.date) -> dt.date:
    """Last day of the 未就学 rate: the first 31 March on or after the day the child reaches 6."""
    reached = reaching_day(birth, 6)
    march_31 = dt.date(reached.year, 3, 31)
    return march_31 if reached <= march_31 else dt.date(reached.year + 1, 3, 31)


def is_preschool(birth: dt.date, day: dt.date) -> bool:
    return day <= preschool_until(birth)


def elderly_rate_from(birth: dt.date) -> dt.date:
    """First day of the 70-74 rate: the 1st of the month after the month in which the patient reaches 70."""
    reached = reaching_day(birth, 70)
    if reached.month == 12:
        return dt.date(reached.year + 1, 1, 1)
    return dt.date(reached.year, reached.month + 1, 1)


def later_elderly_from(birth: dt.date) -> dt.date:
    """後期高齢者医療 starts on the 75th birthday itself."""
    return birthday_in(birth, birth.year + 75)


def is_later_elderly_record(record: QualificationRecord) -> bool:
    """A 後期高齢者医療 qualification (also 65-74 with a 障害認定): insurer number with 法別番号 39."""
    return is_later_elderly_insurer(record.insurer_number)


def is_later_elderly_insurer(insurer_number: str) -> bool:
    """A 保険者番号 of a 後期高齢者医療広域連合 (法別番号 39)."""
    return insurer_number.strip().startswith(_LATER_ELDERLY_LAW_NUMBER)


CopaySource = Literal["record", "elderly_recipient", "age"]


def copay_percent(record: QualificationRecord, today: dt.date) -> int | None:
    """The share the patient pays at the desk, in percent (30, 20 or 10)."""
    return copay_with_source(record, today)[0]


def copay_with_source(record: QualificationRecord, today: dt.date) -> tuple[int | None, CopaySource]:
    """The share the patient pays at the desk, in percent (30, 20 or 10), and what tells it: the
    record's InsuredPartialContributionRatio, the 高齢受給者 information, or the age rule.

    None only when the record cannot tell: a 後期高齢者 record, or a patient of 75 or more, without
    InsuredPartialContributionRatio. The caller then asks the patient (never charge 10割).
    The record's PreschoolClassification is not trusted over the birth date: it describes the day of
    the query, while the rate must hold on `today`.
    """
    birth = record.birth_date
    if is_later_elderly_record(record) or today >= later_elderly_from(birth):
        return record.partial_contribution_ratio, "record"
    if is_preschool(birth, today):
        return PRESCHOOL_PERCENT, "age"
    if today >= elderly_rate_from(birth):
        info = record.elderly_recipient
        if info is not None and info.valid_start <= today:
            return info.contribution_ratio, "elderly_recipient"
        if record.partial_contribution_ratio is not None:
            return record.partial_contribution_ratio, "record"
        return ELDERLY_DEFAULT_PERCENT, "age"
    return GENERAL_PERCENT, "age"


def copay_to_collect(
    record: QualificationRecord | None, today: dt.date, *, birth_date: dt.date | None = None
) -> int | None:
    """The share to collect at the desk for the qualification shown (or none): the record's own
    share when it tells, else the share for the age (`birth_date` when there is no record). None:
    ask the patient (never 10割). The one function the result, its steps and the screen use."""
    if record is not None:
        percent = copay_percent(record, today)
        if percent is not None:
            return percent
        birth_date = record.birth_date
    return default_copay_percent(birth_date, today)


def default_copay_percent(birth: dt.date | None, today: dt.date) -> int | None:
    """The share to collect when nothing was confirmed and the patient declared no ratio (申立書: わからない).

    Under 70 the age decides (30, or 20 before school). From 70 the rate depends on income, so
    the 申立書 asks those patients to declare it (※2); without a declaration the answer is None.
    """
    if birth is None:
        return None
    if is_preschool(birth, today):
        return PRESCHOOL_PERCENT
    if today >= elderly_rate_from(birth):
        return None
    return GENERAL_PERCENT
