"""Pilot tests of every reception path, on the real session over the simulated world."""

from __future__ import annotations

import pytest
from textual.widgets import Button, Checkbox, Input, Static

from desk.flow import FACE_LOCK_AFTER, State
from desk.models import AuthMethod, FailureName
from desk.tui.screens.error import ErrorModal
from desk.tui.screens.reception import ReceptionScreen
from desk.tui.widgets.checklist import StepChecklist, StepList
from desk.tui.widgets.key_footer import KeyFooter
from desk.tui.widgets.text import HangingText
from desk.wiring import SIM_VISUAL_PASSWORD
from reader.face_counter import CardFaceCounter
from tests.tui.conftest import SIZE, confirm_by_pin_without_consent, enter_pin, press_and_settle, settle


def text(app, selector: str) -> str:
    widget = app.screen.query_one(selector, Static)
    if isinstance(widget, HangingText):
        return widget.source  # before breaking at the width: the hanging indent has its own test
    return str(widget.content)


def pane(app) -> str:
    return app.screen.query_one("#main").current


async def consent_all(pilot) -> None:
    app = pilot.app
    assert pane(app) == "pane-consent"
    for box in app.screen.query(".consent-item").results(Checkbox):
        box.value = True
    await pilot.click("#consent-yes")
    await settle(pilot)


async def fill_visual(pilot, staff: str, password: str, *, confirmed: bool = True) -> None:
    app = pilot.app
    assert pane(app) == "pane-visual"
    app.screen.query_one("#visual-staff", Input).value = staff
    app.screen.query_one("#visual-confirmed", Checkbox).value = confirmed
    app.screen.query_one("#visual-password", Input).value = password
    await pilot.click("#visual-submit")
    await settle(pilot)


def assert_banner(app, code: int | None, label: str, kind: str) -> None:
    assert pane(app) == "pane-result"
    banner = app.screen.query_one("#result-label", Static)
    assert label in str(banner.content)
    assert banner.has_class(kind)
    outcome = app.session.outcome
    assert outcome.code == code
    assert app.screen.query_one(StepChecklist).count == len(outcome.steps)


async def test_starts_with_the_card_read_and_the_three_methods(make_desk):
    desk = make_desk("adult")
    async with desk.app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(desk.app.screen, ReceptionScreen)
        assert desk.session.reception.state is State.CHOOSING
        assert pane(desk.app) == "pane-choose"
        for method in ("face", "pin", "visual"):
            assert not desk.app.screen.query_one(f"#method-{method}", Button).disabled
        assert "残り3回" in text(desk.app, "#card-state")
        assert "訓練モード" in text(desk.app, "#status-mode")


async def test_pin_right_gives_valid_with_consent(make_desk):
    desk = make_desk("adult")
    async with desk.app.run_test(size=SIZE) as pilot:
        await press_and_settle(pilot, "f3")
        assert pane(desk.app) == "pane-pin"
        assert "残り 3 回" in text(desk.app, "#pin-tries")
        await pilot.press(*"1234", "enter")
        await settle(pilot)
        await consent_all(pilot)
        assert_banner(desk.app, 1, "有効", "-valid")
        details = text(desk.app, "#result-details")
        assert "佐藤　花子" in details and "01130012" in details and "3割" in details
        assert "薬剤情報" in details
        assert desk.session.outcome.method is AuthMethod.PIN
        # the PIN is not kept anywhere on screen
        assert desk.app.screen.query_one("#pin-input", Input).value == ""


async def test_every_pane_is_laid_out_behind_the_cover_at_start(make_desk, monkeypatch):
    from textual.screen import Screen

    from desk.tui.screens.reception import _WARM_PANES

    laid_out: list[str] = []
    original = Screen._refresh_layout

    def record(screen, *args, **kwargs):
        if isinstance(screen, ReceptionScreen):
            laid_out.append(screen.query_one("#main").current)
        return original(screen, *args, **kwargs)

    monkeypatch.setattr(Screen, "_refresh_layout", record)
    desk = make_desk("adult")
    async with desk.app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert set(_WARM_PANES) <= set(laid_out)
        assert not desk.app.screen.query("#startup-cover")
        assert pane(desk.app) == "pane-choose"


