"""Changing a Static's text only when it changes.

`Static.update` asks for a layout of the whole screen and a redraw even when the text is the
same, and most views the reception screen draws change only a few of its texts.
"""

from __future__ import annotations

from typing import Any

from textual.widgets import Static

from desk.tui.linebreak import wrap_fields

__all__ = ["HangingText", "set_text"]


def set_text(widget: Static, text: str) -> None:
    if widget.content != text:
        widget.update(text)


class HangingText(Static):
    """Lines broken as Japanese is typeset at the widget's width, each continuation under the text
    after its label (`indent` cells): 「同意      薬剤情報・診療情報…」 wraps under 薬剤, not under 同意."""

    def __init__(self, *, indent: int = 0, **options: Any) -> None:
        super().__init__("", **options)
        self._indent = indent
        self._source = ""
        self._wrapped_at = 0

    @property
    def source(self) -> str:
        """The text as given, before breaking."""
        return self._source

    def set_source(self, text: str) -> None:
        if text == self._source and self.content_region.width == self._wrapped_at:
            return  # most views change only a few texts: no layout for the others
        self._source = text
        self._wrap()

    def _wrap(self) -> None:
        width = self.content_region.width
        self._wrapped_at = width
        if width <= self._indent + 8:  # not laid out yet: the terminal folds it until on_resize
            set_text(self, self._source)
            return
        set_text(self, "\n".join(wrap_fields(self._source, width, indent=self._indent)))

    def on_resize(self) -> None:
        if self._source and self.content_region.width != self._wrapped_at:
            self._wrap()
