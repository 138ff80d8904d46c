"""Damage is detected, never papered over, and there is a way back: `desk journal check | backup |
restore`, an integrity check whenever a journal is opened, and no silent new journal over an
emptied one."""

from __future__ import annotations

import json
import sqlite3
import stat
from pathlib import Path

import pytest

from desk.cli import main
from desk.journal import Journal, JournalDamaged


def _confirm(capsys, sim: Path, n: int = 2) -> Path:
    for _ in range(n):
        assert main(["check", "--sim-dir", str(sim), "--json", "--card", "adult", "--method", "pin", "--pin-stdin"]) == 0
    capsys.readouterr()
    return sim / "journal.sqlite3"


@pytest.fixture(autouse=True)
def pin_on_stdin(monkeypatch):
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("1234\n" * 10))


def _garble(path: Path) -> None:
    data = bytearray(path.read_bytes())
    for offset in range(4096 + 100, min(len(data), 4096 * 3), 7):  # past the header: pages, not the magic
        data[offset] ^= 0x5A
    path.write_bytes(bytes(data))


def test_an_emptied_journal_stops_the_desk_with_the_way_out(capsys, sim_base):
    journal = _confirm(capsys, sim_base)
    journal.write_bytes(b"")  # truncated to 0 bytes
    code = main(["check", "--sim-dir", str(sim_base), "--json", "--card", "adult", "--method", "pin", "--pin-stdin"])
    err = capsys.readouterr().err
    assert code == 1 and "受付記録が壊れています:" in err and "desk journal restore" in err
    assert journal.stat().st_size == 0  # nothing was written over it


def test_a_garbled_journal_is_refused_when_opened(capsys, sim_base):
    journal = _confirm(capsys, sim_base, 3)
    _garble(journal)
    with pytest.raises(JournalDamaged):
        Journal(journal)
    code = main(["check", "--sim-dir", str(sim_base), "--json", "--card", "adult", "--method", "pin", "--pin-stdin"])
    assert code == 1 and "受付記録" in capsys.readouterr().err


def test_check_backup_and_restore(capsys, sim_base, tmp_path):
    journal = _confirm(capsys, sim_base, 2)
    assert main(["journal", "check", "--journal", str(journal), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["integrity"] == ["ok"] and report["confirmations"] == 2 and report["outbox_waiting"] == 0

    backup = tmp_path / "backups" / "journal-backup.sqlite3"
    live = Journal(journal)  # a desk is running meanwhile: the online backup does not need it stopped
    try:
        assert main(["journal", "backup", "--journal", str(journal), "--to", str(backup)]) == 0
    finally:
        live.close()
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    _confirm(capsys, sim_base, 1)  # one more after the backup
    _garble(journal)
    assert main(["journal", "check", "--journal", str(journal)]) == 1
    assert "受付記録が壊れています:" in capsys.readouterr().err

    assert main(["journal", "restore", "--journal", str(journal), "--from", str(backup)]) == 0
    out = capsys.readouterr().out
    assert "2件" in out and "replaced-" in out
    kept = [p for p in sim_base.glob("journal.sqlite3.replaced-*") if not p.name.endswith(("-wal", "-shm"))]
    assert len(kept) == 1 and kept[0].stat().st_size > 0  # the damaged one is kept, never deleted
    with sqlite3.connect(journal) as conn:
        assert conn.execute("SELECT COUNT(*) FROM confirmations").fetchone() == (2,)
    assert main(["journal", "check", "--journal", str(journal)]) == 0


def test_restore_refuses_a_damaged_backup(capsys, sim_base, tmp_path):
    journal = _confirm(capsys, sim_base, 3)
    backup = tmp_path / "b.sqlite3"
    with Journal(journal, read_only=True) as j:
        j.backup_to(backup)
    _garble(backup)
    before = journal.read_bytes()
    assert main(["journal", "restore", "--journal", str(journal), "--from", str(backup)]) == 1
    assert journal.read_bytes() == before  # untouched
    assert "Traceback" not in capsys.readouterr().err


def test_state_is_private_whatever_the_umask(capsys, tmp_path):
    import os

    sim = tmp_path / "state" / "sim"
    old = os.umask(0)
    try:
        _confirm(capsys, sim, 1)
    finally:
        os.umask(old)
    for path in [tmp_path / "state", *(p for p in (tmp_path / "state").rglob("*"))]:
        mode = stat.S_IMODE(path.stat().st_mode)
        if path.is_dir():
            assert mode == 0o700, (path, oct(mode))
        elif path.suffix != ".der":  # the simulated CA's certificate is public
            assert mode & 0o077 == 0, (path, oct(mode))


def test_the_result_folder_is_tidied_at_start(capsys, sim_base):
    import os
    import time

    from desk.wiring import training_desk

    _confirm(capsys, sim_base, 1)
    res = sim_base / "res"
    fresh = sorted(res.iterdir())
    old = res / "OQS_1_20260101T090000_old.xml"
    old.write_text("<x/>", encoding="utf-8")
    long_ago = time.time() - 100 * 86400
    os.utime(old, (long_ago, long_ago))
    partial = res / ".OQS_1_20261201T090000_x.xml.abc.tmp"  # a crash mid-write: personal data, never a result
    partial.write_text("<half", encoding="utf-8")
    forms = sim_base / "moushitate"
    forms.mkdir()
    old_form = forms / "moushitate-20260101-090000.html"  # a 申立書 saved long ago
    old_form.write_text("<html/>", encoding="utf-8")
    os.utime(old_form, (long_ago, long_ago))
    session, _ = training_desk(None, base_dir=sim_base, camera=None)
    tidied = session.started.tidied
    assert tidied is not None and (tidied.removed_old, tidied.removed_partial) == (2, 1)
    assert "削除しました" in (session.started.notice() or "")
    assert not old_form.exists()
    assert sorted(res.iterdir()) == fresh  # this run's results (93 days by default) are kept


def test_a_journal_made_under_a_wide_umask_is_made_private_when_opened(tmp_path):
    import os

    path = tmp_path / "j.sqlite3"
    Journal(path).close()
    os.chmod(path, 0o644)  # as an older version left it under umask 022
    Journal(path).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
