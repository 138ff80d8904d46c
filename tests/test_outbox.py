"""Nothing lost: a confirmation counts as done once its record is in the journal or in the outbox
on disk; the next write or the next process moves the outbox into the journal, in order and once."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import stat
from pathlib import Path

import pytest

from desk.cli import main
from desk.journal import ConfirmationRecord, Journal
from desk.journal_ops import ConfirmationOp, VisualUseOp
from desk.models import AuthMethod, Channel, FacilityType, Validity
from desk.outbox import Outbox, OutboxError, outbox_path
from desk.recorder import Recorder
from desk.wiring import SIM_VISUAL_PASSWORD

T0 = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=9)))


def _check(capsys, sim: Path, *args: str) -> tuple[int, dict]:
    code = main(["check", "--sim-dir", str(sim), "--json", "--card", "adult", *args])
    out = capsys.readouterr()
    return code, json.loads(out.out) if out.out.strip() else {}


def _rows(sim: Path) -> list[tuple]:
    with sqlite3.connect(sim / "journal.sqlite3") as conn:
        return conn.execute("SELECT channel, method, validity FROM confirmations ORDER BY id").fetchall()


def _hold_journal(sim: Path) -> sqlite3.Connection:
    """Another process's write lock on the journal, held until closed."""
    conn = sqlite3.connect(sim / "journal.sqlite3", isolation_level=None)
    conn.execute("BEGIN EXCLUSIVE")
    return conn


@pytest.fixture
def fast_busy_timeout(monkeypatch):
    # a held journal makes every write wait its busy timeout: 0.2 s instead of 5 s keeps this quick
    original = Journal.__init__

    def init(self, path, *, read_only=False, busy_timeout=5.0):
        original(self, path, read_only=read_only, busy_timeout=min(busy_timeout, 0.2))

    monkeypatch.setattr(Journal, "__init__", init)


def test_a_confirmation_made_while_the_journal_is_held_waits_in_the_outbox_and_arrives(capsys, sim_base, fast_busy_timeout):
    assert _check(capsys, sim_base, "--method", "pin", "--pin", "1234")[0] == 0
    holder = _hold_journal(sim_base)
    try:
        code, out = _check(capsys, sim_base, "--method", "visual", "--visual-password", SIM_VISUAL_PASSWORD, "--staff", "S1")
        # 目視 needs the journal for its lockout: it fails closed, and says why
        assert out["outcome"]["name"] == "auth_failed" and "記録" in out["message"]
        code, out = _check(capsys, sim_base, "--method", "pin", "--pin", "1234")
        assert code == 0 and out["outcome"]["code"] == 1 and out["record"] == "outbox"
        box = outbox_path(sim_base / "journal.sqlite3")
        assert box.exists() and stat.S_IMODE(box.stat().st_mode) == 0o600
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert _rows(sim_base) == [("myna", "pin", 1)]  # the second is in the outbox, not lost
    # the next process writes it first, then its own
    code = main(["check", "--sim-dir", str(sim_base), "--json", "--card", "adult", "--method", "pin", "--pin", "1234"])
    captured = capsys.readouterr()
    assert code == 0 and json.loads(captured.out)["record"] == "journal"
    # said, not only logged: the confirmation and the note that its files were written
    assert "一時保存していた書き込み 2件を受付記録に反映しました" in captured.err
    assert _rows(sim_base) == [("myna", "pin", 1)] * 3
    assert not outbox_path(sim_base / "journal.sqlite3").exists()


def test_with_neither_journal_nor_outbox_the_check_fails_and_says_so(capsys, sim_base, fast_busy_timeout, monkeypatch):
    import errno

    assert _check(capsys, sim_base, "--method", "pin", "--pin", "1234")[0] == 0

    def disk_full(fd, data, offset):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("desk.outbox.os.pwrite", disk_full)  # the outbox cannot be written either
    holder = _hold_journal(sim_base)
    try:
        code = main(["check", "--sim-dir", str(sim_base), "--json", "--card", "adult", "--method", "pin", "--pin", "1234"])
        captured = capsys.readouterr()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert code == 1  # never 0 while the record is nowhere
    assert json.loads(captured.out)["record"] == "none"
    assert any(line.startswith("受付記録を保存できません:") for line in captured.err.splitlines())
    assert "Traceback" not in captured.err and "No space left" in captured.err


def test_a_desk_does_not_start_on_an_outbox_it_cannot_read(capsys, sim_base):
    assert _check(capsys, sim_base, "--method", "pin", "--pin", "1234")[0] == 0
    outbox_path(sim_base / "journal.sqlite3").mkdir()  # something else where the outbox should be
    code = main(["check", "--sim-dir", str(sim_base), "--json", "--card", "adult", "--method", "pin", "--pin", "1234"])
    err = capsys.readouterr().err
    assert code == 1 and "受付記録を保存できません:" in err and "一時保存" in err


