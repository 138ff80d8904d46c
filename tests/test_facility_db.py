"""The facility journal on PostgreSQL: several desks on one database, a server that goes away
mid-confirmation, `desk journal migrate`, and the database password's handling. Runs against the
throwaway cluster of tests/pg_cluster.py (fails as root/CI when it cannot run, skips otherwise)."""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import stat
import threading
from pathlib import Path

import pytest

from desk.cli import main
from desk.facility import load_config, save_config
from desk.journal import ConfirmationRecord, HistoryKind, Journal, JournalConflict, JournalError, JournalUnavailable
from desk.journal.migrate import migrate_sqlite
from desk.journal.postgres import PostgresJournal
from desk.journal.settings import PASSWORD_ENV, SqliteSettings, read_password
from desk.journal_ops import ConfirmationOp, FaceResultOp, VisualUseOp
from desk.models import FACE_LOCK_AFTER, AuthMethod, Channel, FacilityType, Validity
from desk.outbox import Outbox
from desk.wiring import SIM_VISUAL_PASSWORD, training_config_path, training_desk

pytestmark = pytest.mark.postgresql

JST = dt.timezone(dt.timedelta(hours=9))
T0 = dt.datetime(2026, 12, 1, 9, 0, tzinfo=JST)
FP = "c" * 64
CODE = "1312345678"


def record(minute: int = 0, **kw) -> ConfirmationRecord:
    base = dict(at=T0 + dt.timedelta(minutes=minute), channel=Channel.MYNA, method=AuthMethod.PIN,
                validity=Validity.VALID, facility_type=FacilityType.NORMAL)
    base.update(kw)
    return ConfirmationRecord(**base)


@pytest.fixture
def settings(pg_cluster, pg_database, tmp_path):
    return pg_cluster.settings(pg_database, password_file=pg_cluster.password_file(tmp_path))


def run_together(*jobs) -> None:
    """Start every job at once (a barrier), each on its own thread, and wait for all."""
    barrier = threading.Barrier(len(jobs))
    errors: list[BaseException] = []

    def run(job):
        try:
            barrier.wait()
            job()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors


# -- several desks, one database --------------------------------------------------------------


