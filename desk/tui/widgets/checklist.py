"""The fallback / instruction steps of the case, as a checklist the staff tick off.

One checkbox per step with the text beside it (wrapped: the steps are long sentences).
"""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Checkbox, Static

__all__ = ["StepChecklist"]


class StepChecklist(Vertical):
    def compose(self) -> ComposeResult:
        yield Static("対応手順（済んだものは Space でチェック）", classes="panel-title")
        yield VerticalScroll(id="steps")

    def show(self, steps: list[Any]) -> None:
        """`steps`: desk.rules.Step items (code, text)."""
        box = self.query_one("#steps", VerticalScroll)
        box.remove_children()
        box.mount_all(
            Horizontal(
                Checkbox("", name=step.code, classes="step-box"),
                Static(f"{i}.", classes="step-no"),
                Static(step.text, classes="step-text"),
                classes="step",
            )
            for i, step in enumerate(steps, 1)
        )
        self.display = bool(steps)

    @property
    def ticked(self) -> list[str]:
        return [box.name or "" for box in self.query(".step-box").results(Checkbox) if box.value]

    @property
    def count(self) -> int:
        return len(self.query(".step-box"))
