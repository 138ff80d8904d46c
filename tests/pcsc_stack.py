"""Fixtures for the real PC/SC half of the suite: pcscd + vpcd + our virtual card server.

The stack starts once per session, on first use, and stops at the end (pcscd by its PID, only
if we started it). Where it cannot run:
- as root or with CI set, the PC/SC tests FAIL with the reason (CI must run them, not skip);
- for a developer without root or without the packages, they skip with the reason.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from reader.card import MynaCard
from reader.errors import ReaderError
from reader.trace import TracingTransport
from sim.card import VirtualCard
from sim.pcscd import VirtualReaderStack, stack_lock, stack_problems
from sim.vpcd import VPCD_READER

__all__ = ["STRICT", "pcsc_stack", "pcsc_reader", "place_card"]

STRICT = os.geteuid() == 0 or os.environ.get("CI", "").lower() not in ("", "0", "false", "no")

_CARD_TIMEOUT = 5.0  # pcscd polls vpcd every 0.4 s; a card shows within about 0.5 s


def _unavailable(reason: str) -> None:
    if STRICT:
        pytest.fail(f"PC/SC テスト環境が使えません（root または CI では必須）: {reason}", pytrace=False)
    pytest.skip(f"PC/SC stack unavailable: {reason}")


@pytest.fixture(scope="session")
def pcsc_stack(sim_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[VirtualReaderStack]:
    problems = stack_problems()
    if problems:
        _unavailable("; ".join(problems))
    with stack_lock():
        stack = VirtualReaderStack(tmp_path_factory.mktemp("pcscd"))
        try:
            stack.start()
        except ReaderError as exc:
            _unavailable(str(exc))
        try:
            yield stack
        finally:
            stack.stop()


def place_card(stack: VirtualReaderStack, card: VirtualCard, reader: str = VPCD_READER) -> None:
    """Put `card` on `reader` ("Virtual PCD 00 00", or "… 00 01") and return once pcscd reports it present."""
    from reader.pcsc import PcscTransport

    server = stack.server_for(reader)
    probe = PcscTransport(reader)
    try:
        if not server.connected:
            # pcscd must see the slot empty before a new card connects, or it would take the
            # new connection for the old card and never report the exchange.
            probe.wait_for_removal(_CARD_TIMEOUT)
        server.insert(card)
        if not probe.wait_for_card(_CARD_TIMEOUT):
            pytest.fail(f"pcscd did not see the virtual card on {reader} within {_CARD_TIMEOUT} s")
    finally:
        probe.close()


CardOnReader = Callable[[VirtualCard], tuple[MynaCard, TracingTransport]]


@pytest.fixture
def pcsc_reader(pcsc_stack: VirtualReaderStack) -> Iterator[CardOnReader]:
    """Like conftest's `_sim_reader`, through pcscd: place the card, connect PcscTransport, trace it."""
    from reader.pcsc import PcscTransport

    opened: list[PcscTransport] = []

    def on_reader(card: VirtualCard) -> tuple[MynaCard, TracingTransport]:
        place_card(pcsc_stack, card)
        transport = PcscTransport(VPCD_READER)
        opened.append(transport)
        transport.connect()
        traced = TracingTransport(transport)
        return MynaCard(traced), traced

    yield on_reader
    for transport in opened:
        transport.close()


def wait_until(predicate: Callable[[], bool], timeout: float) -> bool:
    """Poll `predicate` (for callbacks that arrive on another thread)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)
    return True
