"""Changing a Static's text only when it changes.

`Static.update` asks for a layout of the whole screen and a redraw even when the text is the
same, and most views the reception screen draws change only a few of its texts.
"""

from __future__ import annotations

from textual.widgets import Static

__all__ = ["set_text"]


def set_text(widget: Static, text: str) -> None:
    if widget.content != text:
        widget.update(text)
