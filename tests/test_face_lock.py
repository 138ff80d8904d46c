"""The face lock where the real system keeps it (#18 part 3, docs/face-lock.md): on the card.

A virtual card carries its count of consecutive failed face authentications, so the count
follows it to another desk (another journal, another reader — in-process or through
pcscd+vpcd); only a success resets it, 目視 and PIN do not, and the training's municipality
window releases a lock. A card that keeps no count (a real card) goes by the journal's mirror.

Face matching is a fake here (the verdict is what is tested, not the matcher: tests/test_face.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from desk.cli import main
from desk.models import FACE_LOCK_AFTER, AuthMethod, FailureName
from desk.wiring import SIM_VISUAL_PASSWORD, training_desk
from reader.face import FaceReason, FaceTemplate, MatchResult
from reader.face_counter import FACE_COUNTER_AID, CardFaceCounter
from sim.card import SimTransport, VirtualCard
from sim.world import SimWorld
from tests.conftest import new_sim_dir


class FakeCamera:
    name = "test camera"

    def open(self) -> None:
        pass

    def read(self) -> np.ndarray:
        return np.zeros((8, 8, 3), dtype=np.uint8)

    def close(self) -> None:
        pass


class FakeMatcher:
    """Says what the test tells it: the holder (accept) or someone else."""

    threshold = 0.45

    def __init__(self) -> None:
        self.accept = False

    def enroll(self, card_photo_jp2: bytes) -> FaceTemplate:
        return FaceTemplate(np.zeros(128), (0, 1, 1, 0))

    def match(self, template: FaceTemplate, frame: np.ndarray) -> MatchResult:
        if self.accept:
            return MatchResult(True, 0.2, FaceReason.MATCH, "本人と確認しました")
        return MatchResult(False, 0.7, FaceReason.MISMATCH, "カードの顔写真と一致しません")


class Desk:
    """A training desk in a world of its own (its own journal), with the fake face engine."""

    def __init__(self, base: Path) -> None:
        self.session, self.training = training_desk(None, base_dir=new_sim_dir(base), camera=None)
        self.matcher = FakeMatcher()
        self.session.ports.camera = FakeCamera()
        self.session.ports.matcher = self.matcher

    def put(self, card: VirtualCard) -> None:
        """The patient lays `card` on this desk's reader (the desk reads it at once)."""
        if self.training.transport.card is not None:
            self.training.remove()
        self.session.next_patient()
        self.training.transport.insert(card)

    def face(self, card: VirtualCard, *, accept: bool = False):
        self.put(card)
        self.matcher.accept = accept
        return self.session.confirm_unattended(AuthMethod.FACE)

    @property
    def failures_seen(self) -> int:
        return self.session.reception.face_failures

    def journal_count(self, card: VirtualCard) -> int:
        fingerprint = self.session.reception.certificate_fingerprint
        assert fingerprint is not None
        return self.session.journal.face_state(fingerprint).consecutive_failures

    def close(self) -> None:
        self.session.ports.journal.close()


@pytest.fixture
def desks(tmp_path):
    a, b = Desk(tmp_path / "a"), Desk(tmp_path / "b")
    yield a, b
    a.close()
    b.close()


def card_of(desk: Desk, name: str = "adult") -> VirtualCard:
    return desk.training.world.card(name)


def test_a_card_with_nine_failures_locks_on_the_tenth_at_another_desk(desks):
    desk_a, desk_b = desks
    card = card_of(desk_a)
    for attempt in range(1, FACE_LOCK_AFTER):
        outcome = desk_a.face(card)
        assert outcome.failure is FailureName.AUTH_FAILED and desk_a.failures_seen == attempt
    assert card.face_failures() == FACE_LOCK_AFTER - 1
    # the patient takes the card to desk B: another journal, which has never seen it
    desk_b.put(card)
    assert desk_b.failures_seen == FACE_LOCK_AFTER - 1 and desk_b.journal_count(card) == 0
    assert desk_b.face(card).failure is FailureName.FACE_LOCKED
    assert desk_b.failures_seen == FACE_LOCK_AFTER and card.face_failures() == FACE_LOCK_AFTER
    assert "ロック" in dict(desk_b.session.method_reasons())[AuthMethod.FACE]
    # back at desk A (its journal's mirror says 9): the card says locked
    desk_a.put(card)
    assert desk_a.journal_count(card) == FACE_LOCK_AFTER - 1 and desk_a.failures_seen == FACE_LOCK_AFTER
    assert desk_a.face(card, accept=True).failure is FailureName.FACE_LOCKED  # the holder's face is not even tried
    # PIN still works, and does not release the lock
    desk_a.put(card)
    assert desk_a.session.confirm_unattended(AuthMethod.PIN, pin="1234").code == 1
    assert card.face_failures() == FACE_LOCK_AFTER


def test_the_card_locks_where_the_desk_does():
    from sim.card import FACE_LOCK_AT

    assert FACE_LOCK_AT == FACE_LOCK_AFTER  # the card's own rule and the desk's knowledge of it


