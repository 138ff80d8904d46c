"""被保険者資格申立書: the declaration a patient fills in when eligibility cannot be confirmed.

The fields and notes follow the seed's 別紙様式 (MHLW, 保発0710第1号 別添3). The desk prints it with the
card's basic four items (氏名・生年月日・性別・住所) already filled in when the card was read with the
patient's PIN; otherwise those lines are blank for the patient to write. The signature is always left
blank: it must be handwritten.

What the patient declares here (address, phone, employer) also goes into the 摘要欄 of a 不詳レセプト
(`claim_summary`, used by desk.claim).
"""

from __future__ import annotations

import datetime as dt
import html
import os
from enum import Enum
from pathlib import Path
from typing import Literal

from pydantic import Field

from desk.atomicfile import write_text_atomic
from desk.models import Model
from reader.models import BasicFour
from reader.staff_facing import StaffFacingError

__all__ = [
    "InsuranceKind",
    "Moushitate",
    "MoushitateError",
    "ERAS",
    "to_wareki",
    "from_card",
    "claim_summary",
    "render_text",
    "render_html",
    "write_moushitate",
]

TITLE = "被保険者資格申立書"
DECLARATION = "有効な保険資格を有しており、医療保険等の被保険者資格について、下記の通り申し立てます。"
INSTRUCTION = (
    "※ 以下の各項目に記入いただき、□には、あてはまる場合に「✓」を記入してください。なお、本申立書に記入いただいた"
    "情報は、医療機関等の診療報酬請求等に必要な範囲でのみ使用し、診療報酬請求等の請求・支払等に係る必要な事務を終えた"
    "段階で、速やかに廃棄します。"
)
NOTE_1 = (
    "※1 保険種別で社保（保険者が健康保険組合、共済組合、全国健康保険協会の場合）、国保（保険者が国民健康保険組合の場合のみ）、"
    "その他（自衛官・公費単独医療の場合）、わからないの□に「✓」を記入された場合は、事業所名（お勤め先の会社名等）の記入をお願いします。"
)
NOTE_2 = (
    "※2 70歳以上の方、または後期高齢者医療の被保険者の方は、一部負担金の割合についてもご記入ください。なお、ご記入いただいた"
    "一部負担金の割合が実際と異なっていた場合、後日、保険者から差額を請求等させていただく場合があります。"
)
NOTE_3 = "※3 マイナンバーカードの券面に記載された住所以外の居所がある場合はこちらにご記入ください。"
NOTE_4 = (
    "※4 マイナンバーカードの券面に記載された氏名、生年月日、性別、住所をそのまま記入いただくとともに、氏名のフリガナも"
    "併せてご記入ください。また、マイナンバーカードの券面に記載された住所以外の居所がある場合は、住所欄に併せてご記入ください。"
)
NOTE_5 = "※5 （患者との関係）欄は、保護者の方等が署名された場合にご記入ください。"

CHECKED = "☑"
UNCHECKED = "☐"


class MoushitateError(StaffFacingError):
    """The 申立書 could not be produced or written."""

    title = "被保険者資格申立書を作成できません"


class InsuranceKind(str, Enum):
    """保険種別 on the form."""

    SHAHO = "shaho"
    KOKUHO = "kokuho"
    KOUKI = "kouki"
    OTHER = "other"
    UNKNOWN = "unknown"

    @property
    def label(self) -> str:
        return {"shaho": "社保", "kokuho": "国保", "kouki": "後期", "other": "その他", "unknown": "わからない"}[self.value]


class Moushitate(Model):
    """The form's content. Empty strings / None print as blanks to be written by hand."""

    has_valid_qualification: bool = False  # 保険資格の有無: 有効な保険資格を有している
    insurance_kind: InsuranceKind | None = None
    insurer_name: str = ""  # 保険者等名称
    employer: str = ""  # 事業所名 (※1)
    copay_percent: Literal[30, 20, 10] | None = None  # 一部負担金の割合 (※2)
    copay_unknown: bool = False  # 一部負担金の割合: わからない
    name: str = ""
    name_kana: str = ""  # フリガナ: not on the card, always written by the patient
    birth_date: dt.date | None = None
    sex: Literal["1", "2"] | None = None  # 1 男, 2 女
    address: str = ""  # as on the card (※4)
    residence: str = ""  # 居所 other than the card's address (※3)
    written_on: dt.date | None = None
    relation: str = ""  # 患者との関係, when a guardian signs (※5)
    phone: str = ""  # 連絡先電話番号
    from_card: bool = Field(default=False, description="basic four items read from the card with the PIN")


# (name, first day). 明治 before 大正 covers anyone alive; its own start date is irrelevant here.
ERAS: tuple[tuple[str, dt.date], ...] = (
    ("令和", dt.date(2019, 5, 1)),
    ("平成", dt.date(1989, 1, 8)),
    ("昭和", dt.date(1926, 12, 25)),
    ("大正", dt.date(1912, 7, 30)),
    ("明治", dt.date(1868, 1, 25)),
)
_ERA_ORDER = ("明治", "大正", "昭和", "平成", "令和")


