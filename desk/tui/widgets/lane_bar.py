"""One line with a cell per reader when a desk has several (desk/lanes.py): who is where, which
step, 「結果あり」 when a lane's result waits to be read, the active lane highlighted.

Only the cells change when a background lane moves on: its panes are drawn when staff switch to it.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Static

from desk.flow import State
from desk.tui.widgets.text import set_text

__all__ = ["LANE_KEYS_HINT", "LaneBar", "step_label"]

LANE_KEYS_HINT = "Ctrl+←/→ または Alt+番号 でレーン切替"

_STEPS = {
    State.IDLE: "カード待ち",
    State.READING: "読み取り中",
    State.CHOOSING: "方法の選択",
    State.PIN: "暗証番号",
    State.FACE: "顔認証",
    State.VISUAL: "目視確認",
    State.AUTHENTICATING: "本人確認中",
    State.CONSENT: "同意の確認",
    State.QUERYING: "照会中",
    State.RESULT: "確認済み",
    State.FAILED: "確認できず",
}


def step_label(state: State) -> str:
    return _STEPS.get(state, str(state.value))


class LaneBar(Horizontal):
    def __init__(self, labels: list[str], **options: object) -> None:
        super().__init__(**options)  # type: ignore[arg-type]
        self._labels = labels

    def compose(self) -> ComposeResult:
        for index in range(len(self._labels)):
            yield Static(id=f"lane-{index}", classes="lane-cell")
        yield Static(LANE_KEYS_HINT, id="lane-keys")

    def show(self, index: int, state: State, *, active: bool, busy: bool, result_waiting: bool) -> None:
        cell = self.query_one(f"#lane-{index}", Static)
        text = f"{index + 1} {self._labels[index]}: {step_label(state)}"
        if busy:
            text += "…"
        if result_waiting:
            text += " 【結果あり】"
        set_text(cell, text)
        cell.set_class(active, "-active")
        cell.set_class(result_waiting, "-result")