def test_two_desks_writing_at_once_count_for_the_facility(settings):
    desk_a, desk_b = PostgresJournal(settings), PostgresJournal(settings)
    try:
        def confirm(desk, offset):
            for i in range(20):
                desk.apply(ConfirmationOp(record=record(offset + i)))

        def fail_face(desk):
            for _ in range(FACE_LOCK_AFTER // 2 + 3):  # 8 + 8 = 16 failures on one card
                desk.apply(FaceResultOp(cert_fingerprint=FP, accepted=False, at=T0))

        run_together(lambda: confirm(desk_a, 0), lambda: confirm(desk_b, 100), lambda: fail_face(desk_a), lambda: fail_face(desk_b))
        # every desk sees the facility's figures: no update lost between them
        for desk in (desk_a, desk_b):
            assert desk.month_counts("2026-12")["myna"] == 40
            state = desk.face_state(FP)
            assert state.consecutive_failures == 2 * (FACE_LOCK_AFTER // 2 + 3) and state.locked
    finally:
        desk_a.close()
        desk_b.close()


def test_the_visual_password_lockout_is_the_facilitys(settings):
    desk_a, desk_b = PostgresJournal(settings), PostgresJournal(settings)
    try:
        results = []
        run_together(*[lambda d=d: results.append(d.record_visual_password_failure(CODE, now=T0))
                       for d in (desk_a, desk_b, desk_a, desk_b, desk_a)])
        # five wrong tries at two desks, at once: counted 1..5, never twice the same
        assert sorted(r.consecutive_failures for r in results) == [1, 2, 3, 4, 5]
        assert desk_b.visual_lock_state(CODE, now=T0 + dt.timedelta(minutes=1)).locked
        assert desk_a.record_visual_password_failure(CODE, now=T0).locked  # locked for every desk
    finally:
        desk_a.close()
        desk_b.close()


def test_an_op_replayed_by_two_desks_at_once_is_applied_once(settings):
    desks = [PostgresJournal(settings) for _ in range(4)]
    try:
        op = VisualUseOp(staff_id="S1", at=T0)
        results = []
        run_together(*[lambda d=d: results.append(d.apply(op)) for d in desks])
        assert sum(r is not None for r in results) == 1
        assert len(desks[0].history(kind=None)) == 1
    finally:
        for d in desks:
            d.close()


def test_an_outage_item_is_completed_by_one_desk_only(settings):
    desk_a, desk_b = PostgresJournal(settings), PostgresJournal(settings)
    try:
        item = desk_a.enqueue_outage(channel=Channel.MYNA, method=AuthMethod.PIN, facility_type=FacilityType.NORMAL, at=T0)
        assert [i.id for i in desk_b.pending_outages()] == [item]  # queued at one desk, seen at the other
        outcomes = []

        def complete(desk):
            try:
                outcomes.append(desk.complete_outage(item, Validity.VALID, at=T0))
            except JournalConflict:
                outcomes.append("conflict")

        run_together(lambda: complete(desk_a), lambda: complete(desk_b))
        assert sorted(map(str, outcomes)).count("conflict") == 1
        assert desk_a.pending_outages() == [] and desk_a.outage(item).status.value == "done"
    finally:
        desk_a.close()
        desk_b.close()


# -- the server goes away mid-confirmation --------------------------------------------------------


def facility_on_database(sim_base: Path, settings, desk: str) -> Path:
    """The training desk's own facility config (tests/…/sim/facility.json) pointed at the database."""
    from desk.wiring import _training_facility

    path = training_config_path(sim_base)
    config = _training_facility(sim_base)
    save_config(config.model_copy(update={"journal": settings.model_copy(update={"desk_dir": sim_base / desk})}), path)
    return path


def test_a_database_that_goes_away_mid_confirmation_loses_nothing(pg_cluster, settings, sim_base):
    from desk.flow import State

    facility_on_database(sim_base, settings, "desk-a")
    session, training = training_desk("adult", base_dir=sim_base, camera=None)
    try:
        assert session.confirm_unattended(AuthMethod.PIN, pin="1234").code == 1
        assert session.log.record_place == "journal"
        training.remove()
        session.next_patient()
        training.place("adult")  # the card is read while the server still runs …
        pg_cluster.stop()  # … and the server goes away before the confirmation is recorded
        try:
            outcome = session.confirm_unattended(AuthMethod.PIN, pin="1234")
            assert outcome.code == 1 and session.log.record_place == "outbox"
            assert isinstance(session.recorder.error, JournalUnavailable) and "接続" in session.recorder.error.title
            box = session.ports.outbox.path
            assert box.parent == sim_base / "desk-a" and stat.S_IMODE(box.stat().st_mode) == 0o600
            # the next patient: the card is read and PIN still works; 目視 waits for the records
            training.remove()
            session.next_patient()
            training.place("adult")
            visual = session.confirm_unattended(AuthMethod.VISUAL, staff_id="S1", visual_password=SIM_VISUAL_PASSWORD)
            assert session.reception.state is State.VISUAL and "記録" in session.reception.message and visual.code is None
        finally:
            pg_cluster.start()
        training.remove()
        session.next_patient()
        training.place("adult")
        session.confirm_unattended(AuthMethod.PIN, pin="1234")  # the desk reconnects and writes what waited first
        assert session.recorder.waiting == 0 and not box.exists()
        with PostgresJournal(settings) as facility:
            kept = facility.confirmations()
            # the three PIN confirmations, and the 目視 attempt that stopped for want of records
            assert [r.validity for r in kept].count(Validity.VALID) == 3 and len(kept) == 4
    finally:
        session.ports.journal.close()


def test_a_read_after_the_server_restarted_reconnects(pg_cluster, settings):
    with PostgresJournal(settings) as desk:
        desk.record_face_failure(FP)
        pg_cluster.stop()
        pg_cluster.start()  # the desk's connection is gone, unnoticed until used
        assert desk.face_state(FP).consecutive_failures == 1
        assert desk.record_face_failure(FP).consecutive_failures == 2


def test_a_desk_restarted_after_the_outage_writes_what_waited(pg_cluster, settings, sim_base, capsys):
    facility_on_database(sim_base, settings, "desk-a")
    session, training = training_desk("adult", base_dir=sim_base, camera=None)
    pg_cluster.stop()
    try:
        session.confirm_unattended(AuthMethod.PIN, pin="1234")
        assert session.log.record_place == "outbox"
        session.ports.journal.close()
        # a desk cannot start while its database is away: it says so, no traceback
        code = main(["check", "--sim-dir", str(sim_base), "--json", "--card", "adult", "--method", "pin", "--pin", "1234"])
        err = capsys.readouterr().err
        assert code == 1 and "受付記録を保存できません（データベースに接続できません）" in err and "Traceback" not in err
    finally:
        pg_cluster.start()
    code = main(["check", "--sim-dir", str(sim_base), "--json", "--card", "adult", "--method", "pin", "--pin", "1234"])
    captured = capsys.readouterr()
    assert code == 0 and json.loads(captured.out)["record"] == "journal"
    assert "一時保存していた書き込み" in captured.err and "件を受付記録に反映しました" in captured.err
    with PostgresJournal(settings) as facility:
        assert len(facility.confirmations()) == 2


def test_two_training_desks_share_the_statistics(pg_cluster, settings, sim_base, tmp_path, capsys):
    other = tmp_path / "sim-b"
    from tests.conftest import new_sim_dir

    new_sim_dir(other)
    for base, desk in ((sim_base, "desk-a"), (other, "desk-b")):
        facility_on_database(base, settings, desk)
        assert main(["check", "--sim-dir", str(base), "--json", "--card", "adult", "--method", "pin", "--pin", "1234"]) == 0
    capsys.readouterr()
    config = training_config_path(sim_base)
    assert main(["stats", "--month", "2026-12", "--config", str(config), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["myna_count"] == 2  # both desks' confirmations
    assert main(["journal", "check", "--config", str(config), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["confirmations"] == 2 and report["integrity"] == ["ok"] and report["outbox_waiting"] == 0
    assert main(["journal", "backup", "--config", str(config), "--to", str(tmp_path / "b.sqlite3")]) == 2
    assert "pg_dump" in capsys.readouterr().err


# -- desk journal migrate ---------------------------------------------------------------------------


def sqlite_journal_with_everything(path: Path) -> None:
    with Journal(path) as j:
        for i in range(5):
            j.record_confirmation(record(i, cert_fingerprint=FP))
        j.record_confirmation(record(5, validity=None, failure="auth_failed"))
        done = j.enqueue_outage(channel=Channel.MYNA, method=AuthMethod.PIN, facility_type=FacilityType.NORMAL,
                                payload={"confirmation_date": "2026-12-01"}, at=T0)
        j.enqueue_outage(channel=Channel.NUMBERS, method=AuthMethod.NONE, facility_type=FacilityType.NORMAL,
                         payload={"number": "3456"}, at=T0 + dt.timedelta(minutes=1))
        j.complete_outage(done, Validity.VALID, at=T0 + dt.timedelta(hours=1))
        use = VisualUseOp(staff_id="S-017", cert_fingerprint=FP, at=T0)
        j.apply(use)
        j.apply(ConfirmationOp(record=record(9, method=AuthMethod.VISUAL, staff_id="S-017"), visual_use_op=use.op_id))
        for _ in range(3):
            j.record_face_failure(FP, at=T0)
        j.record_visual_password_failure(CODE, now=T0)


def facility_rows(settings) -> dict[str, list]:
    with PostgresJournal(settings) as db:
        return {
            "confirmations": sorted(((r.at, r.method.value, r.validity, r.failure, r.rerun_of is not None)
                                     for r in db.confirmations()), key=str),
            "pending": [(i.channel.value, i.payload) for i in db.pending_outages()],
            "visual": [(h.details["staff_id"], h.details["confirmation_id"] is not None) for h in db.history(kind=HistoryKind.VISUAL_USE)],
            "face": db.face_state(FP).consecutive_failures,
            "visual_lock": db.visual_lock_state(CODE, now=T0).consecutive_failures,
        }


def test_migrate_copies_everything_once_and_again_changes_nothing(settings, tmp_path):
    source = tmp_path / "desk.sqlite3"
    sqlite_journal_with_everything(source)
    first = migrate_sqlite(source, settings)
    # 6 confirmations, 2 障害時 attempts, 1 re-run, 1 目視
    assert first.copied["confirmations"] == 10 and first.copied["outage_queue"] == 2 and first.copied["visual_uses"] == 1
    rows = facility_rows(settings)
    assert len(rows["confirmations"]) == 10 and sum(r[4] for r in rows["confirmations"]) == 1  # the re-run, linked
    assert rows["pending"] == [("numbers", {"number": "3456"})]
    assert rows["visual"] == [("S-017", True)] and rows["face"] == 3 and rows["visual_lock"] == 1
    again = migrate_sqlite(source, settings)
    assert sum(again.copied.values()) == 0 and again.present["confirmations"] == 10
    assert facility_rows(settings) == rows
    # the desk went on on SQLite meanwhile: the next run brings only what is new, and the re-run
    with Journal(source) as j:
        [pending] = j.pending_outages()
        j.complete_outage(pending.id, Validity.VALID, at=T0 + dt.timedelta(hours=2))
        j.record_confirmation(record(30))
    third = migrate_sqlite(source, settings)
    assert third.copied["confirmations"] == 2 and third.present["confirmations"] == 10
    rows = facility_rows(settings)
    assert len(rows["confirmations"]) == 12 and rows["pending"] == []
    # an op the SQLite journal applied is not applied again by the database
    with PostgresJournal(settings) as db:
        assert db.apply(VisualUseOp(staff_id="S-017", at=T0, op_id=_visual_op(source))) is None


def _visual_op(path: Path) -> str:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT op_id FROM visual_uses").fetchone()[0]


def test_a_migration_killed_halfway_completes_when_run_again(settings, tmp_path):
    source = tmp_path / "desk.sqlite3"
    sqlite_journal_with_everything(source)
    batches = []

    def killed(table: str) -> None:
        batches.append(table)
        if table == "confirmations" and batches.count("confirmations") == 2:
            raise KeyboardInterrupt  # the process is stopped after two batches of confirmations

    with pytest.raises(KeyboardInterrupt):
        migrate_sqlite(source, settings, batch=2, after_batch=killed)
    with PostgresJournal(settings) as db:
        assert len(db.confirmations()) == 4  # whole batches only
    report = migrate_sqlite(source, settings, batch=2)
    assert report.present["confirmations"] == 4 and report.copied["confirmations"] == 6
    assert len(facility_rows(settings)["confirmations"]) == 10


def migrate_config(tmp_path: Path, settings) -> Path:
    from desk.facility import FacilityConfig

    config = FacilityConfig(medical_institution_code=CODE, name="本町クリニック", category="medical_clinic",
                            prefecture="東京都", journal=settings)
    return save_config(config, tmp_path / "facility.json")


def test_migrate_command_prints_counts_and_refuses_bad_input(settings, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    source = tmp_path / "desk.sqlite3"
    sqlite_journal_with_everything(source)
    config = migrate_config(tmp_path, settings)
    assert main(["journal", "migrate", "--from", str(source), "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "資格確認: 今回 10件（移し済み 0件）" in out
    assert main(["journal", "migrate", "--from", str(source), "--config", str(config)]) == 0
    assert "資格確認: 今回 0件（移し済み 10件）" in capsys.readouterr().out
    # a file that is not there, a config that is not a database: what was typed (2)
    assert main(["journal", "migrate", "--from", str(tmp_path / "none.sqlite3"), "--config", str(config)]) == 2
    sqlite_config = tmp_path / "sqlite.json"
    save_config(load_config(config).model_copy(update={"journal": SqliteSettings(path=source)}), sqlite_config)
    assert main(["journal", "migrate", "--from", str(source), "--config", str(sqlite_config)]) == 2
    # the server's faults: a wrong password, a port nobody listens on (1, said in Japanese)
    wrong = tmp_path / "wrong-password"
    wrong.write_text("not-the-password\n")
    wrong.chmod(0o600)
    bad = migrate_config(tmp_path / "bad", settings.model_copy(update={"password_file": wrong}))
    assert main(["journal", "migrate", "--from", str(source), "--config", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "受付記録のデータベースにログインできません" in err and "not-the-password" not in err
    dead = migrate_config(tmp_path / "dead", settings.model_copy(update={"port": _closed_port()}))
    assert main(["journal", "migrate", "--from", str(source), "--config", str(dead)]) == 1
    err = capsys.readouterr().err
    assert "データベースに接続できません" in err and "Traceback" not in err
    garbled = tmp_path / "garbled.sqlite3"
    garbled.write_bytes(b"not a journal" * 500)
    assert main(["journal", "migrate", "--from", str(garbled), "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert "受付記録が壊れています" in err and "Traceback" not in err
    # writes still waiting in the desk's outbox belong in its journal first
    Outbox(Path(str(source) + ".outbox")).append(VisualUseOp(staff_id="S2", at=T0))
    assert main(["journal", "migrate", "--from", str(source), "--config", str(config)]) == 1
    assert "一時保存中の記録があります" in capsys.readouterr().err


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- the database password ----------------------------------------------------------------------------


def test_a_password_file_others_can_read_is_refused(settings, tmp_path, monkeypatch):
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    path = settings.password_file
    os.chmod(path, 0o644)
    with pytest.raises(JournalError) as info:
        PostgresJournal(settings)
    assert info.value.title == "パスワードファイルが保護されていません" and "chmod 600" in info.value.msg
    os.chmod(path, 0o600)
    PostgresJournal(settings).close()
    # the environment, when set, is used instead of a file
    monkeypatch.setenv(PASSWORD_ENV, "from-the-environment")
    assert read_password(settings) == "from-the-environment"


def test_facility_init_takes_no_password_and_refuses_an_open_password_file(tmp_path, capsys):
    open_file = tmp_path / "pw"
    open_file.write_text("secret-password\n")
    open_file.chmod(0o640)
    base = ["facility", "init", "--config", str(tmp_path / "f.json"), "--code", CODE, "--name", "本町クリニック",
            "--category", "medical_clinic", "--prefecture", "東京都", "--db-name", "madoguchi", "--db-user", "desk"]
    assert main([*base, "--db-password-file", str(open_file)]) == 2
    assert "所有者以外も読めます" in capsys.readouterr().err
    # there is no password option, and no abbreviation takes it for --db-password-file
    assert main([*base, "--db-password", "secret-password"]) == 2
    assert "--db-password" in capsys.readouterr().err and not (tmp_path / "f.json").exists()
    open_file.chmod(0o600)
    assert main([*base, "--db-password-file", str(open_file), "--db-host", "db.clinic.lan"]) == 0
    saved = (tmp_path / "f.json").read_text()
    assert "secret-password" not in saved and json.loads(saved)["journal"]["kind"] == "postgresql"
    assert stat.S_IMODE((tmp_path / "f.json").stat().st_mode) == 0o600
    assert main(["facility", "show", "--config", str(tmp_path / "f.json")]) == 0
    out = capsys.readouterr().out
    assert "PostgreSQL db.clinic.lan:5432/madoguchi" in out and "secret-password" not in out
    assert main([*base[:-4], "--journal", str(tmp_path / "j.sqlite3"), "--db-name", "x", "--db-user", "desk", "--force"]) == 2


def test_the_password_never_reaches_the_database(pg_cluster, settings, sim_base):
    facility_on_database(sim_base, settings, "desk-a")
    session, _ = training_desk("adult", base_dir=sim_base, camera=None)
    session.confirm_unattended(AuthMethod.VISUAL, staff_id="S1", visual_password=SIM_VISUAL_PASSWORD)
    session.ports.journal.close()
    with pg_cluster.admin(settings.dbname) as conn:
        tables = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        dump = " ".join(str(conn.execute(f"SELECT json_agg(t) FROM {t} t").fetchone()[0]) for t in tables)
    assert "S1" in dump  # the staff ID is there …
    for secret in (pg_cluster.password, SIM_VISUAL_PASSWORD):
        assert secret not in dump  # … the database password and the 目視 password never