def to_wareki(day: dt.date) -> tuple[str, int]:
    """(元号, year of the era) for a date, e.g. 2026-12-01 → ("令和", 8)."""
    for era, start in ERAS:
        if day >= start:
            return era, day.year - start.year + 1
    raise MoushitateError(f"{day.isoformat()} は明治以前の日付です。", "日付を和暦にできません")


def _parse_card_birth(value: str) -> dt.date | None:
    try:
        return dt.datetime.strptime(value, "%Y%m%d").date()
    except ValueError:
        return None  # the card stores what the municipality wrote; a bad value leaves the line blank


def from_card(basic: BasicFour | None, *, today: dt.date | None = None) -> Moushitate:
    """A form with the basic four items from the card (read with the PIN), or a blank one."""
    if basic is None:
        return Moushitate(written_on=today)
    sex = basic.sex if basic.sex in ("1", "2") else None
    return Moushitate(
        name=basic.name,
        birth_date=_parse_card_birth(basic.birth_date),
        sex=sex,
        address=basic.address,
        written_on=today,
        from_card=True,
    )


def claim_summary(form: Moushitate) -> str:
    """The 摘要欄 text of a 不詳レセプト: what the patient declared that helps find the insurer."""
    parts = ["被保険者資格申立書による不詳レセプト"]
    address = " ".join(p for p in (form.address, form.residence) if p)
    for label, value in (
        ("住所", address),
        ("連絡先", form.phone),
        ("事業所名", form.employer),
        ("保険者等名称", form.insurer_name),
        ("保険種別", form.insurance_kind.label if form.insurance_kind else ""),
    ):
        if value:
            parts.append(f"{label}：{value}")
    return "　".join(parts)


def _box(checked: bool, label: str) -> str:
    return f"{CHECKED if checked else UNCHECKED}{label}"


def _kinds(form: Moushitate) -> list[tuple[bool, str]]:
    return [(form.insurance_kind is k, k.label) for k in InsuranceKind]


def _ratios(form: Moushitate) -> list[tuple[bool, str]]:
    return [(form.copay_percent == p, f"{p // 10}割") for p in (30, 20, 10)] + [(form.copay_unknown, "わからない")]


def _birth_parts(form: Moushitate) -> tuple[list[tuple[bool, str]], str, str, str]:
    era, year = to_wareki(form.birth_date) if form.birth_date else ("", 0)
    boxes = [(era == name, name) for name in _ERA_ORDER]
    if form.birth_date is None:
        return boxes, "", "", ""
    return boxes, ("元" if year == 1 else str(year)), str(form.birth_date.month), str(form.birth_date.day)


def _date_parts(day: dt.date | None) -> tuple[str, str, str, str]:
    if day is None:
        return "", "", "", ""
    era, year = to_wareki(day)
    return era, ("元" if year == 1 else str(year)), str(day.month), str(day.day)


def _sexes(form: Moushitate) -> list[tuple[bool, str]]:
    return [(form.sex == "1", "男"), (form.sex == "2", "女")]


def render_text(form: Moushitate) -> str:
    """Plain text, for a receipt printer or a log-free preview."""
    blank = "＿＿＿＿＿＿＿＿"
    boxes, by, bm, bd = _birth_parts(form)
    era, wy, wm, wd = _date_parts(form.written_on)
    lines = [
        TITLE,
        "",
        DECLARATION,
        INSTRUCTION,
        "",
        "1 保険資格等に関する事項",
        f"  保険資格の有無　　　{_box(form.has_valid_qualification, '有効な保険資格を有している')}",
        f"  保険種別　　　　　　{'  '.join(_box(c, label) for c, label in _kinds(form))}",
        f"  保険者等名称　　　　{form.insurer_name or blank}",
        f"  事業所名※1　　　　 {form.employer or blank}",
        f"  一部負担金の割合※2  {'  '.join(_box(c, label) for c, label in _ratios(form))}",
        NOTE_1,
        NOTE_2,
        "",
        "2 マイナンバーカードの券面事項等",
        f"  氏名　　　　　　　　{form.name or blank}",
        f"  （フリガナ）　　　　{form.name_kana or blank}",
        f"  生年月日　　　　　　{' '.join(_box(c, label) for c, label in boxes)}  {by or '　　'}年 {bm or '　'}月 {bd or '　'}日",
        f"  性別　　　　　　　　{'  '.join(_box(c, label) for c, label in _sexes(form))}",
        f"  住所※3　　　　　　 {form.address or blank}",
    ]
    if form.residence:
        lines.append(f"  （居所）　　　　　　{form.residence}")
    lines += [
        NOTE_3,
        NOTE_4,
        "",
        f"  {era}{wy or '　　'}年 {wm or '　'}月 {wd or '　'}日",
        f"  署名 {blank}（患者との関係※5：{form.relation or '＿＿＿＿'}）",
        f"  連絡先電話番号 {form.phone or blank}",
        NOTE_5,
    ]
    return "\n".join(lines) + "\n"


