"""照会区分 2: eligibility by the numbers on a 資格確認書 or an old 健康保険証 (no card, no PIN)."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, Checkbox, Footer, Input, Select, Static

from desk.documents import Document
from desk.models import NumbersQuery
from desk.tui.errors import describe_error
from desk.tui.messages import WorkFailed
from desk.tui.screens.common import apply_cursor_setting
from desk.tui.screens.error import ErrorModal
from desk.tui.widgets.checklist import StepChecklist
from desk.tui.widgets.result_banner import ResultBanner
from desk.typed_input import parse_birth_date, wrong_query_fields

__all__ = ["NumbersScreen"]

_FIELDS = {
    "insurer_number": "保険者番号（6桁または8桁）",
    "insured_card_symbol": "記号",
    "insured_identification_number": "番号",
    "insured_branch_number": "枝番（2桁・なければ空欄）",
    "birth_date": "生年月日（例 1985-04-12 または 19850412）",
}


class NumbersScreen(Screen):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "戻る"),
        Binding("f5", "query", "照会"),
        Binding("ctrl+l", "clear", "入力を消す"),
    ]

    class Answered(Message):
        def __init__(self, outcome: Any) -> None:
            super().__init__()
            self.outcome = outcome

    def compose(self) -> ComposeResult:
        yield Static("番号で照会（資格確認書・健康保険証：照会区分2）", classes="screen-title")
        with Horizontal(id="numbers-body"):
            with VerticalScroll(id="numbers-form"):
                yield Static("提示された書類", classes="field-label")
                yield Select([(d.label, d.value) for d in Document], value=Document.KAKUNINSHO.value, allow_blank=False, id="numbers-document")
                yield Checkbox("マイナンバーカードも提示された", id="numbers-with-card")
                yield Checkbox("限度額情報の提供に同意", id="numbers-limit-consent")
                for name, label in _FIELDS.items():
                    yield Static(label, classes="field-label")
                    yield Input(id=f"numbers-{name}", restrict=None if name == "insured_card_symbol" else r"[0-9/\- ]*")
                yield Button("照会（F5）", id="numbers-submit", variant="primary")
                yield Static("", id="numbers-error")
            with VerticalScroll(id="numbers-result"):
                yield ResultBanner(id="numbers-banner")
                yield StepChecklist(id="numbers-steps")
        yield Footer()

    def on_mount(self) -> None:
        apply_cursor_setting(self)
        self.query_one("#numbers-result").display = False
        self.query_one("#numbers-insurer_number", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "numbers-birth_date":
            self.action_query()
        else:
            self.focus_next()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_query()

    def action_clear(self) -> None:
        for field in self.query(Input):
            field.value = ""
        self.query_one("#numbers-result").display = False
        self.query_one("#numbers-insurer_number", Input).focus()

    def action_query(self) -> None:
        values = {name: self.query_one(f"#numbers-{name}", Input).value.strip() for name in _FIELDS}
        birth = parse_birth_date(values.pop("birth_date"))
        error = self.query_one("#numbers-error", Static)
        if birth is None:
            error.update("生年月日を 1985-04-12 または 19850412 の形で入力してください。")
            return
        limit_consent = self.query_one("#numbers-limit-consent", Checkbox).value
        try:
            query = NumbersQuery(**values, birth_date=birth, limit_consent=limit_consent)
        except ValidationError as exc:
            error.update("入力内容を確認してください: " + "・".join(wrong_query_fields(exc)))
            return
        error.update("オンライン資格確認等システムに照会しています…")
        document = Document(str(self.query_one("#numbers-document", Select).value))
        self._query(query, document, self.query_one("#numbers-with-card", Checkbox).value)

    @work(thread=True, exclusive=True, group="numbers")
    def _query(self, query: NumbersQuery, document: Document, with_card: bool) -> None:
        try:
            outcome = self.app.session.query_numbers(query, document=document, with_card=with_card)  # type: ignore[attr-defined]
        except Exception as exc:
            self.post_message(WorkFailed(*describe_error(exc)))
            return
        self.post_message(self.Answered(outcome))

    def on_numbers_screen_answered(self, message: Answered) -> None:
        self.query_one("#numbers-error", Static).update("")
        self.query_one("#numbers-result").display = True
        self.query_one(ResultBanner).show(message.outcome)
        self.query_one(StepChecklist).show(message.outcome.steps)
        self.app.last_numbers_outcome = message.outcome  # type: ignore[attr-defined]

    def on_work_failed(self, message: WorkFailed) -> None:
        self.query_one("#numbers-error", Static).update("")
        self.app.push_screen(ErrorModal(message.title, message.message, message.hint))
