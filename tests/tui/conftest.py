"""The reception screen on a complete simulated desk, one fresh world per test.

Each test gets its own sim directory (tests/conftest.py `sim_base`: card counters, journal, central
system, facility), sharing only the RSA keys through the key cache. Apps draw pictures with half-blocks
so that snapshots don't depend on the terminal.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sim.fixtures import REFERENCE_DATE

SIZE = (110, 36)  # the terminal every test and screenshot uses


@dataclass
class Desk:
    app: Any
    session: Any
    controls: Any


@pytest.fixture
def make_desk(sim_base: Path) -> Callable[..., Desk]:
    def make(card: str | None = "adult", **options: Any) -> Desk:
        from desk.tui.app import make_app
        from desk.wiring import training_desk

        options.setdefault("today", REFERENCE_DATE)
        session, controls = training_desk(card, base_dir=sim_base, **options)
        return Desk(make_app(session, controls, picture_mode="halfcell", cursor_blink=False), session, controls)

    return make


async def settle(pilot: Any) -> None:
    """Wait until every worker has finished and the messages they posted are handled."""
    app = pilot.app
    for _ in range(20):
        # live camera frames (group "frame") come on a timer and never stop: not waited for
        await app.workers.wait_for_complete([w for w in app.workers if w.group != "frame"])
        await pilot.pause()
        # busy: a call's view not taken yet; not drawn: its second frame (side panel, keys) to come
        busy = any(getattr(screen, "busy", False) or not getattr(screen, "drawn", True) for screen in app.screen_stack)
        if not busy and not any(w.is_running and w.group != "frame" for w in app.workers):
            return
    raise AssertionError("workers keep running")


async def press_and_settle(pilot: Any, *keys: str) -> None:
    await settle(pilot)  # keys pressed while a call runs are ignored by design (the desk is busy)
    await pilot.press(*keys)
    await settle(pilot)


async def enter_pin(pilot: Any, pin: str) -> None:
    """Fill the masked field and press Enter (typing each digit is covered once, in test_pin_right)."""
    pilot.app.screen.query_one("#pin-input").value = pin
    await pilot.press("enter")
    await settle(pilot)


async def confirm_by_pin_without_consent(pilot: Any) -> None:
    """F3, the right PIN, 同意しない: the shortest way to a result on screen."""
    await press_and_settle(pilot, "f3")
    await enter_pin(pilot, "1234")
    await pilot.click("#consent-no")
    await settle(pilot)