async def test_keys_typed_at_the_choice_reach_no_hidden_field(make_desk):
    desk = make_desk("adult")
    async with desk.app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert desk.app.focused is None or desk.app.focused.display
        await pilot.press("1", "2", "enter")
        await settle(pilot)
        assert desk.app.screen.query_one("#check-b", Input).value == ""
        assert pane(desk.app) == "pane-choose" and isinstance(desk.app.screen, ReceptionScreen)


async def test_footer_keys_are_pressed_by_a_click(make_desk):
    desk = make_desk("adult")
    async with desk.app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        footer = desk.app.screen.query_one(KeyFooter)
        spans = {hint.key: (start, hint.enabled) for start, _, hint in footer._spans}
        assert spans["f3"][1] and spans["f5"][1]
        await pilot.click(KeyFooter, offset=(spans["f3"][0] + 1, 0))
        await settle(pilot)
        assert pane(desk.app) == "pane-pin"
        # a key that can't be used now (次の患者 while the PIN is asked) is dimmed and a click does nothing
        spans = {hint.key: (start, hint.enabled) for start, _, hint in footer._spans}
        assert not spans["f5"][1]
        await pilot.click(KeyFooter, offset=(spans["f5"][0] + 1, 0))
        await settle(pilot)
        assert pane(desk.app) == "pane-pin"


async def test_steps_are_ticked_with_space_or_a_click(make_desk):
    desk = make_desk("adult")
    async with desk.app.run_test(size=SIZE) as pilot:
        await confirm_by_pin_without_consent(pilot)
        checklist = desk.app.screen.query_one(StepChecklist)
        steps = desk.session.outcome.steps
        assert checklist.count == len(steps) >= 3 and checklist.ticked == []
        desk.app.screen.query_one(StepList).focus()
        await pilot.press("space", "down", "down", "space")
        assert checklist.ticked == [steps[0].code, steps[2].code]
        await pilot.press("space")  # again: unticked
        assert checklist.ticked == [steps[0].code]
        lines = [desk.app.screen.query_one(StepList).render_line(y).text for y in range(2)]
        assert lines[0].startswith("[X]  1. ") and lines[1].startswith("[ ]  2. ")
        await pilot.click(StepList, offset=(12, 1))
        assert checklist.ticked == [steps[0].code, steps[1].code]
        # the next patient starts with an empty list
        await press_and_settle(pilot, "f5")
        assert checklist.ticked == []


async def test_pin_wrong_three_times_then_visual(make_desk):
    desk = make_desk("adult")
    async with desk.app.run_test(size=SIZE) as pilot:
        await press_and_settle(pilot, "f3")
        for left in (2, 1):
            await enter_pin(pilot, "0000")
            assert pane(desk.app) == "pane-pin"
            assert f"残り {left} 回" in text(desk.app, "#pin-tries")
            assert "暗証番号が違います" in text(desk.app, "#message")
        await enter_pin(pilot, "0000")
        # blocked: back to the choice, PIN disabled with its reason, face and 目視 still offered
        assert desk.session.reception.state is State.CHOOSING
        assert desk.app.screen.query_one("#method-pin", Button).disabled
        assert "ロック" in text(desk.app, "#method-pin-reason")
        assert not desk.app.screen.query_one("#method-visual", Button).disabled
        await press_and_settle(pilot, "f4")
        photo = desk.app.screen.query_one("#visual-photo .picture-image")
        assert photo.display and photo.image is not None
        assert desk.app.screen.query_one("#visual-frame .picture-image").image is not None
        await fill_visual(pilot, "staff-07", SIM_VISUAL_PASSWORD)
        await consent_all(pilot)
        assert_banner(desk.app, 1, "有効", "-valid")
        assert desk.session.outcome.method is AuthMethod.VISUAL


