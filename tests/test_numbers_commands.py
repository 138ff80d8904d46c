"""`desk check --numbers` (照会区分 2) and `desk bulk` (一括照会), as a clinic runs them: on the
training world, and on a facility desk whose config names a 資格確認端末's shared folder, with the
simulated 連携アプリ running as its own process (`python -m sim.renkei`)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from desk.cli import main

SATO = ["01130012", "4012", "1508", "00", "1985-04-12"]
PATIENTS = "保険者番号,記号,番号,枝番,生年月日,患者ID\n" + "\n".join([
    "01130012,4012,1508,00,1985-04-12,P001",
    "01130012,4012,1508,00,1985-04-13,P002",  # wrong birth date: 該当なし
    "06114011,210,6051,00,19870909,P003",  # lost: 無効
    "131128,世田,81155,01,1968/03/15,P004",  # 6-digit 国保
    "01470012,9012,377,00,1983-06-06,P005",
]) + "\n"


def _desk(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "desk", *args], capture_output=True, text=True, input=stdin, timeout=120)


# -- desk check --numbers ---------------------------------------------------------------------------


def test_numbers_check_gives_the_card_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--sim-dir", str(tmp_path), "--numbers", *SATO, "--json"]) == 0
    text = capsys.readouterr().out
    out = json.loads(text)
    assert out["outcome"] == {"code": 1, "name": "有効", "label": "有効"} and out["method"] == "none"
    assert (out["insurer_number"], out["symbol"], out["number"], out["branch"]) == ("01130012", "4012", "1508", "00")
    assert out["record"] == "journal" and out["result_files"] == "written" and out["copay_percent"] == 30
    assert "資格は有効です" in text  # readable Japanese, not \\u escapes
    assert list((tmp_path / "res").glob("OQS_2_*.xml"))  # the レセコン's file, 照会区分 2


def test_numbers_check_without_branch_and_full_width_digits(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["check", "--sim-dir", str(tmp_path), "--numbers", "０１１３００１２", "4012", "1508", "-", "2015-05-05", "--json"])
    assert code == 0 and json.loads(capsys.readouterr().out)["outcome"]["code"] == 1  # the family member, by birth date


@pytest.mark.parametrize(("args", "message"), [
    (["--numbers", "0113", "4012", "1508", "00", "1985-04-12"], "保険者番号"),
    (["--numbers", "01130012", "4012", "1508", "0", "1985-04-12"], "枝番"),
    (["--numbers", "01130012", "4012", "1508", "00", "1985/13/01"], "生年月日は YYYY-MM-DD"),
    (["--numbers", *SATO, "--method", "pin"], "どちらか一方"),
    ([], "どちらか一方"),
    (["--method", "pin", "--card", "adult", "--pin", "1234", "--document", "notice"], "--document・--with-card は --numbers"),
])
def test_numbers_check_refuses_wrong_values_in_japanese(tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str) -> None:
    assert main(["check", "--sim-dir", str(tmp_path), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "journal.sqlite3").exists()  # refused before anything was opened


# -- desk bulk --------------------------------------------------------------------------------------


@pytest.mark.parametrize("codec", ["utf-8", "utf-8-sig", "cp932"])
def test_bulk_reads_the_list_asks_and_writes_the_results(tmp_path: Path, capsys: pytest.CaptureFixture[str], codec: str) -> None:
    patients = tmp_path / "明日.csv"
    patients.write_bytes(PATIENTS.encode(codec))
    assert main(["bulk", "--file", str(patients), "--sim-dir", str(tmp_path / "sim")]) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert lines[0].startswith("結果") and "2026-12-02 の資格を 5人分 照会します" in captured.err  # the day after the reference date
    table = {line.split("　")[0]: int(line.split()[-1]) for line in lines[1:7]}
    # P005 has two qualifications, but a query by one of them finds that one: 有効
    assert table == {"有効": 3, "無効": 1, "該当なし": 1, "複数該当": 0, "エラー": 0, "計": 5}
    results = tmp_path / "明日_照会結果.csv"
    assert oct(results.stat().st_mode & 0o777) == "0o600"
    data = results.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM: Excel opens it as it is
    rows = [r.split(",") for r in data.decode("utf-8-sig").splitlines()]
    assert rows[0][:3] == ["行", "患者ID", "保険者番号"]
    assert [(r[1], r[7]) for r in rows[1:]] == [("P001", "有効"), ("P002", "該当なし"), ("P003", "無効"), ("P004", "有効"), ("P005", "有効")]
    assert rows[1][9] == "佐藤\u3000花子" and rows[1][11] == "3割" and rows[3][11] == ""  # no share for a lost qualification


def test_bulk_json_is_readable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    patients = tmp_path / "p.csv"
    patients.write_text(PATIENTS, encoding="utf-8")
    out = tmp_path / "out.csv"
    assert main(["bulk", "--file", str(patients), "--out", str(out), "--json", "--date", "2026-12-10", "--chunk", "2",
                 "--sim-dir", str(tmp_path / "sim")]) == 0
    text = capsys.readouterr().out
    assert "\\u" not in text
    document = json.loads(text)
    assert document["date"] == "2026-12-10" and document["summary"]["有効"] == 3 and document["results_csv"] == str(out)
    assert [p["patient_id"] for p in document["patients"]] == ["P001", "P002", "P003", "P004", "P005"]


@pytest.mark.parametrize(("content", "message"), [
    ("01130012,4012,1508,00\n", "1行目: 列が足りません"),
    ("h\n01130012,4012,1508,00,1985-13-45\n0113,4012,1508,00,1985-04-12\n", "2行目: 生年月日"),
    ("01130012,4012,1508,00,1985-04-12\n0113,4012,1508,00,1985-04-12\n", "2行目: 保険者番号が正しくありません"),
    ("\n# comment only\n", "照会する患者がいません"),
])
def test_bulk_refuses_a_wrong_list_before_sending_anything(tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str) -> None:
    patients = tmp_path / "p.csv"
    patients.write_text(content, encoding="utf-8")
    assert main(["bulk", "--file", str(patients), "--sim-dir", str(tmp_path / "sim")]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "sim").exists()  # nothing was started


def test_bulk_names_a_missing_or_binary_list(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bulk", "--file", str(tmp_path / "none.csv")]) == 2
    assert "none.csv がありません" in capsys.readouterr().err
    (tmp_path / "bin.csv").write_bytes(b"\xff\xfe\x00\x81\x00")
    assert main(["bulk", "--file", str(tmp_path / "bin.csv")]) == 2
    assert "UTF-8 でも Shift_JIS でもありません" in capsys.readouterr().err


# -- a facility on a 資格確認端末's shared folder ----------------------------------------------------------


@pytest.fixture
def facility(tmp_path: Path) -> Path:
    config = tmp_path / "facility.json"
    result = _desk("facility", "init", "--config", str(config), "--code", "1312345678", "--name", "テスト診療所",
                   "--category", "medical_clinic", "--prefecture", "東京都", "--res-dir", str(tmp_path / "data" / "res"),
                   "--journal", str(tmp_path / "data" / "journal.sqlite3"), "--exchange-folder", str(tmp_path / "share"),
                   "--exchange-encoding", "shift_jis", "--exchange-timeout", "3")
    assert result.returncode == 0, result.stderr
    return config


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """The simulated 連携アプリ as its own process, watching tmp_path/share."""
    process = subprocess.Popen([sys.executable, "-m", "sim.renkei", str(tmp_path / "share"), "--shift-jis"],
                               stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 30
    while not (tmp_path / "share" / "res").is_dir():
        assert process.poll() is None and time.monotonic() < deadline, "the simulated terminal did not start"
        time.sleep(0.05)
    yield process
    os.killpg(process.pid, signal.SIGINT)
    process.wait(timeout=10)


def test_facility_numbers_check_through_the_terminal_process(tmp_path: Path, facility: Path, terminal: subprocess.Popen[bytes]) -> None:
    result = _desk("check", "--config", str(facility), "--numbers", "131128", "世田", "81155", "01", "1968-03-15", "--json")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["outcome"]["code"] == 1 and out["insurer_number"] == "131128" and out["record"] == "journal"
    (xml,) = (tmp_path / "data" / "res").glob("OQS_2_*.xml")
    assert "大野\u3000次郎" in xml.read_text(encoding="utf-8")
    assert sorted(p.name for p in (tmp_path / "share" / "res").iterdir()) == []  # answer taken and removed


def test_facility_numbers_check_with_the_terminal_down_is_kept_for_later(tmp_path: Path, facility: Path) -> None:
    for folder in ("req", "res"):
        (tmp_path / "share" / folder).mkdir(parents=True)
    result = _desk("check", "--config", str(facility), "--numbers", *SATO, "--json")
    assert result.returncode == 0, result.stderr  # the query is recorded: kept for 事後確認
    out = json.loads(result.stdout)
    assert out["outcome"]["name"] == "central_down" and "3秒たっても応答しません" in out["message"]
    assert out["record"] == "journal"
    assert list((tmp_path / "share" / "req").iterdir()) == []  # the unanswered request was taken back


def test_facility_bulk_through_the_terminal_process(tmp_path: Path, facility: Path, terminal: subprocess.Popen[bytes]) -> None:
    patients = tmp_path / "p.csv"
    patients.write_bytes(PATIENTS.encode("cp932"))
    result = _desk("bulk", "--config", str(facility), "--file", str(patients), "--chunk", "3", "--date", "2026-12-02")
    assert result.returncode == 0, result.stderr
    assert "[3/5]" in result.stderr and "[5/5]" in result.stderr  # progress, one line per part off a terminal
    assert "有効　　　   3" in result.stdout and "計　　　　   5" in result.stdout


def test_facility_bulk_with_no_terminal_reports_every_patient_as_an_error(tmp_path: Path, facility: Path) -> None:
    for folder in ("req", "res"):
        (tmp_path / "share" / folder).mkdir(parents=True)
    patients = tmp_path / "p.csv"
    patients.write_text(PATIENTS, encoding="utf-8")
    result = _desk("bulk", "--config", str(facility), "--file", str(patients))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "エラー　　   5" in result.stdout
    rows = (tmp_path / "p_照会結果.csv").read_text(encoding="utf-8-sig").splitlines()
    assert all("応答しません" in row for row in rows[1:])


def test_a_query_kept_while_the_terminal_was_down_is_asked_again_once_it_answers(
    tmp_path: Path, facility: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from desk.models import Channel, Validity
    from desk.wiring import DeskConfig, ReaderSpec, open_desk

    for folder in ("req", "res"):
        (tmp_path / "share" / folder).mkdir(parents=True)
    assert main(["check", "--config", str(facility), "--numbers", *SATO, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["outcome"]["name"] == "central_down"
    process = subprocess.Popen([sys.executable, "-m", "sim.renkei", str(tmp_path / "share"), "--shift-jis"],
                               stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        desk = open_desk(DeskConfig(reader=ReaderSpec("none"), camera=None, facility_config=facility))
        try:
            (outcome,) = desk.session.retry_outage_queue()
            assert outcome.code == Validity.VALID
            assert desk.session.journal.pending_outages() == []
            rows = desk.session.journal.confirmations()  # type: ignore[attr-defined]
        finally:
            desk.close()
    finally:
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=10)
    # newest first: the re-run answered, after the 障害時 record it completes
    assert [(r.channel, r.validity) for r in rows] == [(Channel.NUMBERS, Validity.VALID), (Channel.OUTAGE, None)]
    assert len(list((tmp_path / "data" / "res").glob("OQS_2_*.xml"))) == 1


def test_bulk_refuses_an_out_folder_that_is_not_there_before_asking(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    patients = tmp_path / "p.csv"
    patients.write_text(PATIENTS, encoding="utf-8")
    assert main(["bulk", "--file", str(patients), "--out", str(tmp_path / "none" / "out.csv"), "--sim-dir", str(tmp_path / "sim")]) == 2
    assert "保存先" in capsys.readouterr().err and not (tmp_path / "sim").exists()  # nothing was started
