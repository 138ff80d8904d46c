"""Statistics: the monthly マイナ保険証 usage rate as a chart, the 医療DX推進体制整備加算 tier it reaches,
and the seed's published rate for this facility's prefecture and type beside it (desk.stats)."""

from __future__ import annotations

from typing import Any

from rich.bar import Bar
from rich.table import Table
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Static

from desk.tui.errors import describe_error
from desk.tui.messages import WorkFailed
from desk.tui.screens.error import ErrorModal

__all__ = ["StatsScreen", "MONTHS_SHOWN"]

MONTHS_SHOWN = 6
_BAR_WIDTH = 40


class StatsScreen(Screen):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "戻る"),
        Binding("left", "shift(-1)", "前の月"),
        Binding("right", "shift(1)", "次の月"),
    ]

    class Loaded(Message):
        def __init__(self, months: list[Any]) -> None:
            super().__init__()
            self.months = months  # desk.stats.MonthlyUsage, oldest first; the last is the month shown

    def __init__(self) -> None:
        super().__init__()
        self._offset = 0

    def compose(self) -> ComposeResult:
        yield Static("マイナ保険証の利用率と医療DX推進体制整備加算", classes="screen-title")
        yield Static("集計しています…", id="stats-chart")
        yield Static("", id="stats-tier")
        yield Footer()

    def on_mount(self) -> None:
        self._load()

    def action_shift(self, months: int) -> None:
        self._offset = min(0, self._offset + months)
        self._load()

    @work(thread=True, exclusive=True, group="stats")
    def _load(self) -> None:
        from desk.stats import month_label, monthly_usage, shift_month

        session = self.app.session  # type: ignore[attr-defined]
        facility = session.facility
        today = session.ports.clock().date()
        last = shift_month((today.year, today.month), self._offset)
        category = getattr(getattr(facility, "category", None), "value", None)
        try:
            months = [
                monthly_usage(
                    session.journal,
                    month_label(shift_month(last, -back)),
                    category=category,
                    prefecture=getattr(facility, "prefecture", None),
                    pediatric=bool(getattr(facility, "pediatric_exception", False)),
                )
                for back in range(MONTHS_SHOWN - 1, -1, -1)
            ]
        except Exception as exc:
            self.post_message(WorkFailed(*describe_error(exc)))
            return
        self.post_message(self.Loaded(months))

    def on_stats_screen_loaded(self, message: Loaded) -> None:
        months = message.months
        self.query_one("#stats-chart", Static).update(_chart(months))
        self.query_one("#stats-tier", Static).update(_tiers(months[-1]))

    def on_work_failed(self, message: WorkFailed) -> None:
        self.app.push_screen(ErrorModal(message.title, message.message, message.hint))


def _bar_row(table: Table, label: str, rate: float | None, detail: str, color: str) -> None:
    bar = Bar(100, 0, rate or 0, width=_BAR_WIDTH, color=color, bgcolor="grey23")
    table.add_row(label, bar, "—" if rate is None else f"{rate:.1f}%", detail)


def _chart(months: list[Any]) -> Table:
    table = Table(box=None, show_header=True, header_style="bold", pad_edge=False, padding=(0, 1))
    table.add_column("月")
    table.add_column("利用率（0〜100%）", width=_BAR_WIDTH)
    table.add_column("率", justify="right")
    table.add_column("件数")
    for usage in months:
        phones = f"（うちスマホ {usage.smartphone_count}）" if usage.smartphone_count else ""
        detail = f"マイナ {usage.myna_count}{phones} / オンライン資格確認 {usage.online_count}"
        _bar_row(table, usage.month, usage.rate_percent, detail, "green")
    last = months[-1]
    reference = f"{last.reference_month} 公表値"
    if last.prefecture and last.prefecture_rate_percent is not None:
        _bar_row(table, "参考", last.prefecture_rate_percent, f"{last.prefecture}の{last.category_label}（{reference}）", "yellow")
    if last.prefecture and last.prefecture_overall_rate_percent is not None:
        _bar_row(table, "参考", last.prefecture_overall_rate_percent, f"{last.prefecture}の全施設（{reference}）", "yellow")
    _bar_row(table, "参考", last.national_rate_percent, f"全国（{reference}）", "yellow")
    if last.schemes:  # the tier lines of the first 加算 the month's rate feeds
        first = last.schemes[0]
        for tier, percent in sorted((first.thresholds_percent or {}).items()):
            if percent is not None:
                _bar_row(table, "基準", percent, f"加算{tier}（{first.applies_to} 適用）", "blue")
    return table


def _tiers(usage: Any) -> str:
    from desk.stats import scheme_lines

    lines = [f"\n{usage.month} の実績（{usage.definition}）が使われる加算", *scheme_lines(usage)]
    lines.append("\n← → で月を移動")
    return "\n".join(lines)
