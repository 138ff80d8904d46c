"""The top line: reader, camera and central system, each green when usable and red when not."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Static

from desk.tui.view import StatusView
from desk.tui.widgets.text import set_text

__all__ = ["StatusBar"]


class StatusBar(Horizontal):
    def compose(self) -> ComposeResult:
        yield Static(id="status-reader", classes="status-item")
        yield Static(id="status-camera", classes="status-item")
        yield Static(id="status-central", classes="status-item")
        yield Static(id="status-mode", classes="status-item")
        yield Static(id="status-records", classes="status-item")

    def show(self, status: StatusView, *, training: bool) -> None:
        self._item("#status-reader", f"リーダー {status.reader}", status.reader_ok)
        self._item("#status-camera", f"カメラ {status.camera}", status.camera_ok)
        self._item("#status-central", f"資格確認 {status.central}", status.central_ok)
        records = self.query_one("#status-records", Static)
        if status.waiting_records:
            # plain words: the confirmations are kept on disk and reach the journal by themselves
            self._item("#status-records", f"記録 一時保存中 {status.waiting_records}件（受付記録に書き込めません）", False)
        records.display = bool(status.waiting_records)
        mode = self.query_one("#status-mode", Static)
        set_text(mode, "訓練モード" if training else "")
        mode.display = training

    def _item(self, selector: str, text: str, ok: bool) -> None:
        item = self.query_one(selector, Static)
        set_text(item, ("● " if ok else "✕ ") + text)
        item.set_class(ok, "-ok")
        item.set_class(not ok, "-bad")
