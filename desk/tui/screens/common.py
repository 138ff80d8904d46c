"""Small helpers the screens share."""

from __future__ import annotations

from textual.screen import Screen
from textual.widgets import Input

__all__ = ["apply_cursor_setting"]


def apply_cursor_setting(screen: Screen) -> None:
    """Stop the text cursor blinking when the app asks (tests and screenshots: a blinking cursor
    would make two renders of the same state differ)."""
    if not getattr(screen.app, "cursor_blink", True):
        for field in screen.query(Input):
            field.cursor_blink = False
