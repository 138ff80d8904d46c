"""The three ways to identify the patient; a disabled one says why."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Button, Input, Static

from desk.models import AuthMethod
from desk.tui.view import MethodOption
from desk.tui.widgets.text import set_text

__all__ = ["MethodPicker", "METHOD_KEYS"]

METHOD_KEYS = {AuthMethod.FACE: "F2", AuthMethod.PIN: "F3", AuthMethod.VISUAL: "F4"}


class MethodPicker(Vertical):
    class Chosen(Message):
        def __init__(self, method: AuthMethod) -> None:
            super().__init__()
            self.method = method

    class CheckBSubmitted(Message):
        """Staff typed 照合番号B from the card front (a reader without its own card camera)."""

        def __init__(self, check_b: str) -> None:
            super().__init__()
            self.check_b = check_b

    def compose(self) -> ComposeResult:
        yield Static("本人確認の方法", classes="panel-title")
        for method, key in METHOD_KEYS.items():
            yield Button(f"{key} {method.label}", id=f"method-{method.value}", classes="method", disabled=True)
            yield Static("", id=f"method-{method.value}-reason", classes="method-reason")
        check_b = Input(
            placeholder="照合番号B（生年月日6桁＋有効期限の年4桁＋セキュリティコード4桁）",
            password=True, max_length=16, restrict=r"[0-9 ]*", id="check-b",
        )
        check_b.display = False
        yield check_b

    def show(self, options: tuple[MethodOption, ...], *, active: bool, needs_check_b: bool = False) -> None:
        """`active`: the flow accepts a choice now (card read, no call running)."""
        self.query_one("#check-b", Input).display = needs_check_b
        by_method = {o.method: o for o in options}
        for method in METHOD_KEYS:
            option = by_method.get(method)
            button = self.query_one(f"#method-{method.value}", Button)
            button.disabled = not (active and option is not None and option.enabled)
            reason = self.query_one(f"#method-{method.value}-reason", Static)
            text = option.reason if option is not None and not option.enabled else ""
            set_text(reason, text)
            reason.display = bool(text)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "check-b":
            event.stop()
            self.post_message(self.CheckBSubmitted(event.value))
            event.input.value = ""

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        method = AuthMethod(event.button.id.removeprefix("method-"))  # type: ignore[union-attr]
        self.post_message(self.Chosen(method))
