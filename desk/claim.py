"""Which numbers go on the receipt (レセプト) when eligibility was or was not confirmed.

The seed (医療機関・薬局での資格確認とレセプト請求, 令和6年12月2日以降) fixes the order:

① the *current* 被保険者番号等, from the patient, the マイナポータル screen, 資格情報のお知らせ or past visits;
② the *past* ones, from the 「資格（無効）」 screen or past visits — a lost qualification is claimed
   with the old (喪失した「旧資格情報」) numbers;
③ 不詳: the address, contact etc. from the 被保険者資格申立書 in the 摘要欄, and "7" in every digit needed
   (保険者番号 77777777, or 77777779 when the レセコン refuses it — shaho.co.jp, via eligibility-anchors §3).

Digit counts for ③ (the seed says "必要な桁数分" without a number): the 保険者番号 always has 8 digits.
記号 and 番号 get UNKNOWN_SYMBOL_DIGITS / UNKNOWN_NUMBER_DIGITS sevens (8 each: long enough for the 記号 of
協会けんぽ and 健保組合, and the 8-digit 被保険者番号 of 後期高齢者医療), overridable per call when a
レセコン enforces other lengths. When the patient declared 後期 on the 申立書 the 記号 stays empty,
because 後期高齢者医療 has no 記号, only an 8-digit 被保険者番号. 枝番 is left empty: the seed names only
記号・番号.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from enum import Enum

from pydantic import Field

from desk.models import FailureName, Model, QualificationRecord, Validity
from desk.moushitate import InsuranceKind, Moushitate, claim_summary

__all__ = [
    "ClaimMode",
    "ClaimNumbers",
    "Claim",
    "UNKNOWN_INSURER_NUMBER",
    "UNKNOWN_INSURER_NUMBER_ALT",
    "UNKNOWN_SYMBOL_DIGITS",
    "UNKNOWN_NUMBER_DIGITS",
    "numbers_of",
    "shown_record",
    "unknown_claim",
    "claim_for",
]

UNKNOWN_INSURER_NUMBER = "77777777"
UNKNOWN_INSURER_NUMBER_ALT = "77777779"  # when the レセコン rejects 77777777 (check digit)
UNKNOWN_SYMBOL_DIGITS = 8
UNKNOWN_NUMBER_DIGITS = 8


class ClaimMode(str, Enum):
    CURRENT = "current"  # ① 現在の資格
    PAST = "past"  # ② 過去（旧資格）
    UNKNOWN = "unknown"  # ③ 不詳レセプト

    @property
    def label(self) -> str:
        return {"current": "現在の資格で請求", "past": "過去の資格（旧資格）で請求", "unknown": "不詳レセプトで請求"}[
            self.value
        ]


class ClaimNumbers(Model):
    """被保険者番号等 as heard from the patient or read from a screen, a notice or past visits."""

    insurer_number: str = Field(pattern=r"^[ 0-9]{6,8}$")
    symbol: str = ""
    number: str = Field(min_length=1)
    branch: str = Field(default="", pattern=r"^(\d{2})?$")


class Claim(Model):
    mode: ClaimMode
    insurer_number: str
    symbol: str
    number: str
    branch: str = ""
    summary: str = Field(default="", description="摘要欄 text (不詳レセプト)")
    insurer_number_alternative: str | None = Field(
        default=None, description="不詳: use this if the レセコン rejects insurer_number"
    )


def numbers_of(record: QualificationRecord) -> ClaimNumbers:
    return ClaimNumbers(
        insurer_number=record.insurer_number,
        symbol=record.insured_card_symbol,
        number=record.insured_identification_number,
        branch=record.insured_branch_number,
    )


def _claim(mode: ClaimMode, numbers: ClaimNumbers) -> Claim:
    return Claim(
        mode=mode,
        insurer_number=numbers.insurer_number,
        symbol=numbers.symbol,
        number=numbers.number,
        branch=numbers.branch,
    )


def unknown_claim(
    form: Moushitate | None = None,
    *,
    symbol_digits: int = UNKNOWN_SYMBOL_DIGITS,
    number_digits: int = UNKNOWN_NUMBER_DIGITS,
) -> Claim:
    """③ 不詳レセプト: sevens in every digit, the 申立書's details in the 摘要欄."""
    later_elderly = form is not None and form.insurance_kind is InsuranceKind.KOUKI
    summary = claim_summary(form) if form is not None else "被保険者資格申立書による不詳レセプト"
    return Claim(
        mode=ClaimMode.UNKNOWN,
        insurer_number=UNKNOWN_INSURER_NUMBER,
        symbol="" if later_elderly else "7" * symbol_digits,
        number="7" * number_digits,
        summary=summary,
        insurer_number_alternative=UNKNOWN_INSURER_NUMBER_ALT,
    )


def shown_record(records: Sequence[QualificationRecord], today: dt.date) -> QualificationRecord | None:
    """The qualification the desk shows, charges and claims with: the first one valid today, else
    the first of the reply (無効: the lost one). The one place that decides it."""
    for record in records:
        if record.valid_on(today):
            return record
    return records[0] if records else None


def claim_for(
    outcome: Validity | FailureName | object | None,
    *,
    today: dt.date,
    records: Sequence[QualificationRecord] = (),
    current: ClaimNumbers | None = None,
    past: ClaimNumbers | None = None,
    moushitate: Moushitate | None = None,
) -> Claim:
    """The claim for one visit, following the seed's order ① → ② → ③.

    - `current`: numbers confirmed at the desk (patient, マイナポータル, 資格情報のお知らせ): always ①.
    - 有効 (and 複数該当 with the chosen record first in `records`): ① from the record valid today.
    - 無効 / 無効（新しい資格あり）: ② with the lost qualification shown on screen (first of `records`).
    - anything else with `past` (numbers from earlier visits): ②.
    - otherwise ③ 不詳, with the 申立書 (if any) for the 摘要欄.
    """
    if current is not None:
        return _claim(ClaimMode.CURRENT, current)
    if outcome in (Validity.VALID, Validity.MULTIPLE) and records:
        record = shown_record(records, today)
        if record is not None:
            return _claim(ClaimMode.CURRENT, numbers_of(record))
    if outcome in (Validity.INVALID, Validity.INVALID_NEW_EXISTS) and records:
        lost = shown_record(records, today)  # none is valid today: the lost one, as shown
        assert lost is not None
        return _claim(ClaimMode.PAST, numbers_of(lost))
    if past is not None:
        return _claim(ClaimMode.PAST, past)
    return unknown_claim(moushitate)