async def test_visual_wrong_then_right_password(make_desk):
    desk = make_desk("no-pin")
    async with desk.app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert desk.app.screen.query_one("#method-pin", Button).disabled
        assert "暗証番号なし" in text(desk.app, "#method-pin-reason")
        await press_and_settle(pilot, "f4")
        # the checkbox is required
        await fill_visual(pilot, "staff-07", SIM_VISUAL_PASSWORD, confirmed=False)
        assert desk.session.reception.state is State.VISUAL
        assert "チェック" in text(desk.app, "#message")
        await fill_visual(pilot, "staff-07", "1234")  # the card PIN is not the 目視 password
        assert desk.session.reception.state is State.VISUAL
        assert "パスワードが違います" in text(desk.app, "#message")
        assert desk.app.screen.query_one("#visual-password", Input).value == ""
        await fill_visual(pilot, "staff-07", SIM_VISUAL_PASSWORD)
        assert pane(desk.app) == "pane-consent"
        await pilot.click("#consent-no")
        await settle(pilot)
        assert_banner(desk.app, 1, "有効", "-valid")
        assert "同意      なし" in text(desk.app, "#result-details")


@pytest.mark.face
async def test_face_right(make_desk):
    desk = make_desk("adult", camera="holder")
    async with desk.app.run_test(size=SIZE) as pilot:
        await press_and_settle(pilot, "f2")
        assert pane(desk.app) == "pane-consent"
        assert desk.session.last_face.accepted
        await consent_all(pilot)
        assert_banner(desk.app, 1, "有効", "-valid")
        assert desk.session.outcome.method is AuthMethod.FACE


@pytest.mark.face
async def test_card_front_typed_by_staff_where_the_reader_has_no_card_camera(make_desk):
    """A plain PC/SC reader can't read 照合番号B off the card front: staff type it, then face auth works."""
    desk = make_desk(None, camera="holder")
    desk.session.ports.check_b = lambda: None  # as with a real reader: no card-front source
    desk.controls.place("adult")
    async with desk.app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert desk.app.screen.query_one("#method-face", Button).disabled
        assert "照合番号B" in text(desk.app, "#method-face-reason")
        field = desk.app.screen.query_one("#check-b", Input)
        assert field.display
        field.value = "1234"
        field.focus()
        await press_and_settle(pilot, "enter")
        assert isinstance(desk.app.screen, ErrorModal)  # 14 digits, with what they are made of
        await press_and_settle(pilot, "escape")
        field = desk.app.screen.query_one("#check-b", Input)
        field.value = desk.controls.transport.card.fixture.check_b
        field.focus()
        await press_and_settle(pilot, "enter")
        assert not desk.app.screen.query_one("#method-face", Button).disabled
        assert not desk.app.screen.query_one("#check-b", Input).display
        await press_and_settle(pilot, "f2")
        assert desk.session.last_face.accepted and desk.session.photo is not None
        assert pane(desk.app) == "pane-consent"


@pytest.mark.face
async def test_face_failing_ten_times_locks_face(make_desk):
    desk = make_desk("adult", camera="other")
    fingerprint = desk.session.reception.certificate_fingerprint
    # Nine failures the card already carries (made at other desks): the tenth, on screen, locks face auth.
    on_card = CardFaceCounter(lambda: desk.controls.transport)
    for _ in range(FACE_LOCK_AFTER - 1):
        on_card.record(fingerprint, False)
    desk.controls.place("adult")
    async with desk.app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert f"{FACE_LOCK_AFTER - 1}回" in text(desk.app, "#card-state")
        await press_and_settle(pilot, "f2")
        assert desk.session.reception.face_failures == FACE_LOCK_AFTER
        assert pane(desk.app) == "pane-face"
        assert "距離" in text(desk.app, "#face-distance") and "—" not in text(desk.app, "#face-distance")
        assert desk.app.screen.query_one("#method-face", Button).disabled
        assert "ロック" in text(desk.app, "#method-face-reason")
        assert "ロック" in text(desk.app, "#message")
        assert not desk.app.screen.query_one("#face-retry").display
        # F2 does nothing now; PIN still works
        await press_and_settle(pilot, "f2")
        assert desk.session.reception.state is State.CHOOSING
        await press_and_settle(pilot, "f3")
        await enter_pin(pilot, "1234")
        assert pane(desk.app) == "pane-consent"


