"""The fault matrix: every flow path under every fault a desk meets.

For each path (PIN, face, 目視, numbers, and a phone: Android with its own PIN, iPhone after Face ID)
the card or phone is pulled after each APDU index; the central
system is slow past its timeout, down, or answers garbage; the journal is locked or read-only.
Every case must end in a clear message and the right fallback state, leave no half-written
journal record, and complete when run again after recovery. The PC/SC half (reader and pcscd
gone) is in tests/test_pcsc.py. The matrix size and pass count are printed at the end of the run.
"""

from __future__ import annotations

import functools
import sqlite3
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from desk.flow import State
from desk.journal import Journal
from desk.models import AuthMethod, FailureName, NumbersQuery
from desk.session import DeskSession
from desk.wiring import SIM_VISUAL_PASSWORD, training_desk
from reader.trace import TracingTransport
from sim.central import CentralFaults
from sim.fixtures import REFERENCE_DATE, FaultsFixture, load_card_fixture
from sim.training import SimTraining
from tests.conftest import new_sim_dir

pytestmark = pytest.mark.fault_matrix

PATHS = ("pin", "face", "visual", "android", "iphone")
# what is held over the reader and how the patient proves who they are, per path
_CARD = {"android": "android", "iphone": "iphone"}  # the others: the card "adult"
_METHOD = {"android": AuthMethod.PIN, "iphone": AuthMethod.DEVICE}
_PIN = {"android": "5678"}  # the phone's own PIN; the card's is 1234


def _card(path: str) -> str:
    return _CARD.get(path, "adult")


def _method(path: str) -> AuthMethod:
    return _METHOD.get(path) or AuthMethod(path)


def _drive(session: DeskSession, path: str) -> None:
    """Do at the desk what the receptionist does for this path."""
    session.confirm_unattended(
        _method(path), pin=_PIN.get(path, "1234"), staff_id="S001", visual_password=SIM_VISUAL_PASSWORD,
    )


def _new(tmp_path, path: str, card: str | None = None) -> tuple[DeskSession, SimTraining]:
    return training_desk(card, base_dir=tmp_path, camera="holder" if path == "face" else None)


def _count_apdus(base, path: str) -> int:
    session, controls = _new(base, path)
    traced = TracingTransport(controls.transport)
    session.ports.transport = traced
    controls.place(_card(path))  # the reader reports it; the session reads it through the tracer
    _drive(session, path)
    assert session.outcome is not None and session.outcome.code == 1
    return len(traced.entries)


@functools.cache
def apdu_counts() -> dict[str, int]:
    """APDUs each path really moves, counted once on the happy path (collection or a test alone)."""
    with tempfile.TemporaryDirectory() as tmp:
        return {path: _count_apdus(new_sim_dir(Path(tmp) / path), path) for path in PATHS}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # One case per APDU the path really moves.
    if "after" in metafunc.fixturenames:
        counts = apdu_counts()
        cases = [(path, after) for path in PATHS for after in range(counts[path])]
        metafunc.parametrize(("path", "after"), cases, ids=[f"{p}-{a}" for p, a in cases])