def test_visual_fails_closed_when_its_use_cannot_be_recorded(sim_base, tmp_path):
    from desk.flow import State
    from desk.wiring import training_desk

    session, training = training_desk("adult", base_dir=sim_base, camera=None)
    session.ports.journal.close()
    session.ports.journal = Journal(sim_base / "journal.sqlite3", read_only=True)  # lockout check still reads
    # the lockout counter must be written too: a read-only journal refuses 目視 before anything is asked
    before = len(training.central.replies)
    session.confirm_unattended(AuthMethod.VISUAL, staff_id="S1", visual_password=SIM_VISUAL_PASSWORD)
    assert session.reception.state is State.VISUAL and "記録" in session.reception.message
    assert len(training.central.replies) == before  # the central system was not asked


def test_an_op_is_applied_once_even_when_replayed(tmp_path):
    journal = Journal(tmp_path / "j.sqlite3")
    op = ConfirmationOp(record=ConfirmationRecord(
        at=T0, channel=Channel.MYNA, method=AuthMethod.PIN, validity=Validity.VALID, facility_type=FacilityType.NORMAL,
    ))
    assert journal.apply(op) is not None
    assert journal.apply(op) is None  # a crash after the journal took it, before the outbox forgot it
    assert len(journal.confirmations()) == 1


def test_a_visual_use_is_linked_to_the_confirmation_it_led_to(capsys, sim_base):
    code, out = _check(capsys, sim_base, "--method", "visual", "--visual-password", SIM_VISUAL_PASSWORD, "--staff", "S001")
    assert code == 0 and out["outcome"]["code"] == 1
    with sqlite3.connect(sim_base / "journal.sqlite3") as conn:
        (confirmation,) = conn.execute("SELECT id FROM confirmations").fetchall()
        assert conn.execute("SELECT staff_id, confirmation_id FROM visual_uses").fetchall() == [("S001", confirmation[0])]


def test_the_outbox_keeps_order_and_applies_when_the_journal_returns(tmp_path):
    journal = Journal(tmp_path / "j.sqlite3")
    box = Outbox(tmp_path / "j.sqlite3.outbox")
    read_only = Journal(tmp_path / "j.sqlite3", read_only=True)
    current = [read_only]
    recorder = Recorder(lambda: current[0], box)
    ops = [VisualUseOp(staff_id=f"S{i}", at=T0 + dt.timedelta(minutes=i)) for i in range(3)]
    for op in ops:
        assert recorder.record(op) is None
    assert recorder.waiting == 3 and [o.op_id for o in box.pending()] == [o.op_id for o in ops]
    current[0] = journal
    assert recorder.flush() and recorder.waiting == 0
    with sqlite3.connect(tmp_path / "j.sqlite3") as conn:
        assert [r[0] for r in conn.execute("SELECT staff_id FROM visual_uses ORDER BY id")] == ["S0", "S1", "S2"]


def test_a_torn_last_line_is_ignored_but_a_damaged_one_is_reported(tmp_path):
    box = Outbox(tmp_path / "outbox")
    first, second = VisualUseOp(staff_id="A", at=T0), VisualUseOp(staff_id="B", at=T0)
    box.append(first)
    box.append(second)
    path = tmp_path / "outbox"
    data = path.read_bytes()
    path.write_bytes(data + b'{"kind": "visual_use", "op_')  # a crash in the middle of an append
    assert [o.op_id for o in box.pending()] == [first.op_id, second.op_id]
    lines = data.split(b"\n")
    path.write_bytes(lines[0] + b"\n" + b"garbage\n" + lines[1] + b"\n")
    with pytest.raises(OutboxError, match="2行目"):
        box.pending()


def test_the_visual_lockout_runs_on_the_real_clock_not_the_scenario_day(capsys, sim_base):
    for _ in range(5):
        main(["check", "--sim-dir", str(sim_base), "--json", "--card", "adult", "--method", "visual",
              "--visual-password", "wrong-password", "--staff", "S1"])
    capsys.readouterr()
    code, out = _check(capsys, sim_base, "--method", "visual", "--visual-password", SIM_VISUAL_PASSWORD, "--staff", "S1",
                       "--today", "2026-12-02")
    assert out["outcome"]["name"] == "visual_locked"  # moving the scenario day does not lift it


def test_the_journal_row_names_its_result_files(capsys, sim_base):
    code, out = _check(capsys, sim_base, "--method", "pin", "--pin", "1234")
    assert code == 0 and out["result_files"] == "written"
    with sqlite3.connect(sim_base / "journal.sqlite3") as conn:
        (stem,) = conn.execute("SELECT result_stem FROM confirmations").fetchone()
        assert conn.execute("SELECT COUNT(*) FROM pending_exports").fetchone() == (0,)
    assert (sim_base / "res" / f"{stem}.xml").is_file() and (sim_base / "res" / f"{stem}.json").is_file()