@pytest.mark.parametrize(
    ("card", "code", "label", "kind"),
    [
        ("adult", 1, "有効", "-valid"),
        ("lost", 2, "無効", "-invalid"),
        ("lost-new", 3, "無効（新しい資格あり）", "-invalid"),
        ("unregistered", 4, "該当資格なし", "-notfound"),
        ("multiple", 5, "複数該当", "-invalid"),
    ],
)
async def test_each_outcome_code(make_desk, card, code, label, kind):
    desk = make_desk(card)
    async with desk.app.run_test(size=SIZE) as pilot:
        await confirm_by_pin_without_consent(pilot)
        assert_banner(desk.app, code, label, kind)
        # next patient clears the screen
        await press_and_settle(pilot, "f5")
        assert desk.session.reception.state is State.IDLE
        assert pane(desk.app) == "pane-idle"


async def test_card_pulled_mid_flow_and_placed_again(make_desk):
    desk = make_desk("adult")
    async with desk.app.run_test(size=SIZE) as pilot:
        await press_and_settle(pilot, "f3")
        desk.app.action_pull_card()
        await settle(pilot)
        assert desk.session.reception.failure is FailureName.CARD_REMOVED
        assert_banner(desk.app, None, "カードが取り外されました", "-failure")
        desk.app.action_open_training()
        await pilot.pause()
        desk.app.screen.query_one("#training-card").value = "adult"
        await pilot.pause()
        await pilot.click("#training-place")
        await settle(pilot)
        assert desk.session.reception.state is State.CHOOSING
        assert pane(desk.app) == "pane-choose"


async def test_central_down_then_requery_after_recovery(make_desk):
    desk = make_desk("adult", central="down")
    async with desk.app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert desk.app.screen.query_one("#status-central").has_class("-bad")
        await press_and_settle(pilot, "f3")
        await enter_pin(pilot, "1234")
        if pane(desk.app) == "pane-consent":
            await pilot.click("#consent-no")
            await settle(pilot)
        assert desk.session.reception.failure is FailureName.CENTRAL_DOWN
        assert_banner(desk.app, None, FailureName.CENTRAL_DOWN.label, "-failure")
        assert len(desk.session.journal.pending_outages()) == 1
        # the central system comes back; the history screen re-runs the queued confirmation
        desk.controls.set_central("ok")
        await press_and_settle(pilot, "f7")
        assert "再照会待ち: 1件" in text(desk.app, "#outage-title")
        await press_and_settle(pilot, "f5")
        assert desk.session.journal.pending_outages() == []
        assert "再照会待ち: 0件" in text(desk.app, "#outage-title")
        assert desk.app.screen.query_one("#history-table").row_count >= 2
        await press_and_settle(pilot, "escape")
        assert isinstance(desk.app.screen, ReceptionScreen)


async def test_limit_information_only_with_its_own_consent(make_desk):
    desk = make_desk("adult")
    async with desk.app.run_test(size=SIZE) as pilot:
        await press_and_settle(pilot, "f3")
        await pilot.press(*"1234", "enter")
        await settle(pilot)
        await pilot.click("#consent-limit")
        await pilot.click("#consent-no")  # no medical information, but the 限度額 may be provided
        await settle(pilot)
        details = text(desk.app, "#result-details")
        assert "限度額    区分ウ（限度額適用）" in details and "同意      なし" in details
        assert "生年月日  1985-04-12  性別 女  本人\n資格取得  2023-04-01" in details
        assert "根拠: 年齢" in details
        await press_and_settle(pilot, "f5")
        desk.controls.place("adult")
        await settle(pilot)
        await press_and_settle(pilot, "f3")
        await pilot.press(*"1234", "enter")
        await settle(pilot)
        await pilot.click("#consent-no")
        await settle(pilot)
        assert "提供に同意なし" in text(desk.app, "#result-details")