def _journal_rows(session: DeskSession) -> list[tuple]:
    with sqlite3.connect(session.journal.path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        return conn.execute("SELECT channel, method, validity, failure FROM confirmations ORDER BY id").fetchall()


def test_card_pulled_after_each_apdu(sim_base, path, after):
    session, controls = _new(sim_base, path)
    controls.place(_card(path), FaultsFixture(remove_after=after))
    _drive(session, path)
    r = session.reception
    assert r.state is State.FAILED and r.failure is FailureName.CARD_REMOVED
    assert session.outcome is not None and session.outcome.failure is FailureName.CARD_REMOVED
    assert "取り外され" in r.message
    assert [s.code for s in session.outcome.steps] == ["card_removed"]
    assert _journal_rows(session)[-1][3] == "card_removed"
    # recovery: the patient puts the card (or phone) back
    controls.place(_card(path))
    _drive(session, path)
    assert session.outcome is not None and session.outcome.code == 1
    rows = _journal_rows(session)
    assert [row[3] for row in rows] == ["card_removed", None] and rows[-1][2] == 1


CENTRAL_FAULTS = {
    "slow_past_timeout": CentralFaults(latency_ms=200, timeout_s=0.05),
    "timeout": CentralFaults(timeout=True, timeout_s=0.05),
    "down": CentralFaults(outage=True),
    "garbage": CentralFaults(malformed=True),
}


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("fault", sorted(CENTRAL_FAULTS))
def test_central_system_faults(sim_base, path, fault):
    session, controls = _new(sim_base, path)
    controls.central.faults = CENTRAL_FAULTS[fault]
    controls.place(_card(path))
    _drive(session, path)
    r = session.reception
    assert r.state is State.FAILED and r.failure is FailureName.CENTRAL_DOWN
    codes = [s.code for s in session.outcome.steps]
    assert codes[0] == "central_down" and "show_portal_or_notice" in codes and "moushitate" in codes
    pending = session.journal.pending_outages()
    assert len(pending) == 1 and pending[0].method is _method(path)
    assert _journal_rows(session) == [("outage", _method(path).value, None, "central_down")]
    # still down: the queue stays
    assert session.retry_outage_queue() == []
    assert len(session.journal.pending_outages()) == 1
    # recovery: the queued confirmation is re-run by itself and recorded
    controls.central.faults = CentralFaults()
    outcomes = session.retry_outage_queue()
    assert [o.code for o in outcomes] == [1]
    assert session.journal.pending_outages() == []
    assert _journal_rows(session)[-1][2] == 1
    if path in _CARD:  # the re-run keeps what was held over the reader
        assert session.journal.confirmations()[0].device.value == path
    # and the desk works again
    controls.place(_card(path))
    _drive(session, path)
    assert session.outcome.code == 1


@pytest.mark.parametrize("fault", sorted(CENTRAL_FAULTS))
def test_numbers_path_central_faults(sim_base, fault):
    session, controls = _new(sim_base, "numbers")
    query = _a_valid_numbers_query()
    controls.central.faults = CENTRAL_FAULTS[fault]
    outcome = session.query_numbers(query)
    assert outcome.failure is FailureName.CENTRAL_DOWN
    assert len(session.journal.pending_outages()) == 1
    controls.central.faults = CentralFaults()
    assert [o.code for o in session.retry_outage_queue()] == [1]
    assert session.query_numbers(query).code == 1


def _a_valid_numbers_query() -> NumbersQuery:
    # adult's own qualification, as printed on a 資格確認書
    holder = load_card_fixture("adult").holder
    return NumbersQuery(
        insurer_number="01130012", insured_card_symbol="4012", insured_identification_number="1508",
        insured_branch_number="00", birth_date=holder.birth_date,
    )


def _lock_journal(session: DeskSession) -> Callable[[], None]:
    """Hold the journal's write lock from another connection, as a stuck process would."""
    session.ports.journal = Journal(session.journal.path, busy_timeout=0.05)
    conn = sqlite3.connect(session.journal.path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    return lambda: (conn.execute("ROLLBACK"), conn.close())


def _read_only_journal(session: DeskSession) -> Callable[[], None]:
    writable = session.journal
    session.ports.journal = Journal(writable.path, read_only=True)

    def recover() -> None:
        session.ports.journal = writable

    return recover


JOURNAL_FAULTS = {"locked": _lock_journal, "read_only": _read_only_journal}


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("fault", sorted(JOURNAL_FAULTS))
def test_journal_faults_lose_nothing(sim_base, path, fault):
    session, controls = _new(sim_base, path)
    before = _journal_rows(session)
    recover = JOURNAL_FAULTS[fault](session)
    controls.place(_card(path))
    _drive(session, path)
    assert session.recorder.error is not None and session.recorder.error.title
    if path == "visual":
        # 目視 must be on record (and its password lockout counted): it fails closed and says why
        assert session.reception.state is State.VISUAL and "記録" in session.reception.message
        recover()
        session.submit_visual("S001", SIM_VISUAL_PASSWORD, True)
        session.answer_consent(frozenset())
    else:
        # the patient is still served: the answer is on screen, the record waits
        assert session.outcome is not None and session.outcome.code == 1
        assert session.recorder.waiting >= 1
        recover()
    assert session.recorder.flush()
    assert session.outcome is not None and session.outcome.code == 1
    rows = _journal_rows(session)
    assert rows[len(before):] == [("myna", _method(path).value, 1, None)]
    if path == "visual":
        with sqlite3.connect(session.journal.path) as conn:
            assert conn.execute("SELECT staff_id FROM visual_uses").fetchall() == [("S001",)]


def test_the_matrix_covers_every_path():
    # the face and 目視 paths read the photo (券面AP), the PIN path signs: all move real APDUs
    counts = apdu_counts()
    assert 10 < counts["pin"] < counts["visual"] <= counts["face"]
    assert 5 < counts["iphone"] < counts["android"] < counts["visual"]  # a phone has only the JPKI application


# -- the reader itself goes away (PcscTransport through a real pcscd + vpcd) -----------------

READER_FAULTS = ("card_server_stopped", "pcscd_stopped")


@pytest.mark.pcsc
@pytest.mark.parametrize("path", ("pin", "visual"))
@pytest.mark.parametrize("fault", READER_FAULTS)
def test_reader_gone(sim_base, pcsc_stack, path, fault):
    from sim.vpcd import VPCD_READER
    from tests.pcsc_stack import place_card

    if fault == "pcscd_stopped" and not pcsc_stack.owns_pcscd:
        pytest.skip("this pcscd was not started by the tests; it is not ours to stop")
    from desk.wiring import DeskConfig, ReaderSpec, open_desk
    from sim.world import SimWorld

    # a real reader on the training world, as `desk --reader pcsc:… --demo` assembles it
    desk = open_desk(DeskConfig(reader=ReaderSpec("pcsc", VPCD_READER), camera=None, demo=True, sim_dir=sim_base, today=REFERENCE_DATE))
    session = desk.session
    card = SimWorld(sim_base).card("adult")
    session.ports.check_b = lambda: card.fixture.check_b  # the card front, read by the reader's camera
    try:
        place_card(pcsc_stack, card)
        session.on_card_inserted()
        assert session.reception.state is State.CHOOSING
        if fault == "pcscd_stopped":
            pcsc_stack.stop_pcscd()
        else:
            pcsc_stack.remove()
        _drive(session, path)
        r = session.reception
        if path == "visual" and fault == "pcscd_stopped":
            # The certificate was read before the reader went: staff compare the photo printed on
            # the card instead of the chip's, and the confirmation completes.
            assert session.photo is None and r.state is State.RESULT and session.outcome.code == 1
            pcsc_stack.start_pcscd()
            return
        assert r.state is State.FAILED and r.failure in (FailureName.CARD_REMOVED, FailureName.CARD_ERROR)
        assert session.outcome is not None and session.outcome.steps
        if r.failure is FailureName.CARD_ERROR:
            assert "pcscd" in r.message or "リーダー" in r.message
        assert _journal_rows(session)[-1][3] == r.failure.value
        # recovery: the service is back, the card is placed again, the same desk completes
        if fault == "pcscd_stopped":
            pcsc_stack.start_pcscd()
        place_card(pcsc_stack, card)
        session.on_card_inserted()
        _drive(session, path)
        assert session.outcome is not None and session.outcome.code == 1
    finally:
        if fault == "pcscd_stopped" and pcsc_stack.pcscd is not None and pcsc_stack.pcscd.pid is None:
            pcsc_stack.start_pcscd()
        desk.close()
