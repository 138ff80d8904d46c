"""Several readers on one desk, over the simulated transport: one lane per reader, each with its
own flow, and nothing one lane waits for holding another (desk/lanes.py, desk/wiring.py).

Isolation is asserted by outcomes, never by time: a lane is held inside a step (a face match that
waits for an event, its journal's lock taken by another thread) while the other lane completes a
whole confirmation; the held lane is then released and completes too.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from desk.flow import State
from desk.lanes import Lane
from desk.models import AuthMethod, FailureName
from desk.wiring import Desk, DeskConfig, ReaderSpec, UnknownReaderSpec, open_desk
from sim.fixtures import REFERENCE_DATE


def two_lanes(base: Path, first: str | None = "elder-72", second: str | None = "adult", **options: Any) -> Desk:
    options.setdefault("camera", None)
    return open_desk(DeskConfig(
        reader=ReaderSpec("sim", first), more_readers=(ReaderSpec("sim", second),), sim_dir=base, today=REFERENCE_DATE,
        **options,
    ))


@pytest.fixture
def desk(sim_base: Path) -> Iterator[Desk]:
    made = two_lanes(sim_base)
    yield made
    made.close()


def lanes(desk: Desk) -> tuple[Lane, Lane]:
    one, two = desk.all_lanes()
    return one, two


def confirm_by_pin(lane: Lane) -> int | None:
    outcome = lane.session.confirm_unattended(AuthMethod.PIN, pin="1234")
    return outcome.code


def rows(desk: Desk) -> list[tuple[Any, ...]]:
    with sqlite3.connect(desk.session.journal.location) as conn:
        return conn.execute("SELECT channel, method, validity, failure FROM confirmations ORDER BY id").fetchall()


# -- the command line's reader list -----------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (None, ["sim"]),
        (["sim:adult,sim:child-5"], ["sim:adult", "sim:child-5"]),
        (["sim:adult", "sim:child-5", "sim"], ["sim:adult", "sim:child-5", "sim"]),
        (["pcsc:Virtual PCD 00 00", "pcsc:Virtual PCD 00 01"], ["pcsc:Virtual PCD 00 00", "pcsc:Virtual PCD 00 01"]),
        (["pcsc:Reader, Inc. 00 00,pcsc:Other"], ["pcsc:Reader, Inc. 00 00", "pcsc:Other"]),  # a comma in a name
        (["pcsc:*"], ["pcsc:*"]),
    ],
)
def test_reader_lists(given, expected):
    assert [str(spec) for spec in ReaderSpec.parse_many(given)] == expected


@pytest.mark.parametrize("given", [["sim:adult,pcsc"], ["pcsc:*", "pcsc:A"], ["sim:*"], ["none,none"], ["usb:1"]])
def test_reader_lists_refused_in_japanese(given):
    with pytest.raises(UnknownReaderSpec) as caught:
        ReaderSpec.parse_many(given)
    assert caught.value.title == "カードリーダーの指定が不正です" and any("\u3040" <= c <= "\u9fff" for c in str(caught.value))


# -- what the lanes share and what each has ---------------------------------------------------


def test_each_lane_reads_its_own_card_and_shares_the_facility(desk):
    one, two = lanes(desk)
    assert (one.label, two.label) == ("sim", "sim-2")
    assert one.session.reception.state is two.session.reception.state is State.CHOOSING
    assert (one.training.current_card(), two.training.current_card()) == ("elder-72", "adult")
    a, b = one.session.ports, two.session.ports
    assert a.transport is not b.transport
    assert a.central is b.central and a.outbox is b.outbox and a.results is b.results and a.facility is b.facility
    # a journal connection each: one lane's write waiting on a busy journal never holds the other
    assert a.journal is not b.journal and a.journal.location == b.journal.location
    assert desk.session is one.session and desk.training is one.training


def test_one_lane_is_the_desk_as_before(sim_base):
    single = open_desk(DeskConfig(reader=ReaderSpec("sim", "adult"), camera=None, sim_dir=sim_base, today=REFERENCE_DATE))
    try:
        (lane,) = single.all_lanes()
        assert lane.session is single.session and lane.training is single.training and lane.label == "sim"
    finally:
        single.close()


# -- one patient's step never holds the other lane --------------------------------------------


def test_a_pin_pad_open_in_lane_1_while_lane_2_reads_a_card_and_gets_its_result(sim_base):
    desk = two_lanes(sim_base, second=None)  # reader 2 empty
    one, two = lanes(desk)
    one.session.choose(AuthMethod.PIN)
    assert one.session.reception.state is State.PIN  # the patient at reader 1 is typing
    assert two.session.reception.state is State.IDLE
    two.training.place("child-5")  # another patient at reader 2
    assert two.session.reception.state is State.CHOOSING
    assert confirm_by_pin(two) == 1
    assert one.session.reception.state is State.PIN and one.session.outcome is None
    one.session.enter_pin("1234")
    one.session.answer_consent(frozenset())
    assert one.session.outcome.code == 1
    assert [r[3] for r in rows(desk)] == [None, None]
    desk.close()


def test_a_card_pulled_in_lane_2_mid_confirmation_while_lane_1_completes(desk):
    one, two = lanes(desk)
    one.session.choose(AuthMethod.PIN)
    two.session.choose(AuthMethod.PIN)
    two.session.enter_pin("1234")
    assert two.session.reception.state is State.CONSENT
    two.training.remove()
    assert two.session.reception.state is State.FAILED and two.session.reception.failure is FailureName.CARD_REMOVED
    one.session.enter_pin("1234")
    one.session.answer_consent(frozenset())
    assert one.session.outcome.code == 1
    assert sorted(r[3] or "" for r in rows(desk)) == ["", "card_removed"]


def test_a_central_outage_affects_both_lanes_and_both_are_rerun(desk):
    one, two = lanes(desk)
    one.training.set_central("down")  # the one central system both readers ask
    assert confirm_by_pin(one) is None and confirm_by_pin(two) is None
    for lane in (one, two):
        assert lane.session.reception.failure is FailureName.CENTRAL_DOWN
    assert len(one.session.journal.pending_outages()) == 2
    one.training.set_central("ok")
    assert [o.code for o in two.session.retry_outage_queue()] == [1, 1]
    assert one.session.journal.pending_outages() == []
    # and both readers work again
    one.training.place("elder-72")
    two.training.place("adult")
    assert confirm_by_pin(one) == 1 and confirm_by_pin(two) == 1


class HeldMatcher:
    """A face engine that holds each match until told: lane 2's patient is mid face match."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def enroll(self, photo: bytes) -> object:
        self.entered.set()
        assert self.release.wait(60), "never released"
        raise_face_error()

    def match(self, template: object, frame: object) -> object:  # pragma: no cover - enroll fails first
        raise AssertionError