async def test_query_by_numbers(make_desk):
    desk = make_desk(None)
    async with desk.app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert pane(desk.app) == "pane-idle"
        await press_and_settle(pilot, "f6")
        screen = desk.app.screen
        for name, value in {
            "insurer_number": "01130012",
            "insured_card_symbol": "4012",
            "insured_identification_number": "1508",
            "insured_branch_number": "00",
            "birth_date": "19850412",
        }.items():
            screen.query_one(f"#numbers-{name}", Input).value = value
        await press_and_settle(pilot, "f5")
        assert "有効" in str(screen.query_one("#result-label", Static).content)
        assert desk.app.last_numbers_outcome.method is AuthMethod.NONE
        assert desk.app.last_numbers_outcome.document.document.value == "shikaku-kakuninsho"
        # an old 健康保険証 on the fixtures' day (2026-12-01): no longer accepted, nothing queried
        screen.query_one("#numbers-document").value = "health-card"
        await press_and_settle(pilot, "f5")
        assert desk.app.last_numbers_outcome.name == "document_not_accepted"
        assert "健康保険証は使えなくなっています" in desk.app.last_numbers_outcome.steps[0].text
        # the 資格情報のお知らせ together with the card: accepted
        screen.query_one("#numbers-document").value = "notice"
        screen.query_one("#numbers-with-card").value = True
        await press_and_settle(pilot, "f5")
        assert desk.app.last_numbers_outcome.code == 1
        # a malformed date is caught on screen, before any query
        screen.query_one("#numbers-birth_date", Input).value = "4/12"
        await press_and_settle(pilot, "f5")
        assert "生年月日" in str(screen.query_one("#numbers-error", Static).content)


async def test_visual_use_is_in_history_with_staff_id(make_desk):
    desk = make_desk("pin-blocked")
    async with desk.app.run_test(size=SIZE) as pilot:
        await press_and_settle(pilot, "f4")
        await fill_visual(pilot, "staff-42", SIM_VISUAL_PASSWORD)
        await pilot.click("#consent-no")
        await settle(pilot)
        await press_and_settle(pilot, "f7")
        table = desk.app.screen.query_one("#history-table")
        rows = [" ".join(str(c) for c in table.get_row_at(i)) for i in range(table.row_count)]
        assert any("staff-42" in row for row in rows)


async def test_an_error_shows_its_title_and_what_to_do(make_desk, monkeypatch):
    from reader.errors import ReaderGone

    desk = make_desk("adult")

    def gone(pin: str) -> None:
        raise ReaderGone("カードリーダーのUSBケーブルが抜けました。")

    monkeypatch.setattr(desk.session, "enter_pin", gone)
    async with desk.app.run_test(size=SIZE) as pilot:
        await press_and_settle(pilot, "f3")
        await enter_pin(pilot, "1234")
        assert isinstance(desk.app.screen, ErrorModal)
        assert text(desk.app, "#error-title") == ReaderGone.title
        assert "次にすること" in text(desk.app, "#error-hint")
        await press_and_settle(pilot, "enter")
        assert isinstance(desk.app.screen, ReceptionScreen)


@pytest.mark.face
async def test_face_matched_in_a_child_process_that_stops_with_the_app(make_desk):
    from desk.tui.app import make_app
    from reader.face_process import ProcessFaceMatcher

    desk = make_desk("adult", camera="holder")
    matcher = desk.session.ports.matcher = ProcessFaceMatcher()  # as desk/wiring.py sets up `desk`
    app = make_app(desk.session, desk.controls, picture_mode="halfcell", cursor_blink=False, face_engine=matcher)
    async with app.run_test(size=SIZE) as pilot:
        await press_and_settle(pilot, "f2")
        assert pane(app) == "pane-consent"
        assert desk.session.last_face.accepted
        children = list(matcher._pool._processes.values())
        assert children and all(child.is_alive() for child in children)
    assert not any(child.is_alive() for child in children)


