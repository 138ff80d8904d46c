"""Lane isolation: how long lane 1's patients wait while lane 2 runs face matches without pause.

    .venv/bin/python bench/lanes.py [--patients N]

A two-reader training desk as `desk --reader sim:elder-72,sim:adult` builds it — the headless
reception screen, the face engine in its one child process shared by both lanes — and on it:

- lane 1 alone: N patients, each card placed on reader 1 and confirmed (PIN, then 顔認証);
- the same while lane 2 places its card and runs 顔認証 confirmations back to back (each a card
  photo enrolment and a match in the child) on its own chain of calls.

For lane 1 it prints, per condition, the time from the card placed to the result (median, max),
and the event loop's longest stall over the whole run (an asyncio ticker: what a key or a frame
would have waited). The lanes share the face engine by design (one dlib child on 2 cores), so lane
1's own face match waits for lane 2's match in progress; a PIN confirmation waits for nothing.
It prints figures and asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from desk.flow import State  # noqa: E402
from desk.models import AuthMethod  # noqa: E402
from desk.wiring import DeskConfig, ReaderSpec, open_desk  # noqa: E402
from sim.fixtures import REFERENCE_DATE  # noqa: E402

LANE_ONE_CARD, LANE_TWO_CARD = "elder-72", "adult"


def cpu_reference_ms() -> float:
    """A fixed pure-Python loop: how fast this VM is right now (bench/e2e.py prints the same)."""
    began = time.perf_counter()
    total = 0
    for i in range(1_000_000):
        total += i % 7
    return (time.perf_counter() - began) * 1000


class StallTicker:
    """The event loop's longest stall: a task that asks to wake every millisecond."""

    def __init__(self) -> None:
        self.longest = 0.0
        self._running = True

    async def run(self) -> None:
        while self._running:
            began = time.perf_counter()
            await asyncio.sleep(0.001)
            self.longest = max(self.longest, time.perf_counter() - began - 0.001)

    def stop(self) -> None:
        self._running = False


async def patient(screen: Any, lane: Any, card: str, method: AuthMethod) -> float:
    """One patient at `lane`'s reader, as at the desk: the card placed (the reader reports it, the
    screen reads it on the lane's chain), then the confirmation; returns card placed → result."""
    calls = screen._calls[lane.index]
    began = time.perf_counter()
    await asyncio.to_thread(lane.training.place, card)
    await _until(lambda: calls.view.state is State.CHOOSING and not calls.label)
    screen.run_call_on(lane.index, "", lambda: lane.session.confirm_unattended(method, pin="1234"))
    await _until(lambda: calls.finished == calls.issued and not calls.label)
    took = time.perf_counter() - began
    outcome = lane.session.outcome
    if outcome is None or outcome.code != 1:
        raise RuntimeError(f"lane {lane.index + 1}: {lane.session.reception.message}")
    return took


async def _until(done: Any, timeout: float = 60.0) -> None:
    deadline = time.perf_counter() + timeout
    while not done():
        if time.perf_counter() > deadline:
            raise RuntimeError("the desk did not answer within a minute")
        await asyncio.sleep(0.002)


async def lane_two_faces(screen: Any, lane: Any, stop: asyncio.Event, matches: list[float]) -> None:
    """顔認証 confirmations at reader 2, back to back, until told."""
    while not stop.is_set():
        matches.append(await patient(screen, lane, LANE_TWO_CARD, AuthMethod.FACE))


async def condition(base: Path, method: AuthMethod, busy_lane_two: bool, patients: int) -> dict[str, float]:
    from desk.tui.app import make_app

    desk = open_desk(DeskConfig(
        reader=ReaderSpec("sim", None), more_readers=(ReaderSpec("sim", None),), camera="holder",
        face_in_child_process=True, sim_dir=base, today=REFERENCE_DATE,
    ))
    assert desk.face_engine is not None
    await asyncio.to_thread(desk.face_engine.prepare)  # the models loaded, as a desk is once started
    one, two = desk.all_lanes()
    app = make_app(desk.session, desk.training, face_engine=desk.face_engine, lanes=desk.all_lanes(),
                   picture_mode="halfcell", cursor_blink=False)
    times: list[float] = []
    matches: list[float] = []
    stop = asyncio.Event()
    try:
        async with app.run_test(size=(110, 36)) as pilot:
            screen: Any = app.screen
            await pilot.pause(0.5)
            await patient(screen, one, LANE_ONE_CARD, method)  # unmeasured: every path warmed once
            background = None
            if busy_lane_two:
                background = asyncio.create_task(lane_two_faces(screen, two, stop, matches))
                await _until(lambda: bool(matches))  # lane 2 is matching
            ticker = StallTicker()
            ticking = asyncio.create_task(ticker.run())
            for _ in range(patients):
                times.append(await patient(screen, one, LANE_ONE_CARD, method))
                await asyncio.sleep(0.05)  # the next patient steps up
            ticker.stop()
            await ticking
            during = len(matches)
            stop.set()
            if background is not None:
                await background
    finally:
        desk.close()
        desk.face_engine.close()
    return {
        "median_ms": statistics.median(times) * 1000,
        "max_ms": max(times) * 1000,
        "stall_ms": ticker.longest * 1000,
        "lane_two_faces": float(during) if busy_lane_two else 0.0,
        "lane_two_face_ms": statistics.median(matches) * 1000 if matches else 0.0,
    }


async def main(patients: int) -> None:
    print(f"CPU reference loop: {cpu_reference_ms():.0f} ms")
    rows = []
    for method in (AuthMethod.PIN, AuthMethod.FACE):
        for busy in (False, True):
            with tempfile.TemporaryDirectory() as tmp:
                figures = await condition(Path(tmp), method, busy, patients)
            rows.append((method, busy, figures))
    print(f"\nlane 1, {patients} patients per row: card placed → result, and the event loop's longest stall")
    print(f"{'lane 1 path':<8} {'lane 2':<28} {'median':>8} {'max':>8} {'stall':>8}")
    for method, busy, f in rows:
        other = f"顔認証 nonstop ({f['lane_two_faces']:.0f}, {f['lane_two_face_ms']:.0f} ms each)" if busy else "idle"
        print(f"{method.value:<8} {other:<28} {f['median_ms']:>6.0f}ms {f['max_ms']:>6.0f}ms {f['stall_ms']:>6.0f}ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=10)
    asyncio.run(main(parser.parse_args().patients))
