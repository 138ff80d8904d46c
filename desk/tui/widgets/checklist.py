"""The fallback / instruction steps of the case, as a checklist the staff tick off.

One OptionList entry per step, the box and the number in a gutter on its left so that the text
(long sentences) wraps under itself. A single widget rather than a checkbox, a number and a text widget per
step: mounting 3 widgets per step when the result arrived took 50-60 ms of the event loop, a
frozen screen just as the answer should appear. Space or Enter ticks the highlighted step; a
click ticks the clicked one.

Each step shows only what to do (desk.rules.summary, "▸" when there is more); the step under the
cursor unfolds to its whole text, so 該当資格なし's seven steps fit on one screen and each detail is
one ↑↓ away.
"""

from __future__ import annotations

from typing import Any

from rich.segment import Segment
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.strip import Strip
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from desk.tui.linebreak import wrap_japanese

__all__ = ["StepChecklist", "StepList"]

_GUTTER = 8  # "[X] 12. ": box, number, then the text wraps in the rest of the width
_FOLDED = " ▸"  # after a step whose details are folded


class StepList(OptionList):
    BINDINGS = [Binding("space", "select", "チェック", show=False)]

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._codes: list[str] = []
        self._texts: list[str] = []
        self._summaries: list[str] = []
        self._ticked: set[int] = set()
        self._wrapped_at = 0
        self._unfolded: int | None = None  # the step shown whole (the highlighted one)

    def set_steps(self, steps: list[Any]) -> None:
        from desk.rules import summary

        self._codes = [step.code for step in steps]
        self._texts = [step.text for step in steps]
        self._summaries = [summary(step) for step in steps]
        self._ticked = set()
        self._unfolded = 0 if steps else None
        self._fill()
        self.highlighted = self._unfolded

    def _shown(self, index: int) -> str:
        text, short = self._texts[index], self._summaries[index]
        return text if index == self._unfolded or short == text else short + _FOLDED

    def _fill(self) -> None:
        # Lines broken here as Japanese is typeset (desk/tui/linebreak.py), not folded by the
        # terminal at any character; the box and number live in the gutter.
        width = self.scrollable_content_region.width - _GUTTER
        self._wrapped_at = width
        shown = [self._shown(i) for i in range(len(self._texts))]
        prompts = ["\n".join(wrap_japanese(t, width)) if width > 8 else t for t in shown]
        self.set_options(Option(p, id=c) for p, c in zip(prompts, self._codes, strict=True))

    def _refill(self) -> None:
        highlighted = self.highlighted
        self._fill()
        self.highlighted = highlighted

    def on_resize(self) -> None:
        if self._texts and self.scrollable_content_region.width - _GUTTER != self._wrapped_at:
            self._refill()

    @on(OptionList.OptionHighlighted)
    def _unfold(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        if event.option_index != self._unfolded:
            self._unfolded = event.option_index
            self._refill()

    def _get_left_gutter_width(self) -> int:
        return _GUTTER

    def render_line(self, y: int) -> Strip:
        line = super().render_line(y)
        try:
            # OptionList's own (option, line within it) table: the box and number go on an option's first line.
            index, offset = self._lines[self.scroll_offset.y + y]
        except IndexError:
            return line  # below the last step: already blank across the whole width
        gutter = f"[{'X' if index in self._ticked else ' '}] {index + 1:>2}. " if offset == 0 else ""
        style = next(iter(line)).style if line.cell_length else None
        return Strip([Segment(gutter.ljust(_GUTTER), style), *line])

    @on(OptionList.OptionSelected)
    def _toggle(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self._ticked ^= {event.option_index}
        self.refresh()

    @property
    def ticked(self) -> list[str]:
        return [self._codes[i] for i in sorted(self._ticked)]


class StepChecklist(Vertical):
    def compose(self) -> ComposeResult:
        yield Static("", id="steps-first")  # the one thing to do first, in bold
        yield Static("対応手順（済んだものは Space でチェック）", classes="panel-title")
        yield StepList(id="steps")

    def show(self, steps: list[Any]) -> None:
        """`steps`: desk.rules.Step items (code, text)."""
        from desk.rules import first_action, headline

        first = first_action(steps)
        self._headline = f"まず：{headline(first)}" if first is not None else ""
        self._fill_headline()
        self.query_one(StepList).set_steps(steps)
        self.display = bool(steps)

    def _fill_headline(self) -> None:
        width = self.content_region.width
        text = "\n".join(wrap_japanese(self._headline, width)) if width > 8 and self._headline else self._headline
        self.query_one("#steps-first", Static).update(text)

    def on_resize(self) -> None:
        if getattr(self, "_headline", ""):
            self._fill_headline()

    @property
    def ticked(self) -> list[str]:
        return self.query_one(StepList).ticked

    @property
    def count(self) -> int:
        return self.query_one(StepList).option_count
