"""Facility config, the 目視 password hash and lockout, and `desk facility`."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import stat

import pytest

from desk.cli import main
from desk.facility import (
    CONFIG_ENV,
    FacilityCategory,
    FacilityConfig,
    FacilityError,
    check_visual_password,
    config_path,
    default_config_path,
    hash_visual_password,
    load_config,
    save_config,
    verify_visual_password,
    with_visual_password,
)
from desk.journal import JST, Journal
from desk.models import FacilityType

# Low scrypt cost keeps the tests fast; the stored parameters make verification use the same cost.
FAST = {"n": 2**10, "r": 8, "p": 1}
PASSWORD = "mokushi-2026"
T0 = dt.datetime(2026, 12, 1, 9, 0, tzinfo=JST)


def config(**kw) -> FacilityConfig:
    base = dict(
        medical_institution_code="1312345678",
        name="テスト内科クリニック",
        category=FacilityCategory.MEDICAL_CLINIC,
        prefecture="東京都",
    )
    base.update(kw)
    return FacilityConfig(**base)


def test_config_validation():
    assert config(prefecture="東京").prefecture == "東京都"
    assert config().facility_type is FacilityType.NORMAL
    for bad in ({"medical_institution_code": "123"}, {"prefecture": "東京県"}, {"unknown": 1}):
        with pytest.raises(ValueError):
            config(**bad)


def test_category_parse_accepts_ids_and_labels():
    assert FacilityCategory.parse("pharmacy") is FacilityCategory.PHARMACY
    assert FacilityCategory.parse("歯科診療所") is FacilityCategory.DENTAL_CLINIC
    with pytest.raises(FacilityError):
        FacilityCategory.parse("clinic")
    assert FacilityCategory.HOSPITAL.fee_schedule == "医科"


def test_config_path_precedence(tmp_path, monkeypatch):
    monkeypatch.setenv(CONFIG_ENV, str(tmp_path / "env.json"))
    assert config_path() == tmp_path / "env.json"
    assert config_path(tmp_path / "x.json") == tmp_path / "x.json"
    monkeypatch.delenv(CONFIG_ENV)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert config_path() == default_config_path() == tmp_path / "xdg" / "madoguchi" / "facility.json"


def test_save_and_load_round_trip_private_file(tmp_path):
    path = tmp_path / "cfg" / "facility.json"
    cfg = with_visual_password(config(), PASSWORD, **FAST)
    save_config(cfg, path)
    assert load_config(path) == cfg
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert PASSWORD not in path.read_text(encoding="utf-8")
    assert [p.name for p in path.parent.iterdir()] == ["facility.json"]  # no temporary file left


def test_load_errors_are_japanese(tmp_path):
    with pytest.raises(FacilityError) as info:
        load_config(tmp_path / "none.json")
    assert "desk facility init" in info.value.msg
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"name": "x"}), encoding="utf-8")
    with pytest.raises(FacilityError) as info:
        load_config(bad)
    assert info.value.title == "施設設定が不正です"


def test_password_hash_is_salted_scrypt_and_verifies():
    a = hash_visual_password(PASSWORD, **FAST)
    b = hash_visual_password(PASSWORD, **FAST)
    assert a.algorithm == "scrypt" and a.salt != b.salt and a.hash != b.hash
    cfg = config(visual_password=a)
    assert verify_visual_password(cfg, PASSWORD)
    assert not verify_visual_password(cfg, PASSWORD + "x")
    assert not verify_visual_password(cfg, "")
    assert not verify_visual_password(config(), PASSWORD)  # none set


def test_default_cost_is_the_documented_one():
    h = hash_visual_password(PASSWORD)
    assert (h.n, h.r, h.p, h.dklen) == (2**14, 8, 1, 32)
    assert verify_visual_password(config(visual_password=h), PASSWORD)


@pytest.mark.parametrize("weak", ["", "12345", "      ", "abc\x00def"])
def test_weak_passwords_are_refused(weak):
    with pytest.raises(FacilityError):
        hash_visual_password(weak, **FAST)


def test_visual_password_lockout_five_wrong_five_minutes(tmp_path):
    cfg = with_visual_password(config(), PASSWORD, **FAST)
    with Journal(tmp_path / "j.sqlite3") as journal:
        for left in (4, 3, 2, 1):
            check = check_visual_password(cfg, journal, "wrong", now=T0)
            assert not check.accepted and not check.locked and check.tries_left == left
        check = check_visual_password(cfg, journal, "wrong", now=T0)
        assert check.locked and check.locked_until == T0 + dt.timedelta(minutes=5)
        assert "09:05" in check.message
        # Even the right password is refused while locked, without being checked.
        assert not check_visual_password(cfg, journal, PASSWORD, now=T0 + dt.timedelta(minutes=4)).accepted
        ok = check_visual_password(cfg, journal, PASSWORD, now=T0 + dt.timedelta(minutes=5))
        assert ok.accepted and ok.tries_left == 5


def test_right_password_resets_the_counter(tmp_path):
    cfg = with_visual_password(config(), PASSWORD, **FAST)
    with Journal(tmp_path / "j.sqlite3") as journal:
        for _ in range(4):
            check_visual_password(cfg, journal, "wrong", now=T0)
        assert check_visual_password(cfg, journal, PASSWORD, now=T0).accepted
        assert check_visual_password(cfg, journal, "wrong", now=T0).tries_left == 4


def test_check_without_password_set(tmp_path):
    with Journal(tmp_path / "j.sqlite3") as journal, pytest.raises(FacilityError) as info:
        check_visual_password(config(), journal, PASSWORD)
    assert "set-visual-password" in info.value.msg


# ---------------------------------------------------------------------------------------------
# CLI


@pytest.fixture
def cfg_path(tmp_path, monkeypatch):
    path = tmp_path / "conf" / "facility.json"
    monkeypatch.setenv(CONFIG_ENV, str(path))
    return path


def _init(tmp_path, *extra: str) -> int:
    return main(
        ["facility", "init", "--code", "1312345678", "--name", "テスト医院", "--category", "医科診療所",
         "--prefecture", "東京", "--journal", str(tmp_path / "j.sqlite3"), *extra]
    )  # fmt: skip


def test_cli_init_show(tmp_path, cfg_path, capsys):
    assert _init(tmp_path) == 0
    assert load_config(cfg_path).prefecture == "東京都"
    assert _init(tmp_path) == 1  # exists, no --force
    assert main(["facility", "show", "--json"]) == 0
    out = capsys.readouterr().out
    shown = json.loads(out[out.index("{") :])
    assert shown["visual_password"] == "unset" and shown["category"] == "medical_clinic"
    assert main(["facility", "show"]) == 0
    assert "未設定" in capsys.readouterr().out


def test_cli_init_rejects_bad_values(tmp_path, cfg_path, capsys):
    assert main(["facility", "init", "--code", "12", "--name", "x", "--category", "pharmacy", "--prefecture", "東京"]) == 2
    assert main(["facility", "init", "--code", "1312345678", "--name", "x", "--category", "shop", "--prefecture", "東京"]) == 2
    assert not cfg_path.exists()


def test_cli_set_visual_password_from_stdin_never_stored_in_clear(tmp_path, cfg_path, capsys, monkeypatch):
    assert _init(tmp_path) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert main(["facility", "set-visual-password", "--stdin"]) == 0
    captured = capsys.readouterr()
    assert PASSWORD not in captured.out + captured.err
    assert PASSWORD not in cfg_path.read_text(encoding="utf-8")
    assert verify_visual_password(load_config(cfg_path), PASSWORD)
    assert main(["facility", "show", "--json"]) == 0
    assert '"visual_password": "set"' in capsys.readouterr().out
    # init --force keeps the password hash
    assert _init(tmp_path, "--force") == 0
    assert verify_visual_password(load_config(cfg_path), PASSWORD)


def test_cli_set_visual_password_getpass_twice(tmp_path, cfg_path, capsys, monkeypatch):
    assert _init(tmp_path) == 0
    answers = iter([PASSWORD, PASSWORD + "typo"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    assert main(["facility", "set-visual-password"]) == 1
    assert load_config(cfg_path).visual_password is None
    answers = iter([PASSWORD, PASSWORD])
    assert main(["facility", "set-visual-password"]) == 0
    assert verify_visual_password(load_config(cfg_path), PASSWORD)


def test_cli_set_visual_password_too_short(tmp_path, cfg_path, capsys, monkeypatch):
    assert _init(tmp_path) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("123\n"))
    assert main(["facility", "set-visual-password", "--stdin"]) == 2  # what was typed: a usage error
    assert "6文字以上" in capsys.readouterr().err


def test_cli_show_without_config(cfg_path, capsys):
    assert main(["facility", "show"]) == 1
    assert "desk facility init" in capsys.readouterr().err