async def test_training_keys_pull_place_and_cycle_cards(make_desk):
    desk = make_desk("adult")
    async with desk.app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert pane(desk.app) == "pane-choose"
        await press_and_settle(pilot, "f11")  # off the reader
        assert desk.controls.current_card() is None and pane(desk.app) == "pane-result"
        await press_and_settle(pilot, "f5")
        await press_and_settle(pilot, "f11")  # the same card back
        assert desk.controls.current_card() == "adult" and pane(desk.app) == "pane-choose"
        names = [name for name, _ in desk.controls.cards()]
        await press_and_settle(pilot, "f12")  # the next fixture in the picker's order
        assert desk.controls.current_card() == names[(names.index("adult") + 1) % len(names)]
    # on a real desk the training keys do nothing and are not shown
    from desk.tui.app import make_app

    real = make_app(desk.session, None)
    assert real.check_action("toggle_card", ()) is False and real.check_action("next_card", ()) is False
    assert desk.app.check_action("toggle_card", ()) is True


# -- keyboard alone, from the first key to the result ------------------------------------------------


async def test_keyboard_only_pin_path(make_desk):
    desk = make_desk("adult")
    async with desk.app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press_and_settle(pilot, "f3")
        await pilot.press(*"1234", "enter")  # the PIN pad has the focus
        await settle(pilot)
        assert pane(desk.app) == "pane-consent"
        await press_and_settle(pilot, "enter")  # 包括同意: the default answer
        assert pane(desk.app) == "pane-result" and desk.session.outcome.code == 1
        assert desk.session.outcome.consent is not None and len(desk.session.outcome.consent.items) == 4
        await press_and_settle(pilot, "space")  # the steps have the focus: tick the first
        assert desk.app.screen.query_one(StepChecklist).ticked == [desk.session.outcome.steps[0].code]
        await press_and_settle(pilot, "f5")
        assert pane(desk.app) == "pane-idle"


async def test_keyboard_only_visual_path_with_individual_consent(make_desk):
    desk = make_desk("pin-blocked")
    async with desk.app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press_and_settle(pilot, "f4")
        assert pane(desk.app) == "pane-visual"
        await pilot.press(*"S001", "tab", "space", "tab", *SIM_VISUAL_PASSWORD, "enter")  # staff ID, 確認済み, password
        await settle(pilot)
        assert pane(desk.app) == "pane-consent"
        await pilot.press("i", "space", "l")  # 個別に選ぶ, tick the first item (薬剤), 限度額の同意
        await press_and_settle(pilot, "enter")
        outcome = desk.session.outcome
        assert pane(desk.app) == "pane-result" and outcome.method is AuthMethod.VISUAL
        assert [i.value for i in outcome.consent.items] == ["YZK"] and outcome.limit_consent is True


async def test_keyboard_only_no_consent_and_numbers_screen(make_desk):
    desk = make_desk("adult")
    async with desk.app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press_and_settle(pilot, "f3")
        await pilot.press(*"1234", "enter")
        await settle(pilot)
        await press_and_settle(pilot, "n")
        assert desk.session.outcome.consent is None or not desk.session.outcome.consent.items
        await press_and_settle(pilot, "f5")
        await press_and_settle(pilot, "f6")
        # 保険者番号 has the focus; Enter moves on, Enter on the birth date asks
        await pilot.press(*"01130012", "enter", *"4012", "enter", *"1508", "enter", *"00", "enter", *"19850412", "enter")
        await settle(pilot)
        assert desk.app.last_numbers_outcome.code == 1
        await press_and_settle(pilot, "escape")
        assert pane(desk.app) in {"pane-idle", "pane-choose"}


async def test_the_footer_shows_the_panes_own_keys(make_desk):
    desk = make_desk("adult")

    def footer() -> list[str]:
        hints = desk.app.screen.query_one(KeyFooter)._wanted()[0]
        return [h.description for h in hints]

    async with desk.app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "番号照会" in footer() and "統計" in footer()  # between patients: every screen
        await press_and_settle(pilot, "f3")
        keys = footer()
        assert "確定" in keys and "訂正" in keys and "番号照会" not in keys and "統計" not in keys
        await pilot.press(*"1234", "enter")
        await settle(pilot)
        keys = footer()
        assert {"同意して照会", "同意しないで照会", "個別に選ぶ"} <= set(keys) and "番号照会" not in keys
        await press_and_settle(pilot, "enter")
        assert "番号照会" in footer() and "同意して照会" not in footer()  # the result: back to every screen


