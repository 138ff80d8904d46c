"""The PIN keypad: masked entry, on-screen digits, and the tries left as the card reports them."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Vertical
from textual.message import Message
from textual.widgets import Button, Input, Static

from desk.tui.widgets.text import set_text

__all__ = ["PinPad"]

_KEYS = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "訂正", "0", "確定"]


class PinPad(Vertical):
    class Submitted(Message):
        def __init__(self, pin: str) -> None:
            super().__init__()
            self.pin = pin

        def __repr__(self) -> str:  # the PIN never reaches a log
            return "PinPad.Submitted(pin=****)"

    def compose(self) -> ComposeResult:
        yield Static("暗証番号（4桁）を患者さんに入力してもらってください", classes="panel-title")
        yield Static("", id="pin-tries")
        yield Input(placeholder="暗証番号4桁", password=True, max_length=4, restrict=r"[0-9]*", id="pin-input")
        with Grid(id="pin-keys"):
            for key in _KEYS:
                yield Button(key, id=f"pin-key-{_KEY_IDS.get(key, key)}", classes="pin-key")

    def show(self, tries_left: int | None) -> None:
        text = "" if tries_left is None else f"残り {tries_left} 回（3回間違えるとロックされます）"
        tries = self.query_one("#pin-tries", Static)
        set_text(tries, text)
        tries.set_class(tries_left is not None and tries_left <= 1, "-warning")

    # priority: ahead of the field's own (hidden) Enter and Ctrl+U, so the footer says what they do
    BINDINGS = [
        Binding("enter", "submit", "確定", priority=True),
        Binding("ctrl+u", "clear", "訂正", priority=True),
    ]

    def action_submit(self) -> None:
        self._submit(self.query_one("#pin-input", Input))

    def action_clear(self) -> None:
        self.query_one("#pin-input", Input).value = ""

    def focus_input(self) -> None:
        self.query_one("#pin-input", Input).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        field = self.query_one("#pin-input", Input)
        key = str(event.button.label)
        if key == "訂正":
            field.value = ""
        elif key == "確定":
            self._submit(field)
        elif len(field.value) < 4:
            field.value += key
        field.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._submit(event.input)

    def _submit(self, field: Input) -> None:
        pin, field.value = field.value, ""  # the PIN does not stay on screen
        if pin:
            self.post_message(self.Submitted(pin))


_KEY_IDS = {"訂正": "clear", "確定": "enter"}
