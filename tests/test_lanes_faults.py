"""The fault matrix (tests/test_fault_matrix.py) run on lane 2 of a two-reader desk while the
patient at lane 1 is mid-confirmation (their PIN pad open), over the simulated transport.

Each case is the matrix's own test body, run on lane 2's session and reader; lane 1 must be
exactly where it was when the case ends, then complete and be recorded as a valid confirmation.

A subset, for time (each case builds a two-reader desk, about 0.6 s): the card pulled after every
APDU of the PIN path, after every 4th APDU of the 目視 path (the face path moves the same photo
APDUs as 目視 and matches in-process, about 0.2 s a frame) and after every 2nd APDU of the phone
paths (Android, iPhone); every central fault and every journal fault on every path.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import tests.test_fault_matrix as matrix
from desk.flow import State
from desk.lanes import Lane
from desk.models import AuthMethod
from desk.session import DeskSession
from desk.wiring import Desk, DeskConfig, ReaderSpec, open_desk
from sim.fixtures import REFERENCE_DATE
from sim.training import SimTraining

LANE_ONE_CARD = "elder-72"  # another patient than lane 2's `adult`


@pytest.fixture
def on_lane_two(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[Desk, Lane]]]:
    """Every desk the matrix makes becomes lane 2 of a two-reader desk, lane 1 mid-confirmation."""
    made: list[tuple[Desk, Lane]] = []

    def new(tmp_path: Path, path: str, card: str | None = None) -> tuple[DeskSession, SimTraining]:
        desk = open_desk(DeskConfig(
            reader=ReaderSpec("sim", LANE_ONE_CARD), camera=None,
            more_readers=(ReaderSpec("sim", card),), more_cameras=("holder" if path == "face" else None,),
            sim_dir=tmp_path, today=REFERENCE_DATE,
        ))
        one, two = desk.all_lanes()
        one.session.choose(AuthMethod.PIN)  # the patient at reader 1 is typing their PIN
        assert one.session.reception.state is State.PIN
        made.append((desk, one))
        assert isinstance(two.training, SimTraining)
        return two.session, two.training

    monkeypatch.setattr(matrix, "_new", new)
    yield made
    for desk, _one in made:
        desk.close()


def finish_lane_one(made: list[tuple[Desk, Lane]]) -> None:
    assert made, "the case made no desk"
    for _desk, one in made:
        session = one.session
        assert session.reception.state is State.PIN and session.outcome is None  # untouched by lane 2
        session.enter_pin("1234")
        session.answer_consent(frozenset())
        assert session.outcome is not None and session.outcome.code == 1
        assert session.log.record_place == "journal"


def _pulled_cases() -> list[tuple[str, int]]:
    counts = matrix.apdu_counts()
    return (
        [("pin", after) for after in range(counts["pin"])]
        + [("visual", after) for after in range(0, counts["visual"], 4)]
        + [(phone, after) for phone in ("android", "iphone") for after in range(0, counts[phone], 2)]
    )


@pytest.mark.parametrize(("path", "after"), _pulled_cases(), ids=[f"{p}-{a}" for p, a in _pulled_cases()])
def test_card_pulled_on_lane_two(sim_base, on_lane_two, path, after):
    matrix.test_card_pulled_after_each_apdu(sim_base, path, after)
    finish_lane_one(on_lane_two)


CENTRAL_CASES = [(path, fault) for path in matrix.PATHS for fault in sorted(matrix.CENTRAL_FAULTS)]


@pytest.mark.parametrize(("path", "fault"), CENTRAL_CASES, ids=[f"{p}-{f}" for p, f in CENTRAL_CASES])
def test_central_faults_on_lane_two(sim_base, on_lane_two, path, fault):
    matrix.test_central_system_faults(sim_base, path, fault)
    finish_lane_one(on_lane_two)


@pytest.mark.parametrize("path", matrix.PATHS)
@pytest.mark.parametrize("fault", sorted(matrix.JOURNAL_FAULTS))
def test_journal_faults_on_lane_two(sim_base, on_lane_two, path, fault):
    matrix.test_journal_faults_lose_nothing(sim_base, path, fault)
    finish_lane_one(on_lane_two)
