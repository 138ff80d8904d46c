"""Snapshots of the main states (pytest-textual-snapshot). Fixed day (the fixtures' reference date),
fixed terminal size, half-block pictures: the same SVG on every machine.

Update after a deliberate change with `pytest tests/tui --snapshot-update`, look at the SVGs, then
copy them to docs/ with `python -m tests.tui.docs_screenshots`.
"""

from __future__ import annotations

import pytest
from textual.widgets import Checkbox, Input

from desk.wiring import SIM_VISUAL_PASSWORD
from tests.tui.conftest import SIZE, settle


def shoot(snap_compare, desk, *steps):
    async def run_before(pilot) -> None:
        await settle(pilot)
        for step in steps:
            if callable(step):
                await step(pilot)
            else:
                await pilot.press(step)
            await settle(pilot)

    assert snap_compare(desk.app, terminal_size=SIZE, run_before=run_before)


async def _pin_1234(pilot) -> None:
    pilot.app.screen.query_one("#pin-input", Input).value = "1234"
    await pilot.press("enter")


async def _consent_two(pilot) -> None:
    screen = pilot.app.screen
    screen.query_one("#consent-YZK", Checkbox).value = True
    screen.query_one("#consent-SRJ", Checkbox).value = True
    await pilot.click("#consent-yes")


async def _consent_none(pilot) -> None:
    await pilot.click("#consent-no")


async def _visual_form(pilot) -> None:
    screen = pilot.app.screen
    screen.query_one("#visual-staff", Input).value = "staff-07"
    screen.query_one("#visual-confirmed", Checkbox).value = True
    screen.query_one("#visual-password", Input).value = SIM_VISUAL_PASSWORD
    screen.query_one("#visual-staff", Input).focus()


async def _numbers(pilot) -> None:
    screen = pilot.app.screen
    for name, value in {
        "insurer_number": "01130012",
        "insured_card_symbol": "4012",
        "insured_identification_number": "1508",
        "insured_branch_number": "00",
        "birth_date": "1985-04-12",
    }.items():
        screen.query_one(f"#numbers-{name}", Input).value = value
    await pilot.press("f5")


def test_choosing(snap_compare, make_desk):
    shoot(snap_compare, make_desk("adult"))


def test_pin_pad_after_a_wrong_pin(snap_compare, make_desk):
    shoot(snap_compare, make_desk("adult"), "f3", lambda p: p.press(*"0000", "enter"))  # typed, key by key


def test_visual_single_screen(snap_compare, make_desk):
    shoot(snap_compare, make_desk("pin-blocked"), "f4", _visual_form)


@pytest.mark.face
def test_face_rejected(snap_compare, make_desk):
    shoot(snap_compare, make_desk("adult", camera="other"), "f2")


def test_consent(snap_compare, make_desk):
    shoot(snap_compare, make_desk("adult"), "f3", _pin_1234)


def test_result_valid(snap_compare, make_desk):
    shoot(snap_compare, make_desk("adult"), "f3", _pin_1234, _consent_two)


def test_result_renewal_alert(snap_compare, make_desk):
    shoot(snap_compare, make_desk("cert-expiring-6w"), "f3", _pin_1234, _consent_none)


def test_result_invalid(snap_compare, make_desk):
    shoot(snap_compare, make_desk("lost"), "f3", _pin_1234, _consent_none)


def test_result_not_found(snap_compare, make_desk):
    shoot(snap_compare, make_desk("unregistered"), "f3", _pin_1234, _consent_none)


def test_failure_central_down(snap_compare, make_desk):
    shoot(snap_compare, make_desk("adult", central="down"), "f3", _pin_1234, _consent_none)


def test_numbers_query(snap_compare, make_desk):
    shoot(snap_compare, make_desk(None), "f6", _numbers)


def test_training_picker(snap_compare, make_desk):
    shoot(snap_compare, make_desk("adult"), "f10")


def test_statistics(snap_compare, make_desk):
    shoot(snap_compare, make_desk("adult"), "f3", _pin_1234, _consent_none, "f8")


def test_phone_android_choosing(snap_compare, make_desk):
    # an Android phone held over the reader: its own PIN only (no photo: no face, no 目視)
    shoot(snap_compare, make_desk("android"))


def test_phone_iphone_not_opened(snap_compare, make_desk):
    # an iPhone held over the reader before Face ID: what to say, then the card first
    shoot(snap_compare, make_desk("iphone-locked"))


def test_two_lanes(snap_compare, sim_base):
    # two readers on one desk: lane 1 at its PIN pad, lane 2's result waiting (【結果あり】)
    from desk.models import AuthMethod
    from desk.tui.app import make_app
    from desk.wiring import DeskConfig, ReaderSpec, open_desk
    from sim.fixtures import REFERENCE_DATE

    desk = open_desk(DeskConfig(
        reader=ReaderSpec("sim", "elder-72"), more_readers=(ReaderSpec("sim", "adult"),), camera=None,
        sim_dir=sim_base, today=REFERENCE_DATE,
    ))
    app = make_app(desk.session, desk.training, lanes=desk.all_lanes(), picture_mode="halfcell", cursor_blink=False)
    two = app.lanes[1]

    async def run_before(pilot) -> None:
        await settle(pilot)
        await pilot.press("f3")
        await settle(pilot)
        app.screen.run_call_on(1, "照会しています…", lambda: two.session.confirm_unattended(AuthMethod.PIN, pin="1234"))
        await settle(pilot)
        await settle(pilot)

    try:
        assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
    finally:
        desk.close()
