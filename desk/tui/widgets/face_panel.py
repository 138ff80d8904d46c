"""Face authentication: the card photo, the frame the camera saw, and how close they were."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, Static

from desk.models import FACE_LOCK_AFTER
from desk.tui.view import DeskView
from desk.tui.widgets.picture import Picture
from desk.tui.widgets.text import set_text

__all__ = ["FacePanel"]


class FacePanel(Vertical):
    class Retry(Message):
        """Staff asked for another attempt."""

    def compose(self) -> ComposeResult:
        yield Static("顔認証", classes="panel-title")
        with Horizontal(classes="pictures"):
            yield Picture("カードの顔写真", id="face-photo")
            yield Picture("カメラの映像", id="face-frame")
        with Vertical(id="face-figures"):
            yield Static("", id="face-distance")
            yield Static("", id="face-failures")
            yield Static("", id="face-verdict")
            yield Button("F2 もう一度", id="face-retry")

    def show(self, view: DeskView, *, can_retry: bool) -> None:
        self.query_one("#face-photo", Picture).show(view.photo)
        self.query_one("#face-frame", Picture).show(view.frame)
        if view.face_distance is None:
            distance = "距離: —"
        elif view.face_threshold is not None:
            distance = f"距離: {view.face_distance:.2f}（しきい値 {view.face_threshold:.2f} 以下で本人）"
        else:
            distance = f"距離: {view.face_distance:.2f}"
        set_text(self.query_one("#face-distance", Static), distance)
        set_text(self.query_one("#face-failures", Static), f"連続失敗: {view.face_failures} / {FACE_LOCK_AFTER}")
        verdict = self.query_one("#face-verdict", Static)
        set_text(verdict, view.face_message)
        verdict.set_class(view.face_accepted is True, "-ok")
        verdict.set_class(view.face_accepted is False, "-bad")
        self.query_one("#face-retry", Button).display = can_retry

    def show_pending(self, failures: int) -> None:
        """F2 pressed: this pane at once, while the worker films and matches (a quarter of a second
        and more on 2 cores); never the last patient's pictures or verdict."""
        for picture in self.query(Picture):
            picture.show(None, pending=True)
        set_text(self.query_one("#face-distance", Static), "距離: —")
        set_text(self.query_one("#face-failures", Static), f"連続失敗: {failures} / {FACE_LOCK_AFTER}")
        verdict = self.query_one("#face-verdict", Static)
        set_text(verdict, "カメラで顔を照合しています…（カメラを見てもらってください）")
        verdict.remove_class("-ok", "-bad")
        self.query_one("#face-retry", Button).display = False

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.post_message(self.Retry())
