"""The screens around the reception screen: training picker, statistics, 申立書, command palette."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Input, Static

from desk.flow import State
from desk.tui.screens.moushitate import MoushitateScreen
from desk.tui.screens.reception import ReceptionScreen
from desk.tui.screens.stats import StatsScreen
from desk.tui.screens.training import TrainingScreen
from tests.tui.conftest import SIZE, confirm_by_pin_without_consent, press_and_settle, settle


async def test_training_picker_places_any_fixture_card_and_sets_the_world(make_desk):
    desk = make_desk("adult")
    async with desk.app.run_test(size=SIZE) as pilot:
        await press_and_settle(pilot, "f10")
        screen = desk.app.screen
        assert isinstance(screen, TrainingScreen)
        card = screen.query_one("#training-card")
        names = [value for _, value in card._options if isinstance(value, str)]
        assert {"adult", "no-pin", "lost", "unregistered", "elder-80"} <= set(names)
        card.value = "no-pin"
        screen.query_one("#training-central").value = "down"
        await pilot.pause()
        await pilot.click("#training-place")
        await settle(pilot)
        assert isinstance(desk.app.screen, ReceptionScreen)
        assert desk.session.reception.state is State.CHOOSING
        assert desk.session.reception.pin_tries_left is None  # the no-PIN card is on the reader
        assert desk.app.screen.query_one("#status-central").has_class("-bad")


async def test_training_is_not_offered_on_real_hardware(make_desk):
    desk = make_desk("adult")
    desk.app.controls = None  # what `desk --reader pcsc` builds
    async with desk.app.run_test(size=SIZE) as pilot:
        await press_and_settle(pilot, "f10")
        assert isinstance(desk.app.screen, ReceptionScreen)
        assert not desk.app.screen.query_one("#status-mode").display


async def test_statistics_show_the_rate_and_the_prefecture_figure(make_desk):
    desk = make_desk("adult")
    async with desk.app.run_test(size=SIZE) as pilot:
        await confirm_by_pin_without_consent(pilot)
        await press_and_settle(pilot, "f8")
        assert isinstance(desk.app.screen, StatsScreen)
        tier = str(desk.app.screen.query_one("#stats-tier", Static).content)
        assert "2026-12" in tier and "利用率" in tier
        chart = desk.app.screen.query_one("#stats-chart", Static).content
        rows = [str(cell) for column in chart.columns for cell in column._cells]
        assert "100.0%" in rows  # one confirmation, by マイナ保険証
        assert any(desk.session.facility.prefecture in row for row in rows)


async def test_moushitate_is_prefilled_and_saved(make_desk, tmp_path: Path):
    desk = make_desk("unregistered")
    async with desk.app.run_test(size=SIZE) as pilot:
        await confirm_by_pin_without_consent(pilot)
        await press_and_settle(pilot, "f9")
        screen = desk.app.screen
        assert isinstance(screen, MoushitateScreen)
        assert "被保険者資格申立書" in str(screen.query_one("#moushitate-preview", Static).content)
        screen.query_one("#form-name", Input).value = "山田 太郎"
        screen.query_one("#form-phone", Input).value = "03-0000-0000"
        target = tmp_path / "form.html"
        screen.query_one("#form-path", Input).value = str(target)
        await press_and_settle(pilot, "ctrl+s")
        saved = target.read_text(encoding="utf-8")
        assert "山田 太郎" in saved and "03-0000-0000" in saved
        assert "保存しました" in str(screen.query_one("#moushitate-status", Static).content)


async def test_moushitate_is_filled_from_the_card_with_the_input_support_pin(make_desk, tmp_path: Path):
    from desk.tui.screens.error import ErrorModal

    desk = make_desk("unregistered")
    holder = desk.controls.transport.card.fixture.holder
    async with desk.app.run_test(size=SIZE) as pilot:
        await confirm_by_pin_without_consent(pilot)
        await press_and_settle(pilot, "f9")
        screen = desk.app.screen
        assert screen.query_one("#form-name", Input).value != holder.name  # not read yet
        screen.query_one("#form-phone", Input).value = "03-1111-2222"  # typed before the card is read
        pin = screen.query_one("#form-card-pin", Input)
        pin.value = "9999"  # a wrong 券面事項入力補助用暗証番号: the card counts it and says so
        pin.focus()
        await press_and_settle(pilot, "enter")
        assert isinstance(desk.app.screen, ErrorModal)
        assert "残り2回" in str(desk.app.screen.query_one("#error-message", Static).content)
        assert "もう一度入力" in str(desk.app.screen.query_one("#error-hint", Static).content)  # not "re-place the card"
        await press_and_settle(pilot, "escape")
        pin.value = "1234"
        pin.focus()
        await press_and_settle(pilot, "enter")
        assert screen.query_one("#form-name", Input).value == holder.name
        assert screen.query_one("#form-address", Input).value == holder.address
        assert pin.value == ""  # the PIN does not stay on screen
        assert screen.query_one("#form-phone", Input).value == "03-1111-2222"  # not overwritten
        preview = str(screen.query_one("#moushitate-preview", Static).content)
        born = holder.birth_date
        assert f"年 {born.month}月 {born.day}日" in preview  # the birth date from the chip
        assert ("☑男" if holder.sex == "1" else "☑女") in preview
    assert desk.session.basic_four is not None
    desk.session.next_patient()
    assert desk.session.basic_four is None  # forgotten with the patient


async def test_command_palette_lists_the_screens(make_desk):
    desk = make_desk("adult")
    async with desk.app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        titles = [c.title for c in desk.app.get_system_commands(desk.app.screen)]
        for title in ("番号で照会", "履歴", "統計", "申立書", "訓練シナリオ", "カードを取り外す（訓練）"):
            assert title in titles


async def test_reader_presence_callbacks_drive_the_screen(make_desk):
    """Real hardware reports the card through the reader's watch callbacks; the simulated reader
    reports the same way, so the path `desk --reader pcsc` takes is exercised here."""
    from desk.tui.app import make_app

    desk = make_desk(None)
    app = make_app(desk.session, None, picture_mode="halfcell", cursor_blink=False)
    transport = desk.controls.transport
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.screen.view.state is State.IDLE
        transport.insert(desk.controls.world.card("adult"))  # fires on_inserted on this thread
        await settle(pilot)
        assert app.screen.view.state is State.CHOOSING
        await press_and_settle(pilot, "f3")
        transport.remove()
        await settle(pilot)
        assert desk.session.reception.state is State.FAILED
        assert "カードが取り外されました" in str(app.screen.query_one("#result-label", Static).content)


async def test_visual_screen_refreshes_the_live_frame(make_desk):
    from desk.tui.app import make_app

    desk = make_desk("pin-blocked")
    app = make_app(desk.session, desk.controls, picture_mode="halfcell", cursor_blink=False, live_frames=0.05)
    frames = []
    async with app.run_test(size=SIZE) as pilot:
        await press_and_settle(pilot, "f4")
        panel = app.screen.query_one("#visual-frame")
        original = panel.show
        panel.show = lambda picture: (frames.append(picture), original(picture))
        await pilot.pause(0.5)
        assert frames and all(f is not None for f in frames)