_CSS = """
@page { size: A4; margin: 15mm 18mm; }
body { font-family: "Noto Serif CJK JP", "Yu Mincho", "Hiragino Mincho ProN", serif; font-size: 10.5pt; color: #000; }
h1 { text-align: center; font-size: 16pt; letter-spacing: 0.5em; margin: 0 0 6mm; }
h2 { font-size: 11pt; margin: 5mm 0 2mm; }
table { width: 100%; border-collapse: collapse; }
th, td { border: 1px solid #000; padding: 2mm 3mm; vertical-align: middle; }
th { width: 32%; text-align: left; font-weight: normal; background: #f2f2f2; }
td { height: 8mm; }
.box { margin-right: 1.2em; white-space: nowrap; }
.note { font-size: 8.5pt; margin: 1mm 0; }
.sign { margin-top: 6mm; line-height: 2.4; }
.line { display: inline-block; min-width: 60mm; border-bottom: 1px solid #000; }
.short { min-width: 28mm; }
.filled { font-family: "Noto Sans CJK JP", "Yu Gothic", sans-serif; }
@media screen { body { max-width: 180mm; margin: 10mm auto; } }
@media print { th { background: none; } }
"""


def _hbox(checked: bool, label: str) -> str:
    return f'<span class="box">{CHECKED if checked else UNCHECKED}{html.escape(label)}</span>'


def _hval(value: str) -> str:
    return f'<span class="filled">{html.escape(value)}</span>' if value else ""


def render_html(form: Moushitate) -> str:
    """A printable HTML page (A4, print CSS). Every value is HTML-escaped."""
    boxes, by, bm, bd = _birth_parts(form)
    era, wy, wm, wd = _date_parts(form.written_on)
    address = _hval(form.address)
    if form.residence:
        address += f"<br>（居所）{_hval(form.residence)}"
    rows1 = [
        ("保険資格の有無", _hbox(form.has_valid_qualification, "有効な保険資格を有している")),
        ("保険種別", "".join(_hbox(c, label) for c, label in _kinds(form))),
        ("保険者等名称", _hval(form.insurer_name)),
        ("事業所名<sup>※1</sup>", _hval(form.employer)),
        ("一部負担金の割合<sup>※2</sup>", "".join(_hbox(c, label) for c, label in _ratios(form))),
    ]
    birth = "".join(_hbox(c, label) for c, label in boxes) + (
        f'<span class="filled">{html.escape(by)}</span>年 <span class="filled">{html.escape(bm)}</span>月 '
        f'<span class="filled">{html.escape(bd)}</span>日'
        if form.birth_date
        else "　　年　　月　　日"
    )
    rows2 = [
        ("氏名", _hval(form.name)),
        ("（フリガナ）", _hval(form.name_kana)),
        ("生年月日", birth),
        ("性別", "".join(_hbox(c, label) for c, label in _sexes(form))),
        ("住所<sup>※3</sup>", address),
    ]

    def table(rows: list[tuple[str, str]]) -> str:
        return "<table>\n" + "\n".join(f"<tr><th>{h}</th><td>{v}</td></tr>" for h, v in rows) + "\n</table>"

    written = (
        f"{html.escape(era)}{html.escape(wy)}年 {html.escape(wm)}月 {html.escape(wd)}日"
        if form.written_on
        else "　　　　年　　月　　日"
    )
    relation = html.escape(form.relation) if form.relation else ""
    return f"""<!DOCTYPE html>
<html lang="ja">
<head>
<meta charset="utf-8">
<title>{TITLE}</title>
<style>{_CSS}</style>
</head>
<body>
<h1>{TITLE}</h1>
<p>{html.escape(DECLARATION)}</p>
<p class="note">{html.escape(INSTRUCTION)}</p>
<h2>1 保険資格等に関する事項</h2>
{table(rows1)}
<p class="note">{html.escape(NOTE_1)}</p>
<p class="note">{html.escape(NOTE_2)}</p>
<h2>2 マイナンバーカードの券面事項等</h2>
{table(rows2)}
<p class="note">{html.escape(NOTE_3)}</p>
<p class="note">{html.escape(NOTE_4)}</p>
<div class="sign">
<div>{written}</div>
<div>署名 <span class="line"></span>（患者との関係<sup>※5</sup>：<span class="line short">{relation}</span>）</div>
<div>連絡先電話番号 <span class="line">{_hval(form.phone)}</span></div>
</div>
<p class="note">{html.escape(NOTE_5)}</p>
</body>
</html>
"""


def write_moushitate(
    form: Moushitate, path: str | os.PathLike[str], *, fmt: Literal["html", "text"] | None = None
) -> Path:
    """Write the form atomically. The format follows `fmt`, else the suffix (.html/.htm → HTML, else text).

    The file holds personal data, so it is created readable by its owner only.
    """
    target = Path(path)
    kind = fmt or ("html" if target.suffix.lower() in (".html", ".htm") else "text")
    text = render_html(form) if kind == "html" else render_text(form)
    try:
        return write_text_atomic(target, text, mode=0o600)
    except OSError as exc:
        raise MoushitateError(f"{target} に書き込めません（{exc.strerror or exc}）。保存先を確認してください。") from exc
