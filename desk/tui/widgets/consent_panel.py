"""The patient's consent to share medical information with this facility (24 hours).

As the readers ask it since the seed's improvement (同意の画面操作を包括同意等に改善): one question
for all the information (包括同意), with 「個別に選ぶ」 as the exception; the 限度額 information is its
own question. Keyboard: Enter sends (all items, or the ones ticked), N sends without consent,
I opens the individual choice (Space ticks), L answers the 限度額 question.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, Checkbox, Static

from desk.models import ConsentItem

__all__ = ["ConsentPanel"]


class ConsentPanel(Vertical):
    BINDINGS = [
        Binding("enter", "send(True)", "同意して照会", priority=True),
        Binding("n", "send(False)", "同意しないで照会"),
        Binding("i", "individual", "個別に選ぶ"),
        Binding("l", "toggle_limit", "限度額の同意"),
    ]

    class Answered(Message):
        def __init__(self, items: frozenset[ConsentItem], limit: bool = False) -> None:
            super().__init__()
            self.items = items
            self.limit = limit  # 限度額情報の提供: asked on its own, whatever the answer above

    def compose(self) -> ComposeResult:
        yield Static(
            "診療・薬剤情報などの提供に同意しますか（患者さんに確認してください）\n"
            "同意すると、薬剤・診療・特定健診・手術の情報をこの医療機関が24時間閲覧できます（包括同意）。",
            classes="panel-title",
        )
        yield Button("個別に選ぶ（I）", id="consent-individual")
        with Vertical(id="consent-items"):
            for item in ConsentItem:
                yield Checkbox(item.label, id=f"consent-{item.value}", classes="consent-item")
        yield Static("限度額適用区分・特定疾病の情報の提供に同意しますか", classes="panel-title")
        yield Checkbox("限度額情報の提供に同意（L）", id="consent-limit")
        with Horizontal(id="consent-buttons"):
            yield Button("同意して照会（Enter）", id="consent-yes", variant="primary")
            yield Button("同意しないで照会（N）", id="consent-no")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # the focus may stay inside a pane the switcher has hidden: its keys go with it
        return bool(self.display)

    def on_mount(self) -> None:
        self.query_one("#consent-items").display = False

    def reset(self) -> None:
        for box in self.query(".consent-item").results(Checkbox):
            box.value = False
        self.query_one("#consent-limit", Checkbox).value = False
        self.query_one("#consent-items").display = False

    def focus_first(self) -> None:
        self.query_one("#consent-yes", Button).focus()

    def action_individual(self) -> None:
        self.query_one("#consent-items").display = True
        self.query_one(f"#consent-{ConsentItem.PHARMACY.value}", Checkbox).focus()

    def action_toggle_limit(self) -> None:
        self.query_one("#consent-limit", Checkbox).toggle()

    def action_send(self, consent: bool) -> None:
        focused = self.app.focused
        if consent and isinstance(focused, Button) and focused.id != "consent-yes":
            focused.press()  # Enter on another button presses that one
            return
        self._answer(consent)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "consent-individual":
            self.action_individual()
            return
        self._answer(event.button.id == "consent-yes")

    def _answer(self, consent: bool) -> None:
        items: frozenset[ConsentItem] = frozenset()
        if consent:
            ticked = frozenset(
                ConsentItem(box.id.removeprefix("consent-"))  # type: ignore[union-attr]
                for box in self.query(".consent-item").results(Checkbox)
                if box.value
            )
            chosen_individually = bool(ticked) or bool(self.query_one("#consent-items").display)
            items = ticked if chosen_individually else frozenset(ConsentItem)  # 包括同意: every item
        self.post_message(self.Answered(items, self.query_one("#consent-limit", Checkbox).value))
