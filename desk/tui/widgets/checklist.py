"""The fallback / instruction steps of the case, as a checklist the staff tick off."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import SelectionList, Static

__all__ = ["StepChecklist"]


class StepChecklist(Vertical):
    def compose(self) -> ComposeResult:
        yield Static("対応手順（済んだものにチェック: Space）", classes="panel-title")
        yield SelectionList[str](id="steps")

    def show(self, steps: list[Any]) -> None:
        """`steps`: desk.rules.Step items (code, text)."""
        selection = self.query_one("#steps", SelectionList)
        selection.clear_options()
        selection.add_options([(f"{i}. {step.text}", step.code) for i, step in enumerate(steps, 1)])
        self.display = bool(steps)

    @property
    def ticked(self) -> list[str]:
        return list(self.query_one("#steps", SelectionList).selected)
