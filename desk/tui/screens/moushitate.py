"""被保険者資格申立書: pre-filled from what the desk knows, completed with the patient, saved to a file
to print (desk.moushitate renders and writes it)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Input, Select, Static

from desk.tui.errors import describe_error
from desk.tui.messages import WorkFailed
from desk.tui.screens.common import apply_cursor_setting
from desk.tui.screens.error import ErrorModal

__all__ = ["MoushitateScreen", "prefill"]

_TEXT_FIELDS = {
    "name": "氏名",
    "name_kana": "フリガナ",
    "address": "住所（カード券面のとおり）",
    "residence": "居所（住所と違う場合）",
    "phone": "連絡先電話番号",
    "insurer_name": "保険者等名称",
    "employer": "事業所名（お勤め先）",
}


def prefill(session: Any, outcome: Any, today: dt.date) -> Any:
    """A form with what the desk already knows: the card's basic four items when it read them, and
    the insurer and co-pay from the last answer."""
    from desk.moushitate import from_card

    form = from_card(session.basic_four, today=today)
    updates: dict[str, Any] = {}
    if outcome is not None:
        if outcome.person_name and not form.name:
            updates["name"] = outcome.person_name
        if outcome.insurer_name:
            updates["insurer_name"] = outcome.insurer_name
        if outcome.copay_percent in (10, 20, 30):
            updates["copay_percent"] = outcome.copay_percent
    return form.model_copy(update=updates)


class MoushitateScreen(Screen):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "戻る"),
        Binding("ctrl+s", "save", "保存"),
    ]

    class Saved(Message):
        def __init__(self, path: Path) -> None:
            super().__init__()
            self.path = path

    class CardRead(Message):
        """The card's basic four items were read: fill the form again from the session."""

    def compose(self) -> ComposeResult:
        from desk.moushitate import InsuranceKind

        yield Static("被保険者資格申立書（患者さんと記入し、保存して印刷）", classes="screen-title")
        with Horizontal(id="moushitate-body"):
            with VerticalScroll(id="moushitate-form"):
                yield Static("カードから記入: 券面事項入力補助用暗証番号（4桁）を患者さんが入力し Enter", classes="field-label")
                yield Input(
                    placeholder="暗証番号（4桁・カードの基本4情報を読みます。マイナンバーは読みません）",
                    password=True, max_length=4, restrict=r"[0-9]*", id="form-card-pin",
                )
                for name, label in _TEXT_FIELDS.items():
                    yield Static(label, classes="field-label")
                    yield Input(id=f"form-{name}")
                yield Static("保険種別", classes="field-label")
                yield Select([(k.label, k.value) for k in InsuranceKind], id="form-insurance_kind", prompt="未記入")
                yield Static("一部負担金の割合（70歳以上・後期高齢者）", classes="field-label")
                yield Select([("3割", 30), ("2割", 20), ("1割", 10)], id="form-copay_percent", prompt="未記入")
                yield Static("保存先（.html は印刷用、それ以外はテキスト）", classes="field-label")
                yield Input(id="form-path")
                yield Static("Ctrl+S で保存", id="moushitate-status")
            with Vertical(id="moushitate-preview-box"):
                yield Static("プレビュー", classes="panel-title")
                with VerticalScroll():
                    yield Static("", id="moushitate-preview")
        yield Footer()

    def on_mount(self) -> None:
        apply_cursor_setting(self)
        self._fill()
        app: Any = self.app
        folder = Path(getattr(app.session.facility, "res_dir", Path.cwd())).parent / "moushitate"
        stamp = app.session.ports.clock().strftime("%Y%m%d-%H%M%S")
        self.query_one("#form-path", Input).value = str(folder / f"moushitate-{stamp}.html")
        self._preview()

    def _fill(self) -> None:
        app: Any = self.app
        today = app.session.ports.clock().date()
        outcome = app.last_view.outcome or app.last_numbers_outcome
        self._form = prefill(app.session, outcome, today)
        for name in _TEXT_FIELDS:
            self.query_one(f"#form-{name}", Input).value = getattr(self._form, name)
        if self._form.copay_percent:
            self.query_one("#form-copay_percent", Select).value = self._form.copay_percent

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "form-card-pin":
            pin, event.input.value = event.input.value, ""  # the PIN is not kept on screen
            self.query_one("#moushitate-status", Static).update("カードを読んでいます…")
            self._read_card(pin)

    @work(thread=True, exclusive=True, group="moushitate-card")
    def _read_card(self, pin: str) -> None:
        app: Any = self.app
        try:
            app.session.read_basic_four(pin)
        except Exception as exc:
            self.post_message(WorkFailed(*describe_error(exc)))
            return
        self.post_message(self.CardRead())

    def on_moushitate_screen_card_read(self, _: CardRead) -> None:
        # Only what the card holds changes: whatever staff typed in the other fields stays.
        from desk.moushitate import from_card

        app: Any = self.app
        card = from_card(app.session.basic_four, today=self._form.written_on)
        card_fields = {"name": card.name, "address": card.address}
        for name, value in card_fields.items():
            self.query_one(f"#form-{name}", Input).value = value
        self._form = self._current().model_copy(
            update={**card_fields, "birth_date": card.birth_date, "sex": card.sex, "from_card": True}
        )
        self._preview()
        self.query_one("#moushitate-status", Static).update("カードの基本4情報を記入しました（Ctrl+S で保存）")

    def on_input_changed(self, _: Input.Changed) -> None:
        self._preview()

    def on_select_changed(self, _: Select.Changed) -> None:
        self._preview()

    def _current(self) -> Any:
        from desk.moushitate import InsuranceKind

        updates: dict[str, Any] = {name: self.query_one(f"#form-{name}", Input).value for name in _TEXT_FIELDS}
        kind = self.query_one("#form-insurance_kind", Select).value
        copay = self.query_one("#form-copay_percent", Select).value
        updates["insurance_kind"] = None if kind is Select.NULL else InsuranceKind(kind)
        updates["copay_percent"] = None if copay is Select.NULL else copay
        return self._form.model_copy(update=updates)

    def _preview(self) -> None:
        from desk.moushitate import render_text

        if not hasattr(self, "_form"):
            return
        self.query_one("#moushitate-preview", Static).update(render_text(self._current()))

    def action_save(self) -> None:
        path = self.query_one("#form-path", Input).value.strip()
        if not path:
            self.query_one("#moushitate-status", Static).update("保存先を入力してください")
            return
        self._save(self._current(), Path(path))

    @work(thread=True, exclusive=True, group="moushitate")
    def _save(self, form: Any, path: Path) -> None:
        from desk.moushitate import write_moushitate

        try:
            written = write_moushitate(form, path)
        except Exception as exc:
            self.post_message(WorkFailed(*describe_error(exc)))
            return
        self.post_message(self.Saved(written))

    def on_moushitate_screen_saved(self, message: Saved) -> None:
        self.query_one("#moushitate-status", Static).update(f"保存しました: {message.path}")
        self.notify(f"保存しました: {message.path}")

    def on_work_failed(self, message: WorkFailed) -> None:
        self.app.push_screen(ErrorModal(message.title, message.message, message.hint))