async def test_the_last_patient_is_collected_once_the_idle_pane_is_drawn(make_desk, monkeypatch):
    import desk.tui.screens.reception as reception

    collected: list[str] = []
    monkeypatch.setattr(reception, "settle_heap", lambda: collected.append(pane_now()))
    desk = make_desk("adult")

    def pane_now() -> str:
        return pane(desk.app)

    async with desk.app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await confirm_by_pin_without_consent(pilot)
        collected.clear()
        await press_and_settle(pilot, "f5")
        await pilot.pause(0.1)
        assert collected == ["pane-idle"]  # after the idle frame, not in the F5 call before it


async def test_the_visual_password_is_checked_while_typed_and_counted_on_enter(make_desk):
    desk = make_desk("pin-blocked")
    checked: list[str] = []
    precheck = desk.session.visual_precheck
    real_verify = precheck._verify

    def verify(candidate: str) -> bool:
        checked.append(candidate)
        return real_verify(candidate)

    precheck._verify = verify
    async with desk.app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press_and_settle(pilot, "f4")
        await pilot.press(*"S001", "tab", "space", "tab", *SIM_VISUAL_PASSWORD)
        for _ in range(100):  # the check of the whole text runs in the background
            if checked and checked[-1] == SIM_VISUAL_PASSWORD and precheck._worker is None:
                break
            await pilot.pause(0.02)
        assert checked[-1] == SIM_VISUAL_PASSWORD and pane(desk.app) == "pane-visual"
        code = desk.session.facility.medical_institution_code
        assert desk.session.journal.visual_lock_state(code).tries_left == 5  # typing is no try
        before = len(checked)
        await press_and_settle(pilot, "enter")
        assert pane(desk.app) == "pane-consent"
        assert len(checked) == before  # Enter took the answer found while typing
        assert precheck._answer is None  # and forgot the text


async def test_steps_show_what_to_do_and_unfold_under_the_cursor(make_desk):
    from desk.rules import summary

    desk = make_desk("lost")
    async with desk.app.run_test(size=SIZE) as pilot:
        await confirm_by_pin_without_consent(pilot)
        steps = desk.session.outcome.steps
        folded = [i for i, s in enumerate(steps) if summary(s) != s.text]
        assert folded, [s.text for s in steps]
        step_list = desk.app.screen.query_one(StepList)

        def shown(i: int) -> str:
            return str(step_list.get_option_at_index(i).prompt).replace("\n", "")

        later = next(i for i in folded if i > 0)
        assert shown(later) == summary(steps[later]) + " ▸"  # folded: what to do, and a mark
        assert shown(0) == steps[0].text  # the highlighted step whole
        step_list.focus()
        await pilot.press(*["down"] * later)
        await settle(pilot)
        assert shown(later) == steps[later].text and step_list.highlighted == later
        if 0 in folded:
            assert shown(0) == summary(steps[0]) + " ▸"


async def test_the_claim_numbers_stand_in_their_own_box_and_c_copies_them(make_desk):
    desk = make_desk("adult")
    async with desk.app.run_test(size=SIZE) as pilot:
        await confirm_by_pin_without_consent(pilot)
        box = text(desk.app, "#result-claim")
        assert "現在の資格で請求" in box and "保険者番号 01130012" in box and "記号 4012" in box
        assert "番号 1508  枝番 00" in box
        footer = [h.description for h in desk.app.screen.query_one(KeyFooter)._wanted()[0]]
        assert "番号コピー" in footer
        await press_and_settle(pilot, "c")
        assert desk.app.clipboard == box
        await press_and_settle(pilot, "f5")
        footer = [h.description for h in desk.app.screen.query_one(KeyFooter)._wanted()[0]]
        assert "番号コピー" not in footer  # a key of the result pane only


