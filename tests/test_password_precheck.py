"""The 目視 password checked while it is typed (desk/password_precheck.py)."""

from __future__ import annotations

import datetime as dt
import threading

from desk.facility import FacilityCategory, FacilityConfig, check_visual_password, with_visual_password
from desk.journal import JST, Journal
from desk.password_precheck import PasswordPrecheck

PASSWORD = "mokushi-2026"
T0 = dt.datetime(2026, 12, 1, 9, 0, tzinfo=JST)


class CountingVerify:
    """A verify that records what it checked, and can be held to see the submit wait for it."""

    def __init__(self) -> None:
        self.checked: list[str] = []
        self.release = threading.Event()
        self.release.set()
        self.started = threading.Event()

    def __call__(self, candidate: str) -> bool:
        self.started.set()
        self.release.wait(5)
        self.checked.append(candidate)
        return candidate == PASSWORD


def settled(precheck: PasswordPrecheck) -> None:
    for _ in range(500):
        if precheck._worker is None:
            return
        threading.Event().wait(0.01)
    raise AssertionError("the precheck never finished")


def test_the_submit_takes_the_answer_found_while_typing():
    verify = CountingVerify()
    precheck = PasswordPrecheck(verify)
    precheck.typed(PASSWORD)
    settled(precheck)
    assert verify.checked == [PASSWORD]
    assert precheck.verify(PASSWORD) is True
    assert verify.checked == [PASSWORD]  # not computed a second time


def test_another_text_than_the_one_checked_is_computed_on_submit():
    verify = CountingVerify()
    precheck = PasswordPrecheck(verify)
    precheck.typed("mokushi-202")
    settled(precheck)
    assert precheck.verify(PASSWORD) is True
    assert verify.checked == ["mokushi-202", PASSWORD]
    assert precheck.verify("mokushi-202") is False  # the earlier answer, for its own text only


def test_the_latest_text_wins_and_the_submit_waits_for_the_check_under_way():
    verify = CountingVerify()
    verify.release.clear()
    precheck = PasswordPrecheck(verify)
    precheck.typed("m")
    assert verify.started.wait(5)
    for n in range(2, len(PASSWORD) + 1):
        precheck.typed(PASSWORD[:n])  # typed while "m" is being checked: only the last is kept
    answer: list[bool] = []
    submit = threading.Thread(target=lambda: answer.append(precheck.verify(PASSWORD)))
    submit.start()
    verify.release.set()
    submit.join(5)
    settled(precheck)
    assert answer == [True]
    assert sorted(verify.checked) == ["m", PASSWORD]  # the texts in between were never checked, the last once


def test_cleared_answers_are_forgotten_even_when_the_check_ends_later():
    verify = CountingVerify()
    verify.release.clear()
    precheck = PasswordPrecheck(verify)
    precheck.typed(PASSWORD)
    assert verify.started.wait(5)
    precheck.clear()  # the next patient, while the check still runs
    verify.release.set()
    settled(precheck)
    assert precheck._answer is None
    precheck.typed("")  # an empty field starts nothing
    assert precheck._worker is None


def test_a_check_ahead_is_never_a_try_of_the_lockout(tmp_path):
    cfg = with_visual_password(
        FacilityConfig(
            medical_institution_code="1312345678", name="テスト内科", category=FacilityCategory.MEDICAL_CLINIC,
            prefecture="東京都",
        ),
        PASSWORD, n=2**10,
    )
    from desk.facility import verify_visual_password

    precheck = PasswordPrecheck(lambda candidate: verify_visual_password(cfg, candidate))
    with Journal(tmp_path / "j.sqlite3") as journal:
        for wrong in ("wrong-1", "wrong-2", "wrong-3", "wrong-4", "wrong-5", "wrong-6"):
            precheck.typed(wrong)
            settled(precheck)
        assert journal.visual_lock_state(cfg.medical_institution_code, now=T0).tries_left == 5
        check = check_visual_password(
            cfg, journal, "wrong-6", now=T0, verify=lambda _c, candidate: precheck.verify(candidate)
        )
        assert not check.accepted and check.tries_left == 4  # the submit counts, once
        precheck.typed(PASSWORD)
        settled(precheck)
        assert check_visual_password(
            cfg, journal, PASSWORD, now=T0, verify=lambda _c, candidate: precheck.verify(candidate)
        ).accepted