def test_result_files_that_cannot_be_written_are_owed_and_written_at_the_next_start(capsys, sim_base):
    (sim_base).mkdir(parents=True, exist_ok=True)
    (sim_base / "res").write_text("not a folder", encoding="utf-8")  # res/ cannot be made: files cannot be written
    code = main(["check", "--sim-dir", str(sim_base), "--json", "--card", "adult", "--method", "pin", "--pin", "1234"])
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert code == 1 and out["outcome"]["code"] == 1  # the patient's answer stands …
    assert out["record"] == "journal" and out["result_files"] == "owed"  # … recorded, its files owed
    assert "結果ファイルを書き出せませんでした" in captured.err and "Traceback" not in captured.err
    with sqlite3.connect(sim_base / "journal.sqlite3") as conn:
        (stem,) = conn.execute("SELECT result_stem FROM confirmations").fetchone()
        assert conn.execute("SELECT stem FROM pending_exports").fetchall() == [(stem,)]
    (sim_base / "res").unlink()  # the folder problem is fixed
    code = main(["check", "--sim-dir", str(sim_base), "--json", "--card", "adult", "--method", "pin", "--pin", "1234"])
    assert code == 0 and "結果ファイル 1件を書き出しました" in capsys.readouterr().err
    assert (sim_base / "res" / f"{stem}.xml").is_file()  # the earlier answer reached the folder at start
    with sqlite3.connect(sim_base / "journal.sqlite3") as conn:
        assert conn.execute("SELECT COUNT(*) FROM pending_exports").fetchone() == (0,)
        assert conn.execute("SELECT COUNT(*) FROM confirmations").fetchone() == (2,)
    assert len(list((sim_base / "res").glob("OQS_*.xml"))) == 2


def test_an_append_after_a_torn_tail_keeps_every_acknowledged_op(tmp_path):
    box = Outbox(tmp_path / "outbox")
    first = VisualUseOp(staff_id="A", at=T0)
    box.append(first)
    with open(tmp_path / "outbox", "ab") as handle:
        handle.write(b'{"kind": "visual_use", "op_')  # a crash in the middle of an append
    second = VisualUseOp(staff_id="B", at=T0)
    box.append(second)  # the torn, never acknowledged tail is cut, not glued to this line
    assert [o.op_id for o in box.pending()] == [first.op_id, second.op_id]


def test_an_append_that_fails_part_way_leaves_no_half_line(tmp_path, monkeypatch):
    import errno
    import os

    box = Outbox(tmp_path / "outbox")
    first = VisualUseOp(staff_id="A", at=T0)
    box.append(first)
    real = os.pwrite
    calls = []

    def half_then_full(fd, data, offset):
        calls.append(1)
        if len(calls) == 1:
            return real(fd, data[: len(data) // 2], offset)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("desk.outbox.os.pwrite", half_then_full)
    with pytest.raises(OutboxError):
        box.append(VisualUseOp(staff_id="B", at=T0))
    monkeypatch.undo()
    assert [o.op_id for o in box.pending()] == [first.op_id]
    assert (tmp_path / "outbox").read_bytes().endswith(b"\n")


def test_a_write_refused_for_good_is_set_aside_and_blocks_nothing(tmp_path):
    from desk.journal_ops import OutageDoneOp, OutageOp

    journal = Journal(tmp_path / "j.sqlite3")
    box = Outbox(tmp_path / "j.sqlite3.outbox")
    recorder = Recorder(lambda: journal, box)
    item = recorder.record(OutageOp(channel=Channel.MYNA, method=AuthMethod.PIN, facility_type=FacilityType.NORMAL, at=T0))
    assert recorder.record(OutageDoneOp(item_id=item, validity=Validity.VALID, at=T0)) is not None
    again = OutageDoneOp(item_id=item, validity=Validity.VALID, at=T0)  # a second desk re-ran it too
    assert recorder.record(again) is None
    assert recorder.waiting == 0  # not left in the outbox to block what comes after
    rejected = (tmp_path / "j.sqlite3.outbox.rejected").read_text(encoding="utf-8")
    assert again.op_id in rejected
    op = ConfirmationOp(record=ConfirmationRecord(
        at=T0, channel=Channel.MYNA, method=AuthMethod.PIN, validity=Validity.VALID, facility_type=FacilityType.NORMAL,
    ))
    assert recorder.record(op) is not None


def test_restore_waits_for_every_desk_to_stop(capsys, sim_base, tmp_path):
    code, _ = _check(capsys, sim_base, "--method", "pin", "--pin", "1234")
    journal = sim_base / "journal.sqlite3"
    backup = tmp_path / "b.sqlite3"
    with Journal(journal, read_only=True) as j:
        j.backup_to(backup)
    running = Journal(journal)  # a desk is open on it
    try:
        assert main(["journal", "restore", "--journal", str(journal), "--from", str(backup)]) == 1
        assert "受付端末が動いています" in capsys.readouterr().err
    finally:
        running.close()
    assert main(["journal", "restore", "--journal", str(journal), "--from", str(backup)]) == 0


def test_an_emptied_journal_is_named_so_even_read_only(tmp_path):
    from desk.journal import JournalDamaged

    path = tmp_path / "j.sqlite3"
    Journal(path).close()
    path.write_bytes(b"")
    with pytest.raises(JournalDamaged, match="0バイト"):
        Journal(path, read_only=True)