def test_the_count_survives_a_new_card_object_and_a_desk_restart(tmp_path):
    base = tmp_path / "a"
    desk = Desk(base)
    for _ in range(3):
        desk.face(card_of(desk))  # a fresh object each time, as placing from the training screen does
    desk.close()
    again = Desk.__new__(Desk)  # the same world, a desk started anew
    again.session, again.training = training_desk(None, base_dir=base, camera=None)
    again.put(card_of(again))
    assert again.failures_seen == 3
    again.close()


def test_a_success_resets_the_count_visual_and_pin_do_not(desks):
    desk_a, desk_b = desks
    card = card_of(desk_a)
    for _ in range(5):
        desk_a.face(card)
    desk_b.put(card)
    outcome = desk_b.session.confirm_unattended(AuthMethod.VISUAL, staff_id="S1", visual_password=SIM_VISUAL_PASSWORD)
    assert outcome.code == 1 and card.face_failures() == 5  # 目視 does not reset it (MHLW)
    desk_b.put(card)
    assert desk_b.session.confirm_unattended(AuthMethod.PIN, pin="1234").code == 1 and card.face_failures() == 5
    assert desk_b.face(card, accept=True).code == 1
    assert card.face_failures() == 0 and desk_b.failures_seen == 0
    desk_a.put(card)
    assert desk_a.failures_seen == 0  # desk A's own journal still says 5: the card decides


def test_the_municipality_releases_the_lock(desks, tmp_path, capsys):
    desk_a, desk_b = desks
    card = card_of(desk_a)
    for _ in range(FACE_LOCK_AFTER):
        desk_a.face(card)
    assert card.face_failures() == FACE_LOCK_AFTER
    desk_a.training.release_face_lock("adult")
    assert card.face_failures() == 0
    desk_b.put(card)
    assert desk_b.failures_seen == 0 and dict(desk_b.session.method_reasons())[AuthMethod.FACE] == ""
    # the same from the command line, on a training world
    for _ in range(FACE_LOCK_AFTER):
        desk_a.face(card)
    sim_a = desk_a.training.world.directory
    assert main(["card", "release-face-lock", "--reader", "sim:adult", "--sim-dir", str(sim_a)]) == 0
    assert "戻す前: 10回" in capsys.readouterr().out and card.face_failures() == 0
    # a real card's lock: only the municipality (2, said in Japanese, no traceback)
    assert main(["card", "release-face-lock", "--reader", "pcsc"]) == 2
    err = capsys.readouterr().err
    assert "市区町村の窓口" in err and "Traceback" not in err
    assert main(["card", "release-face-lock", "--reader", "sim:nosuch", "--sim-dir", str(sim_a)]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_card_info_shows_the_count_the_card_carries(tmp_path, capsys, monkeypatch):
    sim = new_sim_dir(tmp_path / "sim")
    monkeypatch.setenv("MADOGUCHI_SIM_DIR", str(sim))
    reader = SimTransport(SimWorld(sim).card("adult"))
    counter = CardFaceCounter(lambda: reader)
    for _ in range(4):
        counter.record("", False)
    assert main(["card", "info", "--reader", "sim:adult", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["face_failures"] == 4


def test_a_card_that_keeps_no_count_goes_by_the_journals_mirror(desks):
    desk_a, _ = desks
    card = card_of(desk_a)
    del card._apps[FACE_COUNTER_AID]  # as a real card: the stand-in application is not there (6A82)
    reader = SimTransport(card)
    assert CardFaceCounter(lambda: reader).consecutive_failures("") is None
    reader.remove()
    for attempt in range(1, FACE_LOCK_AFTER):
        desk_a.face(card)
        assert desk_a.failures_seen == attempt and desk_a.journal_count(card) == attempt
    assert desk_a.face(card).failure is FailureName.FACE_LOCKED
    assert desk_a.journal_count(card) == FACE_LOCK_AFTER
    # the facility desk's wiring: no card store at all, the journal's mirror only
    desk_a.session.ports.face_lock = None
    desk_a.put(card_of(desk_a))
    assert desk_a.failures_seen == FACE_LOCK_AFTER


@pytest.mark.pcsc
def test_the_count_travels_through_pcscd_and_vpcd(pcsc_stack, tmp_path):
    from desk.wiring import DeskConfig, ReaderSpec, open_desk
    from sim.vpcd import VPCD_READER
    from tests.pcsc_stack import place_card

    desk_a = Desk(tmp_path / "a")
    card = card_of(desk_a)
    for _ in range(FACE_LOCK_AFTER - 1):
        desk_a.face(card)
    desk_a.training.remove()
    # desk B: a real PC/SC reader on the training world (demo), the card served through vpcd
    desk_b = open_desk(DeskConfig(reader=ReaderSpec("pcsc", VPCD_READER), demo=True, camera=None,
                                  sim_dir=new_sim_dir(tmp_path / "b")))
    session = desk_b.session
    matcher = FakeMatcher()
    session.ports.camera, session.ports.matcher = FakeCamera(), matcher
    try:
        place_card(pcsc_stack, card)
        session.on_card_inserted()
        assert session.reception.face_failures == FACE_LOCK_AFTER - 1
        session.enter_check_b(card.fixture.check_b)  # no camera reads the card front on a plain reader
        assert session.confirm_unattended(AuthMethod.FACE).failure is FailureName.FACE_LOCKED
        assert card.face_failures() == FACE_LOCK_AFTER
    finally:
        desk_b.close()
        desk_a.close()
