"""The patient's consent to share medical information with this facility (24 hours)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, Checkbox, Static

from desk.models import ConsentItem

__all__ = ["ConsentPanel"]


class ConsentPanel(Vertical):
    class Answered(Message):
        def __init__(self, items: frozenset[ConsentItem], limit: bool = False) -> None:
            super().__init__()
            self.items = items
            self.limit = limit  # 限度額情報の提供: asked on its own, whatever the answer above

    def compose(self) -> ComposeResult:
        yield Static("診療・薬剤情報などの提供に同意しますか（患者さんに確認してください）", classes="panel-title")
        for item in ConsentItem:
            yield Checkbox(item.label, id=f"consent-{item.value}", classes="consent-item")
        yield Static("限度額適用区分・特定疾病の情報の提供に同意しますか", classes="panel-title")
        yield Checkbox("限度額情報の提供に同意", id="consent-limit")
        with Horizontal(id="consent-buttons"):
            yield Button("同意して照会", id="consent-yes", variant="primary")
            yield Button("同意しないで照会", id="consent-no")

    def reset(self) -> None:
        for box in self.query(".consent-item").results(Checkbox):
            box.value = False
        self.query_one("#consent-limit", Checkbox).value = False

    def focus_first(self) -> None:
        self.query_one(f"#consent-{ConsentItem.PHARMACY.value}", Checkbox).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        items: frozenset[ConsentItem] = frozenset()
        if event.button.id == "consent-yes":
            items = frozenset(
                ConsentItem(box.id.removeprefix("consent-"))  # type: ignore[union-attr]
                for box in self.query(".consent-item").results(Checkbox)
                if box.value
            )
        self.post_message(self.Answered(items, self.query_one("#consent-limit", Checkbox).value))
