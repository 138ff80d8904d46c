"""The result pane: the answer (ResultBanner) over the steps (StepChecklist), and its own key:
C copies the numbers to claim with, for pasting into the レセコン."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical

from desk.tui.widgets.checklist import StepChecklist
from desk.tui.widgets.result_banner import ResultBanner

__all__ = ["ResultPane"]


class ResultPane(Vertical):
    BINDINGS = [Binding("c", "copy_claim", "番号コピー")]

    def compose(self) -> ComposeResult:
        yield ResultBanner(id="result")
        yield StepChecklist(id="checklist")

    def action_copy_claim(self) -> None:
        claim = self.query_one(ResultBanner).claim
        if claim:
            self.app.copy_to_clipboard(claim)  # the terminal's clipboard (OSC 52), and the app's own
            self.notify("請求に使う番号をコピーしました。", timeout=2)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "copy_claim":
            return bool(self.query_one(ResultBanner).claim)
        return True
