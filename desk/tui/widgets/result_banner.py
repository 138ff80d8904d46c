"""The answer: a coloured banner (有効 green, 無効 amber, 該当資格なし red, no answer grey) with the
insurer, the co-pay, the consent and the certificate renewal alert, and beside them the numbers to
claim with in a box of their own (保険者番号, 記号・番号, or the 不詳 7s), which `C` copies."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Static

from desk.tui.widgets.text import HangingText, set_text

__all__ = ["ResultBanner", "banner_kind", "claim_text"]

_KINDS = {1: "-valid", 2: "-invalid", 3: "-invalid", 4: "-notfound", 5: "-invalid"}
_ALL_KINDS = ("-valid", "-invalid", "-notfound", "-failure")
_LABEL = 10  # cells of 「自己負担  」: the details wrap under their text
_SIDE_BY_SIDE = 72  # cells: narrower, the claim box goes under the details (they would get < 35)


def banner_kind(code: int | None) -> str:
    return _KINDS.get(code, "-failure") if code is not None else "-failure"


class ResultBanner(Vertical):
    claim = ""  # the claim box's text, what `C` copies

    def compose(self) -> ComposeResult:
        yield Static("", id="result-label")
        with Horizontal(id="result-body"):
            yield HangingText(indent=_LABEL, id="result-details")
            claim = Static("", id="result-claim")
            claim.border_title = "請求に使う番号"
            claim.border_subtitle = "C でコピー"
            yield claim
        yield Static("", id="result-renewal")

    def on_resize(self) -> None:
        body = self.query_one("#result-body")
        layout = "horizontal" if self.content_region.width >= _SIDE_BY_SIDE else "vertical"
        if body.styles.layout is None or body.styles.layout.name != layout:
            body.styles.layout = layout

    def show(self, outcome: Any) -> None:
        """`outcome`: a desk.outcome.Outcome."""
        label = self.query_one("#result-label", Static)
        code = f"（{outcome.code}）" if outcome.code is not None else ""
        set_text(label, f"{outcome.label}{code}")
        kind = banner_kind(outcome.code)
        for k in _ALL_KINDS:
            label.set_class(k == kind, k)
        self.query_one("#result-details", HangingText).set_source(_details(outcome))
        claim = self.query_one("#result-claim", Static)
        # only with an answer: a failed confirmation is tried again before anyone claims
        self.claim = claim_text(outcome) if outcome.code is not None else ""
        set_text(claim, self.claim)
        claim.display = bool(self.claim)
        renewal = self.query_one("#result-renewal", Static)
        set_text(renewal, f"⚠ {outcome.renewal_message}" if outcome.renewal_alert and outcome.renewal_message else "")
        renewal.display = bool(outcome.renewal_alert)


def claim_text(o: Any) -> str:
    """The claim as the staff type it into the レセコン: one field a line, the 7s spelled out."""
    c = o.claim
    lines = [c.mode.label, f"保険者番号 {c.insurer_number.strip()}"]
    if c.insurer_number_alternative:
        lines.append(f"  不可なら {c.insurer_number_alternative}")
    if c.mode.value == "unknown":
        lines.append("記号・番号 桁数分すべて 7")
    else:
        lines.append(f"記号 {c.symbol or '—'}")
        lines.append(f"番号 {c.number}" + (f"  枝番 {c.branch}" if c.branch else ""))
    if c.summary:
        lines.append(f"摘要 {c.summary}")
    return "\n".join(lines)


def _details(o: Any) -> str:
    lines = []
    if o.message and o.code is None:
        lines.append(o.message)
    if o.person_name:
        lines.append(f"氏名      {o.person_name}" + (f"（{o.person_kana}）" if o.person_kana else ""))
    if o.insurer_name or o.insurer_number:
        lines.append(f"保険者    {o.insurer_name or ''} {o.insurer_number or ''}".rstrip())
    if o.number:
        numbers = f"記号 {o.symbol or '—'}  番号 {o.number}" + (f"  枝番 {o.branch}" if o.branch else "")
        lines.append(f"被保険者  {numbers}")
    d = o.result_details()
    if d["birth_date"]:
        lines.append(f"生年月日  {d['birth_date']}  性別 {d['sex']}  {d['personal_family']}")
        lines.append(f"資格取得  {d['qualification_date']}" + (f"  喪失 {d['disqualification_date']}" if d["disqualification_date"] else ""))
    if o.copay_percent is not None:
        source = {"record": "資格情報", "elderly_recipient": "高齢受給者情報", "age": "年齢"}.get(o.copay_source or "", "")
        lines.append(f"自己負担  {o.copay_percent // 10}割（{o.copay_percent}%）" + (f"  根拠: {source}" if source else ""))
    if d["elderly_recipient"]:
        e = d["elderly_recipient"]
        lines.append(f"高齢受給者 {e['ratio_percent'] // 10}割  {e['valid_start']}〜{e['valid_end'] or ''}")
    if d["limit"]:
        lim = d["limit"]
        lines.append(f"限度額    区分{lim['flag_label']}（{lim['classification_label']}）  {lim['valid_start']}〜{lim['valid_end'] or ''}")
    elif o.code is not None and d["limit_consent"] is False:
        lines.append("限度額    提供に同意なし（必要なら限度額適用認定証の提示を）")
    for disease in d["specific_disease"]:
        lines.append(f"特定疾病  {disease['label']}")
    if o.method is not None:
        lines.append(f"本人確認  {o.method.label}" + ("（番号で照会）" if o.method.value == "none" else "")
                     + (f"  {o.device.label}" if o.device.is_phone else ""))
    if o.consent is not None:
        items = "・".join(i.label for i in sorted(o.consent.items, key=lambda i: i.value)) or "なし"
        lines.append(f"同意      {items}（24時間有効）")
    elif o.code is not None:
        lines.append("同意      なし")
    return "\n".join(lines)
