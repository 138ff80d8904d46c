"""`desk check` end to end on the simulated world: every fixture card with PIN and 目視."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from desk.cli import main

PASSWORD = "mokushi-2026"  # desk.wiring.SIM_VISUAL_PASSWORD

# card → (code or failure name, co-pay, claim mode, renewal alert)
EXPECTED = {
    "adult": (1, 30, "current", False),
    "pin-one-try": (1, 30, "current", False),
    "cert-expired-2m": (1, 30, "current", True),
    "cert-expired-4m": ("cert_beyond_grace", None, "unknown", False),
    "cert-expiring-6w": (1, 30, "current", True),
    "non-jis-name": (1, 30, "current", False),
    "child-5": (1, 20, "current", False),
    "elder-72": (1, 20, "current", False),
    "elder-80": (1, 10, "current", False),
    "lost": (2, 30, "past", False),
    "lost-new": (3, 30, "past", False),
    "unregistered": (4, None, "unknown", False),
    "multiple": (5, 30, "current", False),
    "not-mynumber": ("not_my_number_card", None, "unknown", False),
}


def run_check(capsys, tmp_path, *args: str) -> dict:
    code = main(["check", "--sim-dir", str(tmp_path), "--json", *args])
    assert code == 0
    return json.loads(capsys.readouterr().out)


def _assert(out: dict, expected) -> None:
    code, copay, mode, renewal = expected
    if isinstance(code, int):
        assert out["outcome"]["code"] == code
    else:
        assert out["outcome"] == {"code": None, "name": code, "label": out["outcome"]["label"]}
    assert out["copay_percent"] == copay
    assert out["claim"]["mode"] == mode
    assert out["renewal_alert"] is renewal
    assert out["steps"] and all(s["code"] and s["text"] for s in out["steps"])
    if mode == "unknown":
        assert out["claim"]["insurer_number"] == "77777777"
        assert set(out["claim"]["symbol"] + out["claim"]["number"]) <= {"7"}


@pytest.mark.parametrize("card", sorted(EXPECTED))
def test_pin(capsys, tmp_path, card):
    out = run_check(capsys, tmp_path, "--card", card, "--method", "pin", "--pin", "1234")
    _assert(out, EXPECTED[card])
    assert out["method"] == (None if card == "not-mynumber" else "pin")  # refused before any method


@pytest.mark.parametrize("card", sorted(EXPECTED) + ["pin-blocked", "no-pin"])
def test_visual(capsys, tmp_path, card):
    out = run_check(capsys, tmp_path, "--card", card, "--method", "visual", "--visual-password", PASSWORD, "--staff", "S001")
    _assert(out, EXPECTED.get(card, (1, 30 if card == "pin-blocked" else 20, "current", False)))


def test_valid_answer_carries_the_numbers(capsys, tmp_path):
    out = run_check(capsys, tmp_path, "--card", "adult", "--method", "pin", "--pin", "1234")
    assert (out["insurer_number"], out["symbol"], out["number"], out["branch"]) == ("01130012", "4012", "1508", "00")
    assert out["claim"] == {
        "mode": "current", "insurer_number": "01130012", "symbol": "4012", "number": "1508", "branch": "00",
        "summary": "",  # a summary is written only where the claim needs explaining (past, 不詳)
    }
    assert "no_extra_certificates" in [s["code"] for s in out["steps"]]


def test_lost_new_says_a_new_qualification_exists(capsys, tmp_path):
    out = run_check(capsys, tmp_path, "--card", "lost-new", "--method", "pin", "--pin", "1234")
    assert out["steps"][0]["code"] == "new_qualification_exists"
    assert "10割" in " ".join(s["text"] for s in out["steps"])


def test_pin_blocked_card(capsys, tmp_path):
    out = run_check(capsys, tmp_path, "--card", "pin-blocked", "--method", "pin", "--pin", "1234")
    assert out["outcome"]["name"] == "pin_blocked"


def test_wrong_pin_is_auth_failed_with_tries_left(capsys, tmp_path):
    out = run_check(capsys, tmp_path, "--card", "adult", "--method", "pin", "--pin", "9999")
    assert out["outcome"]["name"] == "auth_failed"
    assert "残り2回" in out["message"]


def test_visual_wrong_password_then_lock(capsys, tmp_path):
    for left in (4, 3, 2, 1):
        out = run_check(capsys, tmp_path, "--card", "adult", "--method", "visual", "--visual-password", "wrong", "--staff", "S1")
        assert out["outcome"]["name"] == "auth_failed" and f"あと{left}回" in out["message"]
    out = run_check(capsys, tmp_path, "--card", "adult", "--method", "visual", "--visual-password", "wrong", "--staff", "S1")
    assert out["outcome"]["name"] == "visual_locked"
    out = run_check(capsys, tmp_path, "--card", "adult", "--method", "visual", "--visual-password", PASSWORD, "--staff", "S1")
    assert out["outcome"]["name"] == "visual_locked"  # even the right password waits out the 5 minutes


def test_central_down_gives_the_failure_steps(capsys, tmp_path):
    out = run_check(capsys, tmp_path, "--card", "adult", "--method", "pin", "--pin", "1234", "--central", "down")
    assert out["outcome"]["name"] == "central_down"
    codes = [s["code"] for s in out["steps"]]
    assert codes[0] == "central_down" and "moushitate" in codes and "claim_order" in codes


def test_today_moves_the_grace_boundary(capsys, tmp_path):
    # cert-expired-4m expired 2026-08-01: the grace runs to 2026-11-30
    out = run_check(capsys, tmp_path, "--card", "cert-expired-4m", "--method", "pin", "--pin", "1234", "--today", "2026-11-30")
    assert out["outcome"]["code"] == 1 and out["renewal_alert"] is True
    out = run_check(capsys, tmp_path, "--card", "cert-expired-4m", "--method", "pin", "--pin", "1234", "--today", "2026-12-01")
    assert out["outcome"]["name"] == "cert_beyond_grace"


def test_usage_errors_exit_2(capsys, tmp_path):
    assert main(["check", "--card", "adult", "--method", "pin", "--sim-dir", str(tmp_path)]) == 2
    assert main(["check", "--card", "nosuch", "--method", "pin", "--pin", "1234", "--sim-dir", str(tmp_path)]) == 2
    assert "nosuch" in capsys.readouterr().err


def test_console_entry_point(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "desk", "check", "--card", "elder-80", "--method", "pin", "--pin", "1234", "--sim-dir", str(tmp_path), "--json"],
        capture_output=True, text=True, check=True,
    )
    assert json.loads(out.stdout)["copay_percent"] == 10


@pytest.mark.face
@pytest.mark.parametrize("card", ["adult", "elder-80"])
def test_face_confirms_the_holder(capsys, tmp_path, card):
    out = run_check(capsys, tmp_path, "--card", card, "--method", "face", "--camera", "holder")
    assert out["outcome"]["code"] == 1 and out["method"] == "face"
    assert out["face"]["accepted"] is True and out["face"]["distance"] < 0.45


@pytest.mark.face
def test_face_refuses_another_person(capsys, tmp_path):
    out = run_check(capsys, tmp_path, "--card", "adult", "--method", "face", "--camera", "other")
    assert out["outcome"]["name"] == "auth_failed"
    assert out["face"]["accepted"] is False and out["face"]["distance"] > 0.45


@pytest.mark.face
def test_ten_face_failures_lock_across_restarts_and_visual_does_not_reset(capsys, tmp_path):
    for attempt in range(1, 10):
        out = run_check(capsys, tmp_path, "--card", "adult", "--method", "face", "--camera", "other")
        assert out["outcome"]["name"] == "auth_failed", attempt
    # 目視 in between does not reset the count (MHLW: 目視確認は失敗回数をリセットしない)
    out = run_check(capsys, tmp_path, "--card", "adult", "--method", "visual", "--visual-password", PASSWORD, "--staff", "S1")
    assert out["outcome"]["code"] == 1
    out = run_check(capsys, tmp_path, "--card", "adult", "--method", "face", "--camera", "other")
    assert out["outcome"]["name"] == "face_locked"
    # locked now: even the holder's face is not tried, PIN still works
    out = run_check(capsys, tmp_path, "--card", "adult", "--method", "face", "--camera", "holder")
    assert out["outcome"]["name"] == "face_locked"
    out = run_check(capsys, tmp_path, "--card", "adult", "--method", "pin", "--pin", "1234")
    assert out["outcome"]["code"] == 1


def test_the_pin_comes_from_stdin_and_never_needs_argv(capsys, tmp_path, monkeypatch):
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("1234\n"))
    out = run_check(capsys, tmp_path, "--card", "adult", "--method", "pin", "--pin-stdin")
    assert out["outcome"]["code"] == 1 and out["record"] == "journal"


def test_the_visual_password_comes_from_stdin(capsys, tmp_path, monkeypatch):
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    out = run_check(capsys, tmp_path, "--card", "adult", "--method", "visual", "--visual-password-stdin", "--staff", "S001")
    assert out["outcome"]["code"] == 1


def test_a_pin_on_the_command_line_is_warned_about(capsys, tmp_path):
    main(["check", "--sim-dir", str(tmp_path), "--json", "--card", "adult", "--method", "pin", "--pin", "1234"])
    assert "--pin-stdin" in capsys.readouterr().err


def test_full_width_digits_are_the_digits_they_are(capsys, tmp_path):
    out = run_check(capsys, tmp_path, "--card", "adult", "--method", "pin", "--pin", "１２３４")
    assert out["outcome"]["code"] == 1


@pytest.mark.parametrize(
    "args",
    [
        ("--method", "pin", "--pin", "12a4"),
        ("--method", "pin", "--pin", "12345"),
        ("--method", "visual", "--visual-password", PASSWORD, "--staff", "S" * 65),
        ("--method", "visual", "--visual-password", PASSWORD, "--staff", "S\x1b[2J"),
        ("--method", "pin", "--pin", "1234", "--today", "0001-01-01"),
        ("--method", "pin", "--pin", "1234", "--today", "2026-02-30"),
    ],
)
def test_bad_input_is_refused_before_anything_is_written(capsys, tmp_path, args):
    code = main(["check", "--sim-dir", str(tmp_path), "--json", "--card", "adult", *args])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert any(line.startswith(("入力内容が正しくありません:", "コマンドの指定が正しくありません:")) for line in err.splitlines())
    assert not (tmp_path / "journal.sqlite3").exists()  # refused before the desk was even opened


def test_a_certificate_in_its_grace_shares_no_medical_information(capsys, tmp_path):
    out = run_check(capsys, tmp_path, "--card", "cert-expired-2m", "--method", "pin", "--pin", "1234", "--consent", "YZK,SRJ")
    assert out["outcome"]["code"] == 1 and out["consent"] == []  # not even asked
    assert "猶予期間" in out["message"] and "医療情報" in out["message"]


# card → what the complete result shows (with the 限度額 consent asked and given)
COMPLETE = {
    "elder-72": {"copay_source": "elderly_recipient", "elderly_recipient": {"ratio_percent": 20, "valid_start": "2026-08-01", "valid_end": "2027-07-31"}},
    "elder-80": {"copay_source": "record", "elderly_recipient": None},
    "child-5": {"copay_source": "age", "personal_family": "家族"},
    "cert-expiring-6w": {"limit": {"classification": "01", "classification_label": "限度額適用", "flag": "A04", "flag_label": "エ",
                                   "valid_start": "2026-04-01", "valid_end": "2027-03-31"}},
    "pin-one-try": {"specific_disease": [{"code": "1", "label": "人工透析を要する慢性腎不全"}], "limit": None},
    "adult": {"birth_date": "1985-04-12", "sex": "女", "personal_family": "本人", "qualification_date": "2023-04-01",
              "disqualification_date": None, "limit_consent": True},
}


@pytest.mark.parametrize("card", sorted(COMPLETE))
def test_the_complete_result_with_the_limit_consent(capsys, tmp_path, card: str) -> None:
    out = run_check(capsys, tmp_path, "--card", card, "--method", "pin", "--pin", "1234", "--limit-consent")
    for key, value in COMPLETE[card].items():
        assert out[key] == value, key


def test_without_the_limit_consent_no_limit_information(capsys, tmp_path) -> None:
    out = run_check(capsys, tmp_path, "--card", "adult", "--method", "pin", "--pin", "1234")
    assert out["limit"] is None and out["limit_consent"] is False
    failed = run_check(capsys, tmp_path, "--card", "unregistered", "--method", "pin", "--pin", "1234")
    assert failed["birth_date"] is None and failed["specific_disease"] == []  # the keys are always there
