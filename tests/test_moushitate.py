"""被保険者資格申立書: fields of the seed form, filled from the card or blank, written atomically."""

from __future__ import annotations

import datetime as dt
import os
import stat
from html.parser import HTMLParser

import pytest

from desk.moushitate import (
    InsuranceKind,
    Moushitate,
    MoushitateError,
    claim_summary,
    from_card,
    render_html,
    render_text,
    to_wareki,
    write_moushitate,
)
from reader.models import BasicFour

CARD = BasicFour(name="小林 文子", address="京都府京都市上京区下立売通新町西入薮ノ内町", birth_date="19540520", sex="2")
TODAY = dt.date(2026, 12, 1)

# Every label of the seed's 別紙様式.
SEED_FIELDS = (
    "被保険者資格申立書",
    "保険資格の有無",
    "有効な保険資格を有している",
    "保険種別",
    "社保",
    "国保",
    "後期",
    "その他",
    "わからない",
    "保険者等名称",
    "事業所名",
    "一部負担金の割合",
    "3割",
    "2割",
    "1割",
    "氏名",
    "フリガナ",
    "生年月日",
    "明治",
    "大正",
    "昭和",
    "平成",
    "令和",
    "性別",
    "男",
    "女",
    "住所",
    "署名",
    "患者との関係",
    "連絡先電話番号",
)


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_text(doc: str) -> str:
    parser = _Text()
    parser.feed(doc)
    return "".join(parser.parts)


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (dt.date(2019, 5, 1), ("令和", 1)),
        (dt.date(2019, 4, 30), ("平成", 31)),
        (dt.date(1989, 1, 8), ("平成", 1)),
        (dt.date(1989, 1, 7), ("昭和", 64)),
        (dt.date(1926, 12, 25), ("昭和", 1)),
        (dt.date(1926, 12, 24), ("大正", 15)),
        (dt.date(1912, 7, 30), ("大正", 1)),
        (dt.date(1912, 7, 29), ("明治", 45)),
        (dt.date(2026, 12, 1), ("令和", 8)),
    ],
)
def test_to_wareki(day, expected):
    assert to_wareki(day) == expected


def test_from_card_fills_the_basic_four_only():
    form = from_card(CARD, today=TODAY)
    assert form.from_card and form.name == "小林 文子" and form.birth_date == dt.date(1954, 5, 20)
    assert form.sex == "2" and form.address.startswith("京都府")
    assert form.name_kana == "" and form.phone == "" and form.insurance_kind is None


def test_from_card_sex_9_and_bad_date_leave_blanks():
    form = from_card(BasicFour(name="X", address="Y", birth_date="19541399", sex="9"))
    assert form.sex is None and form.birth_date is None


def test_text_has_every_seed_field_and_card_values():
    body = render_text(from_card(CARD, today=TODAY))
    for label in SEED_FIELDS:
        assert label in body, label
    assert "☑昭和" in body and "29年 5月 20日" in body
    assert "☑女" in body and "☐男" in body
    assert "小林 文子" in body and "令和8年 12月 1日" in body
    assert body.count("☐") >= 14  # everything else is left for the patient


def test_blank_form_without_pin_has_no_checked_boxes():
    body = render_text(from_card(None))
    assert "☑" not in body
    for label in SEED_FIELDS:
        assert label in body, label


def test_declared_fields_are_checked():
    form = Moushitate(
        has_valid_qualification=True,
        insurance_kind=InsuranceKind.SHAHO,
        insurer_name="全国健康保険協会",
        employer="株式会社テスト",
        copay_percent=30,
        phone="090-0000-0000",
        relation="母",
    )
    body = render_text(form)
    assert "☑有効な保険資格を有している" in body and "☑社保" in body and "☑3割" in body and "☐2割" in body
    assert "株式会社テスト" in body and "090-0000-0000" in body and "母" in body


def test_html_has_print_css_every_field_and_escapes_values():
    form = from_card(BasicFour(name="<script>x</script>", address="A & B", birth_date="20200101", sex="1"), today=TODAY)
    doc = render_html(form)
    assert doc.startswith("<!DOCTYPE html>") and "@page" in doc and "@media print" in doc
    assert "<script>" not in doc and "&lt;script&gt;" in doc and "A &amp; B" in doc
    text = html_text(doc)
    for label in SEED_FIELDS:
        assert label in text, label
    assert "☑令和" in text and "☑男" in text


def test_signature_is_never_prefilled():
    body = render_text(from_card(CARD, today=TODAY))
    sign_line = next(line for line in body.splitlines() if "署名" in line and "患者との関係" in line)
    assert "小林" not in sign_line


def test_claim_summary_for_the_tekiyou_field():
    form = Moushitate(address="京都府京都市", residence="大阪府吹田市", phone="075-000-0000", employer="テスト商事")
    summary = claim_summary(form)
    for fragment in ("申立書", "京都府京都市", "大阪府吹田市", "075-000-0000", "テスト商事"):
        assert fragment in summary


@pytest.mark.parametrize(("name", "fmt", "marker"), [("f.html", None, "<!DOCTYPE html>"), ("f.txt", None, "1 保険資格"), ("f.out", "html", "<html")])
def test_write_is_atomic_and_private(tmp_path, name, fmt, marker):
    target = tmp_path / "out" / name
    target.parent.mkdir()
    target.write_text("old", encoding="utf-8")
    written = write_moushitate(from_card(CARD, today=TODAY), target, fmt=fmt)
    assert written == target and marker in target.read_text(encoding="utf-8")
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert sorted(p.name for p in target.parent.iterdir()) == [name]


def test_write_failure_is_a_japanese_error_and_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "f.html"
    target.write_text("old", encoding="utf-8")

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("os.replace", broken)
    with pytest.raises(MoushitateError) as info:
        write_moushitate(Moushitate(), target)
    assert "書き込めません" in info.value.msg
    assert target.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.html"]
