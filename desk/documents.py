"""Which document the patient presented, and whether the desk may take it on the day
(desk/data/documents.json: one row per document and period, each with its source).

A 資格確認書 is accepted; an old 健康保険証 until 2025-12-01, then under the 2025-11-12 事務連絡's
transitional measure until 2026-03-31, then not; the 資格情報のお知らせ only together with the card
(alone: only under the same measure). `rule_for` answers for any day, so a past day is judged by
the rule of that day.
"""

from __future__ import annotations

import datetime as dt
import json
from enum import Enum
from functools import cache
from importlib import resources
from typing import Literal

from pydantic import ValidationError

from desk.models import Model

__all__ = ["Document", "DocumentRule", "rule_for", "rules"]


class Document(str, Enum):
    KAKUNINSHO = "shikaku-kakuninsho"
    HEALTH_CARD = "health-card"
    NOTICE = "notice"

    @property
    def label(self) -> str:
        return _table()[0][self.value]


class DocumentRule(Model):
    document: Document
    with_card: bool | None  # None: the same with or without the card
    later_elderly: bool | None = None  # a 後期高齢者医療 card (保険者番号 39…); None: any
    from_: dt.date | None = None
    until: dt.date | None = None
    decision: Literal["accept", "transitional", "refuse"]
    step: str
    open: str | None = None
    source: str

    @property
    def accepted(self) -> bool:
        return self.decision != "refuse"

    def covers(self, document: Document, with_card: bool, day: dt.date, later_elderly: bool = False) -> bool:
        return (
            self.document is document
            and (self.with_card is None or self.with_card is with_card)
            and (self.later_elderly is None or self.later_elderly is later_elderly)
            and (self.from_ is None or self.from_ <= day)
            and (self.until is None or day <= self.until)
        )


@cache
def _table() -> tuple[dict[str, str], tuple[DocumentRule, ...]]:
    text = resources.files("desk.data").joinpath("documents.json").read_text(encoding="utf-8")
    try:
        data = json.loads(text)
        found = tuple(DocumentRule.model_validate({**{k: v for k, v in r.items() if k != "from"}, "from_": r.get("from")}) for r in data["rules"])
        labels = dict(data["documents"])
    except (ValidationError, KeyError, ValueError) as exc:
        raise RuntimeError(f"desk/data/documents.json: {exc}") from exc
    _check(found)
    return labels, found


def _check(found: tuple[DocumentRule, ...]) -> None:
    """From its first day on, every document has exactly one rule each day, with and without the card."""
    for document in Document:
        for with_card in (True, False):
            for later in (True, False):
                mine = [r for r in found if r.document is document and r.with_card in (None, with_card) and r.later_elderly in (None, later)]
                starts = sorted((r.from_ or dt.date.min) for r in mine)
                for day in starts + [r.until + dt.timedelta(days=1) for r in mine if r.until is not None]:
                    if day < starts[0]:
                        continue
                    matching = [r for r in mine if r.covers(document, with_card, day, later)]
                    if len(matching) != 1:
                        raise RuntimeError(
                            f"desk/data/documents.json: {document.value} with_card={with_card} later_elderly={later} on {day}: {len(matching)} rules"
                        )


def rules() -> tuple[DocumentRule, ...]:
    return _table()[1]


def rule_for(document: Document, day: dt.date, *, with_card: bool = False, later_elderly: bool = False) -> DocumentRule:
    """The rule in force on `day` (`later_elderly`: a 後期高齢者医療 card, 保険者番号 39…); before a
    document existed, its first rule (refusing it would mislead: it was not there to present)."""
    mine = [r for r in rules() if r.covers(document, with_card, day, later_elderly)]
    if mine:
        return mine[0]
    candidates = [r for r in rules() if r.document is document and r.with_card in (None, with_card) and r.later_elderly in (None, later_elderly)]
    return min(candidates, key=lambda r: r.from_ or dt.date.min)