def raise_face_error() -> None:
    from reader.errors import FaceError

    raise FaceError("テスト用: 顔認証エンジンを止めました。")


def test_a_face_match_running_in_lane_2_never_holds_lane_1(sim_base):
    desk = two_lanes(sim_base, more_cameras=("holder",))
    one, two = lanes(desk)
    held = HeldMatcher()
    two.session.ports.matcher = held  # type: ignore[assignment]
    worker = threading.Thread(target=two.session.choose, args=(AuthMethod.FACE,), daemon=True)
    try:
        worker.start()
        assert held.entered.wait(30)
        # lane 2 is inside its face match: lane 1 reads a card, authenticates, queries, records
        one.training.place("elder-72")
        assert confirm_by_pin(one) == 1
        assert worker.is_alive() and two.session.reception.state is State.FACE
    finally:
        held.release.set()
        worker.join(30)
        desk.close()
    assert two.session.reception.state is State.CHOOSING  # the engine failed: the count stays, another method
    assert "顔認証エンジン" in two.session.reception.message


def test_a_journal_busy_for_lane_2_never_holds_lane_1(desk):
    """Lane 2's journal connection held (a write waiting out a lock): lane 1 reads its own counters
    and records through its own connection."""
    one, two = lanes(desk)
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with two.session.journal._lock:  # type: ignore[attr-defined]
            holding.set()
            release.wait(60)

    holder = threading.Thread(target=hold, daemon=True)
    holder.start()
    try:
        assert holding.wait(30)
        one.training.place("elder-72")
        assert confirm_by_pin(one) == 1
    finally:
        release.set()
        holder.join(30)
    assert confirm_by_pin(two) == 1


def test_lanes_watch_every_reader_and_say_which_one_failed(desk):
    seen: list[tuple[int, bool]] = []
    problems = desk.all_lanes().watch_cards(lambda lane, present: seen.append((lane, present)))
    assert problems == []
    one, two = lanes(desk)
    two.training.remove()
    one.training.remove()
    two.training.place("child-5")
    assert seen == [(1, False), (0, False), (1, True)]
