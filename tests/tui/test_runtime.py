"""The interpreter settings the desk changes while it runs are put back when it stops."""

from __future__ import annotations

import gc
import sys

from desk.tui.runtime import DeskRuntime


def test_settings_apply_while_running_and_are_restored():
    before = (gc.get_threshold(), sys.getswitchinterval())
    runtime = DeskRuntime()
    runtime.start()
    try:
        young, middle, full = gc.get_threshold()
        assert young > before[0][0] and middle == before[0][1] and full >= 1_000_000
        assert sys.getswitchinterval() < before[1]
        runtime.start()  # a second start changes nothing and keeps what to restore
    finally:
        runtime.stop()
    assert (gc.get_threshold(), sys.getswitchinterval()) == before
    runtime.stop()  # stopping twice is harmless
    assert (gc.get_threshold(), sys.getswitchinterval()) == before


async def test_the_app_applies_them_only_while_it_runs(make_desk):
    before = (gc.get_threshold(), sys.getswitchinterval())
    desk = make_desk("adult")
    async with desk.app.run_test():
        assert gc.get_threshold()[2] >= 1_000_000
    assert (gc.get_threshold(), sys.getswitchinterval()) == before
