"""A dialog for an error: its title, the message, and what to do next."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

__all__ = ["ErrorModal"]


class ErrorModal(ModalScreen[None]):
    BINDINGS = [Binding("escape,enter", "dismiss", "閉じる")]

    def __init__(self, title: str, message: str, hint: str = "") -> None:
        super().__init__()
        self._title, self._message, self._hint = title, message, hint

    def compose(self) -> ComposeResult:
        with Vertical(id="error-dialog"):
            yield Static(self._title, id="error-title")
            yield Static(self._message, id="error-message")
            if self._hint:
                yield Static(f"次にすること: {self._hint}", id="error-hint")
            yield Button("閉じる（Enter）", id="error-close", variant="primary")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss()
