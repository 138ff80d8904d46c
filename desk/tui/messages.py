"""Messages that cross the app: posted from worker and hardware threads, handled by screens.

A widget's own messages are nested in the widget class (e.g. `PinPad.Submitted`); only what
several screens share lives here.
"""

from __future__ import annotations

from textual.message import Message

from desk.tui.view import DeskView

__all__ = ["SessionChanged", "WorkFailed", "CardPresence", "FrameCaptured"]


class SessionChanged(Message):
    """A session call finished; `view` is what the screen should now show."""

    def __init__(self, view: DeskView, ticket: int = 0, lane: int = 0) -> None:
        super().__init__()
        self.view = view
        self.ticket = ticket  # which session call of its lane this view follows (they finish in order)
        self.lane = lane  # the reader's lane whose session it shows (desk/lanes.py)


class WorkFailed(Message):
    """A session call raised: show the error's title, its message and what to do next."""

    def __init__(self, title: str, message: str, hint: str = "") -> None:
        super().__init__()
        self.title = title
        self.message = message
        self.hint = hint


class CardPresence(Message):
    """The reader saw a card placed (`present`) or taken away; posted from the reader's thread."""

    def __init__(self, present: bool, lane: int = 0) -> None:
        super().__init__()
        self.present = present
        self.lane = lane


class FrameCaptured(Message):
    """A fresh camera frame (a PIL image) for the 目視 screen."""

    def __init__(self, picture: object, lane: int = 0) -> None:
        super().__init__()
        self.picture = picture
        self.lane = lane  # shown only while that lane is on screen