async def test_the_unknown_claim_box_spells_out_the_sevens(make_desk):
    desk = make_desk("unregistered")  # 該当資格なし: ③ 不詳レセプト
    async with desk.app.run_test(size=SIZE) as pilot:
        await confirm_by_pin_without_consent(pilot)
        assert desk.session.outcome.code == 4
        box = text(desk.app, "#result-claim")
        assert box.splitlines()[:3] == ["不詳レセプトで請求", "保険者番号 77777777", "  不可なら 77777779"]
        assert "記号・番号 桁数分すべて 7" in box


async def test_no_claim_box_without_an_answer(make_desk):
    desk = make_desk("adult", central="down")  # no answer: tried again before anyone claims
    async with desk.app.run_test(size=SIZE) as pilot:
        await confirm_by_pin_without_consent(pilot)
        assert pane(desk.app) == "pane-result" and desk.session.outcome.code is None
        assert not desk.app.screen.query_one("#result-claim").display
        footer = [h.description for h in desk.app.screen.query_one(KeyFooter)._wanted()[0]]
        assert "番号コピー" not in footer


async def test_result_details_wrap_under_their_text(make_desk):
    desk = make_desk("adult")
    async with desk.app.run_test(size=(90, 40)) as pilot:  # a narrow terminal: the details must wrap
        await confirm_by_pin_without_consent(pilot)
        widget = desk.app.screen.query_one("#result-details", HangingText)
        width = widget.content_region.width
        shown = str(widget.content).split("\n")
        source = widget.source.split("\n")
        assert len(shown) > len(source)  # something wrapped
        from rich.cells import cell_len

        for line in shown:
            assert cell_len(line) <= width
            if line and not any(line.startswith(s[:4]) for s in source):
                assert line.startswith(" " * 10) and line[10] != " "  # a continuation, under the text


async def test_phones_at_the_desk_android_with_its_pin_iphone_straight_to_consent(make_desk):
    desk = make_desk("android")
    async with desk.app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert pane(desk.app) == "pane-choose"
        assert desk.app.screen.query_one("#method-face", Button).disabled  # a phone has no photo
        assert desk.app.screen.query_one("#method-visual", Button).disabled
        await press_and_settle(pilot, "f3")
        await pilot.press(*"5678", "enter")
        await settle(pilot)
        await press_and_settle(pilot, "n")
        assert pane(desk.app) == "pane-result" and desk.session.outcome.code == 1
        assert "スマートフォン（Android）" in text(desk.app, "#result-details")
        await press_and_settle(pilot, "f5")
        desk.controls.remove()
        await settle(pilot)
        desk.controls.place("iphone")  # Face ID already done on the phone: no method to choose
        await settle(pilot)
        await settle(pilot)
        assert pane(desk.app) == "pane-consent"
        await press_and_settle(pilot, "enter")
        assert desk.session.outcome.code == 1 and "端末の生体認証" in text(desk.app, "#result-details")


@pytest.mark.parametrize(("key", "card", "wanted"), [("f4", "adult", "pane-visual"), ("f2", "adult", "pane-face")])
async def test_the_method_key_shows_its_pane_before_the_card_and_camera_work(make_desk, key, card, wanted):
    import threading

    desk = make_desk(card)
    release = threading.Event()
    choose = desk.session.choose

    def slow_choose(method):  # the card and camera work, held until the pane is checked
        release.wait(5)
        return choose(method)

    desk.session.choose = slow_choose
    async with desk.app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press(key)
        await pilot.pause(0.1)
        assert pane(desk.app) == wanted and desk.app.screen.busy  # the pane at once, the work under way
        pictures = desk.app.screen.query(f"#{wanted} CellPicture")
        assert all(p.image is None for p in pictures)  # blank boxes, never the last patient's
        release.set()
        await settle(pilot)
        assert desk.session.reception.state.value in {"visual", "consent", "face", "choosing"}
