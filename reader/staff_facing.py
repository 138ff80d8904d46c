"""The base of every error the terminal shows to staff: a Japanese title and what to do next.

It belongs to no layer: the reader's, the camera's and face matching's errors, the central
system's, the journal's and the facility config's all derive from it, so any screen or command
can show any of them the same way. It lives in the lowest package only so that every package may
import it; it knows nothing of cards.
"""

from __future__ import annotations

__all__ = ["StaffFacingError", "UsageError"]


class StaffFacingError(Exception):
    """`title` is what the screen shows as a heading, `str(error)` the explanation with what to do next."""

    title = "エラー"

    def __init__(self, msg: str, title: str | None = None) -> None:
        super().__init__(msg)
        if title is not None:
            self.title = title

    @property
    def msg(self) -> str:
        return str(self.args[0]) if self.args else ""


class UsageError(StaffFacingError):
    """Something typed (a command-line argument, a value, a file named there) cannot be used:
    the commands answer it with exit code 2."""

    title = "入力内容が正しくありません"
