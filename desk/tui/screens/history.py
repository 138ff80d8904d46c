"""History from the journal: confirmations, each 目視 use (with the staff ID) and the queue of
confirmations made while the central system was down, which F5 re-runs."""

from __future__ import annotations

from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from desk.tui.errors import describe_error
from desk.tui.messages import WorkFailed
from desk.tui.screens.error import ErrorModal

__all__ = ["HistoryScreen"]


class HistoryScreen(Screen):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "戻る"),
        Binding("f5", "retry", "障害時の確認を再照会"),
        Binding("ctrl+r", "reload", "更新"),
    ]

    class Loaded(Message):
        def __init__(self, history: list[Any], pending: list[Any], notice: str = "") -> None:
            super().__init__()
            self.history = history
            self.pending = pending
            self.notice = notice

    def compose(self) -> ComposeResult:
        yield Static("受付の履歴", classes="screen-title")
        yield DataTable(id="history-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="outage-title", classes="panel-title")
        yield DataTable(id="outage-table", cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#history-table", DataTable).add_columns("日時", "種別", "内容")
        self.query_one("#outage-table", DataTable).add_columns("受付日時", "方法", "経路")
        self.action_reload()

    def action_reload(self) -> None:
        self._load(False)

    def action_retry(self) -> None:
        self.query_one("#outage-title", Static).update("再照会しています…")
        self._load(True)

    @work(thread=True, exclusive=True, group="history")
    def _load(self, retry: bool) -> None:
        session = self.app.session  # type: ignore[attr-defined]
        notice = ""
        try:
            if retry:
                before = len(session.journal.pending_outages())
                outcomes = session.retry_outage_queue()
                left = len(session.journal.pending_outages())
                notice = f"{len(outcomes)}件を再照会しました" + (f"（{left}件は接続できず待機中）" if left else "")
                if not before:
                    notice = "再照会待ちはありません"
            history = session.journal.history(100)
            pending = session.journal.pending_outages()
        except Exception as exc:
            self.post_message(WorkFailed(*describe_error(exc)))
            return
        self.post_message(self.Loaded(history, pending, notice))

    def on_history_screen_loaded(self, message: Loaded) -> None:
        table = self.query_one("#history-table", DataTable)
        table.clear()
        for item in message.history:
            table.add_row(f"{item.at:%Y-%m-%d %H:%M}", item.kind.label, item.summary)
        outages = self.query_one("#outage-table", DataTable)
        outages.clear()
        for item in message.pending:
            outages.add_row(f"{item.enqueued_at:%Y-%m-%d %H:%M}", item.method.label, item.channel.label)
        count = len(message.pending)
        self.query_one("#outage-title", Static).update(
            f"障害時の再照会待ち: {count}件" + ("（F5で再照会）" if count else "")
        )
        if message.notice:
            self.notify(message.notice)

    def on_work_failed(self, message: WorkFailed) -> None:
        self.app.push_screen(ErrorModal(message.title, message.message, message.hint))
