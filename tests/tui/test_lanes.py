"""The reception screen with two readers: the lane bar, switching lanes by keyboard, and views of
a background lane reaching only its cell."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Static

from desk.flow import State
from desk.models import AuthMethod
from desk.tui.screens.error import ErrorModal
from desk.tui.widgets.lane_bar import LaneBar
from desk.wiring import DeskConfig, ReaderSpec, open_desk
from sim.fixtures import REFERENCE_DATE
from tests.tui.conftest import SIZE, enter_pin, press_and_settle, settle


@pytest.fixture
def two_lane_app(sim_base: Path) -> Callable[..., Any]:
    opened = []

    def make(first: str | None = "elder-72", second: str | None = None) -> Any:
        from desk.tui.app import make_app

        desk = open_desk(DeskConfig(
            reader=ReaderSpec("sim", first), more_readers=(ReaderSpec("sim", second),), camera=None,
            sim_dir=sim_base, today=REFERENCE_DATE,
        ))
        opened.append(desk)
        return make_app(desk.session, desk.training, lanes=desk.all_lanes(), picture_mode="halfcell", cursor_blink=False)

    yield make
    for desk in opened:
        desk.close()


def pane(app) -> str:
    return app.screen.query_one("#main").current


def cell(app, lane: int) -> Static:
    return app.screen.query_one(f"#lane-{lane}", Static)


def cell_text(app, lane: int) -> str:
    return str(cell(app, lane).content)


async def test_one_reader_has_no_lane_bar(make_desk):
    desk = make_desk("adult")
    async with desk.app.run_test(size=SIZE) as pilot:
        await press_and_settle(pilot, "f3")
        assert not desk.app.screen.query(LaneBar)
        await press_and_settle(pilot, "ctrl+right", "alt+2")  # not ours: the PIN pad stays
        assert pane(desk.app) == "pane-pin" and desk.app.active_lane == 0


async def test_a_cell_per_reader_with_its_step_the_first_active(two_lane_app):
    app = two_lane_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert cell_text(app, 0).startswith("1 sim: 方法の選択") and cell(app, 0).has_class("-active")
        assert cell_text(app, 1).startswith("2 sim-2: カード待ち") and not cell(app, 1).has_class("-active")
        assert "Alt+番号" in str(app.screen.query_one("#lane-keys", Static).content)
        assert pane(app) == "pane-choose"


async def test_lane_2_reads_a_card_while_lane_1_types_a_pin_and_keys_switch(two_lane_app):
    app = two_lane_app()
    one, two = app.lanes
    async with app.run_test(size=SIZE) as pilot:
        await press_and_settle(pilot, "f3")
        assert pane(app) == "pane-pin"
        app.screen.query_one("#pin-input").value = "12"  # half typed
        two.training.place("adult")  # a patient at reader 2
        await settle(pilot)
        # only lane 2's cell moved on; lane 1's PIN pad is as it was
        assert "方法の選択" in cell_text(app, 1)
        assert pane(app) == "pane-pin" and one.session.reception.state is State.PIN
        await press_and_settle(pilot, "ctrl+right")
        assert app.active_lane == 1 and cell(app, 1).has_class("-active") and not cell(app, 0).has_class("-active")
        assert pane(app) == "pane-choose" and "sim-2" in str(app.screen.query_one("#status-reader", Static).content)
        await press_and_settle(pilot, "f3")
        await enter_pin(pilot, "1234")
        await pilot.click("#consent-no")
        await settle(pilot)
        assert pane(app) == "pane-result" and two.session.outcome.code == 1
        await press_and_settle(pilot, "alt+1")
        assert app.active_lane == 0 and pane(app) == "pane-pin"
        # what was typed for one patient never follows staff to another lane
        assert app.screen.query_one("#pin-input").value == ""
        await enter_pin(pilot, "1234")
        await pilot.click("#consent-no")
        await settle(pilot)
        assert pane(app) == "pane-result" and one.session.outcome.code == 1
        await press_and_settle(pilot, "ctrl+left")  # wraps round to the last lane
        assert app.active_lane == 1 and pane(app) == "pane-result"


async def test_a_background_result_is_marked_until_its_lane_is_shown(two_lane_app):
    app = two_lane_app(second="adult")
    two = app.lanes[1]
    async with app.run_test(size=SIZE) as pilot:
        await press_and_settle(pilot, "f3")
        app.screen.run_call_on(1, "照会しています…", lambda: two.session.confirm_unattended(AuthMethod.PIN, pin="1234"))
        await settle(pilot)
        assert "結果あり" in cell_text(app, 1) and cell(app, 1).has_class("-result")
        assert pane(app) == "pane-pin"  # the active panes did not move
        await press_and_settle(pilot, "alt+2")
        assert pane(app) == "pane-result" and "結果あり" not in cell_text(app, 1)
        assert "確認済み" in cell_text(app, 1)


async def test_an_error_in_a_background_lane_names_it(two_lane_app):
    app = two_lane_app()

    def fails() -> None:
        from reader.errors import ReaderGone

        raise ReaderGone("テスト用: リーダーが外れました。")

    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.screen.run_call_on(1, "確認しています…", fails)
        await settle(pilot)
        assert isinstance(app.screen, ErrorModal)
        assert "レーン2（sim-2）" in str(app.screen.query_one("#error-title", Static).content)
