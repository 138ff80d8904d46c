"""The reception journal: records, outage queue, lock counters, failures that must not half-write —
the same tests on both back ends (SQLite and PostgreSQL, tests/journal_backends.py)."""

from __future__ import annotations

import datetime as dt
import sqlite3

import pytest

from desk.journal import (
    JST,
    SCHEMA_VERSION,
    ConfirmationRecord,
    HistoryKind,
    Journal,
    JournalConflict,
    JournalError,
    OutageStatus,
)
from desk.models import FACE_LOCK_AFTER, AuthMethod, Channel, FacilityType, FailureName, Validity

FP = "a" * 64
FP2 = "b" * 64
T0 = dt.datetime(2026, 11, 30, 9, 0, tzinfo=JST)


def confirmation(**kw) -> ConfirmationRecord:
    base = dict(at=T0, channel=Channel.MYNA, method=AuthMethod.FACE, validity=Validity.VALID, facility_type=FacilityType.NORMAL)
    base.update(kw)
    return ConfirmationRecord(**base)


@pytest.fixture
def journal(journal_backend):
    with journal_backend.open() as j:
        yield j


@pytest.fixture
def sqlite_journal(tmp_path):
    with Journal(tmp_path / "journal.sqlite3", busy_timeout=0.05) as j:
        yield j


def latest_version(backend) -> int:
    if backend.name == "sqlite":
        return SCHEMA_VERSION
    from desk.journal.postgres import PG_SCHEMA_VERSION

    return PG_SCHEMA_VERSION


def test_new_journal_is_versioned(journal, journal_backend):
    assert journal.schema_version == latest_version(journal_backend)
    assert journal.integrity() == ["ok"]


def test_new_sqlite_journal_is_wal(sqlite_journal):
    mode = sqlite3.connect(sqlite_journal.path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_record_and_read_back_a_confirmation(journal):
    rid = journal.record_confirmation(confirmation(cert_fingerprint=FP, method=AuthMethod.PIN))
    [back] = journal.confirmations()
    assert back.id == rid and back.validity is Validity.VALID and back.method is AuthMethod.PIN
    assert back.cert_fingerprint == FP and back.at == T0


def test_failures_are_recorded_with_their_name(journal):
    journal.record_confirmation(confirmation(validity=None, failure=FailureName.PIN_BLOCKED))
    [back] = journal.confirmations()
    assert back.failure is FailureName.PIN_BLOCKED and back.validity is None


def test_exactly_one_outcome_is_required():
    with pytest.raises(ValueError):
        confirmation(validity=None)
    with pytest.raises(ValueError):
        confirmation(failure=FailureName.AUTH_FAILED)


def test_naive_times_are_japan_time_and_months_follow_japan_time(journal):
    # 2026-11-30 23:30 UTC is already December in Japan.
    journal.record_confirmation(confirmation(at=dt.datetime(2026, 11, 30, 23, 30, tzinfo=dt.UTC)))
    journal.record_confirmation(confirmation(at=dt.datetime(2026, 11, 30, 23, 30)))  # naive = JST
    assert journal.month_counts("2026-12")["myna"] == 1
    assert journal.month_counts("2026-11")["myna"] == 1


def test_month_counts_only_answered_confirmations(journal):
    journal.record_confirmation(confirmation())
    journal.record_confirmation(confirmation(validity=Validity.NOT_FOUND))
    journal.record_confirmation(confirmation(channel=Channel.NUMBERS, method=AuthMethod.NONE))
    journal.record_confirmation(confirmation(validity=None, failure=FailureName.AUTH_FAILED))
    assert journal.month_counts("2026-11") == {"myna": 2, "numbers": 1, "outage": 0, "smartphone": 0}


def test_visual_use_needs_a_staff_id_and_is_viewable(journal):
    with pytest.raises(JournalError):
        journal.record_visual_use("  ")
    cid = journal.record_confirmation(confirmation(method=AuthMethod.VISUAL, staff_id="S-017"))
    journal.record_visual_use("S-017", cert_fingerprint=FP, confirmation_id=cid, at=T0)
    [item] = journal.history(kind=HistoryKind.VISUAL_USE)
    assert item.details["staff_id"] == "S-017" and "S-017" in item.summary


def test_outage_queue_enqueue_list_and_complete(journal):
    qid = journal.enqueue_outage(
        channel=Channel.NUMBERS,
        method=AuthMethod.NONE,
        facility_type=FacilityType.NORMAL,
        payload={"insurer_number": "06139999", "number": "3456"},
        at=T0,
    )
    # The failed attempt is journalled as a 障害時 confirmation in the same transaction.
    [attempt] = journal.confirmations()
    assert attempt.channel is Channel.OUTAGE and attempt.failure is FailureName.CENTRAL_DOWN
    [pending] = journal.pending_outages()
    assert pending.id == qid and pending.payload["number"] == "3456" and pending.status is OutageStatus.PENDING

    cid = journal.complete_outage(qid, Validity.VALID, at=T0 + dt.timedelta(hours=1))
    assert journal.pending_outages() == []
    done = journal.outage(qid)
    assert done.status is OutageStatus.DONE and done.result_confirmation_id == cid
    assert done.result_validity is Validity.VALID
    rerun = journal.confirmations()[0]
    assert rerun.rerun_of == qid and rerun.channel is Channel.NUMBERS
    assert journal.month_counts("2026-11")["numbers"] == 1

    with pytest.raises(JournalError):
        journal.complete_outage(qid, Validity.VALID)  # already done
    with pytest.raises(JournalError):
        journal.complete_outage(9999, Validity.VALID)


def test_outage_requires_a_real_channel(journal):
    with pytest.raises(JournalError):
        journal.enqueue_outage(channel=Channel.OUTAGE, method=AuthMethod.PIN, facility_type=FacilityType.NORMAL)


@pytest.mark.parametrize(
    "payload",
    [{"pin": "1234"}, {"PIN": "1234"}, {"query": {"my_number": "123456789012"}}, {"items": [{"visual-password": "x"}]}],
)
def test_outage_payload_never_holds_secrets(journal, journal_backend, payload):
    with pytest.raises(JournalError):
        journal.enqueue_outage(channel=Channel.MYNA, method=AuthMethod.PIN, facility_type=FacilityType.NORMAL, payload=payload)
    assert journal_backend.count("outage_queue") == 0 and journal_backend.count("confirmations") == 0


def test_face_lock_after_ten_consecutive_failures_survives_restart(journal_backend):
    with journal_backend.open() as j:
        for _ in range(FACE_LOCK_AFTER - 1):
            state = j.record_face_failure(FP)
        assert state.consecutive_failures == 9 and not state.locked
    with journal_backend.open() as j:  # restart
        assert j.face_state(FP).consecutive_failures == 9
        assert j.record_face_failure(FP).locked
        assert j.face_state(FP).locked
        assert not j.face_state(FP2).locked  # per card


def test_face_success_resets_but_visual_does_not(journal):
    for _ in range(5):
        journal.record_face_failure(FP)
    journal.record_visual_use("S-001", cert_fingerprint=FP)  # 目視 does not reset the counter
    journal.record_confirmation(confirmation(method=AuthMethod.VISUAL, staff_id="S-001", cert_fingerprint=FP))
    assert journal.face_state(FP).consecutive_failures == 5
    assert journal.record_face_success(FP).consecutive_failures == 0


def test_face_lock_is_lifted_only_by_unlock(journal):
    for _ in range(FACE_LOCK_AFTER):
        journal.record_face_failure(FP)
    assert journal.record_face_success(FP).locked
    assert not journal.unlock_face(FP).locked


def test_visual_password_lock_five_wrong_for_five_minutes(journal):
    code = "1312345678"
    for i in range(4):
        state = journal.record_visual_password_failure(code, now=T0)
        assert not state.locked and state.tries_left == 4 - i
    state = journal.record_visual_password_failure(code, now=T0)
    assert state.locked and state.locked_until == T0 + dt.timedelta(minutes=5)
    assert journal.visual_lock_state(code, now=T0 + dt.timedelta(minutes=4, seconds=59)).locked
    # Wrong tries while locked do not extend the lock.
    journal.record_visual_password_failure(code, now=T0 + dt.timedelta(minutes=1))
    after = journal.visual_lock_state(code, now=T0 + dt.timedelta(minutes=5))
    assert not after.locked and after.tries_left == 5
    # After the lock, counting starts again from zero.
    assert journal.record_visual_password_failure(code, now=T0 + dt.timedelta(minutes=6)).consecutive_failures == 1


def test_visual_password_success_resets(journal):
    code = "1312345678"
    for _ in range(3):
        journal.record_visual_password_failure(code, now=T0)
    assert journal.record_visual_password_success(code, now=T0).tries_left == 5


def test_visual_lock_survives_restart(journal_backend):
    with journal_backend.open() as j:
        for _ in range(5):
            j.record_visual_password_failure("1312345678", now=T0)
    with journal_backend.open() as j:
        assert j.visual_lock_state("1312345678", now=T0 + dt.timedelta(minutes=2)).locked


def test_locked_database_raises_japanese_error_and_writes_nothing(journal, journal_backend):
    with journal_backend.hold_lock():
        with pytest.raises(JournalError) as info:
            journal.record_confirmation(confirmation())
        assert "使用中" in info.value.title and "保存されていません" in info.value.msg
    assert journal_backend.count("confirmations") == 0
    journal.record_confirmation(confirmation())  # usable again once released
    assert journal_backend.count("confirmations") == 1


def test_read_only_journal_refuses_writes_with_japanese_error(journal_backend):
    with journal_backend.open() as j:
        j.record_confirmation(confirmation())
    with journal_backend.open(read_only=True) as ro:
        assert len(ro.history()) == 1
        with pytest.raises(JournalError) as info:
            ro.record_confirmation(confirmation())
        assert "読み取り専用" in info.value.title
    assert journal_backend.count("confirmations") == 1


def test_read_only_missing_journal(journal_backend):
    with pytest.raises(JournalError) as info:
        journal_backend.open_missing()
    assert info.value.title == "受付記録がありません"


def test_failure_inside_a_record_leaves_no_half_record(journal, journal_backend):
    qid = journal.enqueue_outage(channel=Channel.MYNA, method=AuthMethod.PIN, facility_type=FacilityType.NORMAL)
    before = journal_backend.count("confirmations")
    # Make the queue update (the second statement of complete_outage) fail after the insert succeeded.
    journal_backend.refuse_updates("outage_queue")
    with pytest.raises(JournalError):
        journal.complete_outage(qid, Validity.VALID)
    assert journal_backend.count("confirmations") == before
    assert [i.id for i in journal.pending_outages()] == [qid]


def test_not_a_database(tmp_path):  # SQLite: a file anything may overwrite
    path = tmp_path / "j.sqlite3"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(JournalError) as info:
        Journal(path)
    assert info.value.title


def test_newer_schema_is_refused(journal_backend):
    journal_backend.open().close()
    journal_backend.set_schema_version(latest_version(journal_backend) + 1)
    with pytest.raises(JournalError) as info:
        journal_backend.open()
    assert "新しすぎます" in info.value.title


def test_history_latest_first_filtered_and_limited(journal):
    for minute in range(5):
        journal.record_confirmation(confirmation(at=T0 + dt.timedelta(minutes=minute)))
    journal.record_visual_use("S-9", at=T0 + dt.timedelta(minutes=10))
    journal.enqueue_outage(
        channel=Channel.MYNA, method=AuthMethod.PIN, facility_type=FacilityType.NORMAL, at=T0 + dt.timedelta(minutes=20)
    )
    items = journal.history(3)
    assert [i.kind for i in items] == [HistoryKind.OUTAGE, HistoryKind.CONFIRMATION, HistoryKind.VISUAL_USE]
    assert "再照会待ち" in items[0].summary
    confirmations = journal.history(10, kind=HistoryKind.CONFIRMATION)
    assert len(confirmations) == 6 and all(i.kind is HistoryKind.CONFIRMATION for i in confirmations)
    assert confirmations[0].at > confirmations[-1].at


def test_no_secret_columns(journal, journal_backend):
    for column in journal_backend.columns():
        table, name = column.split(".")
        for word in ("pin", "password", "my_number", "mynumber"):
            assert word not in name.split("_") and word not in name, column
        assert "password" not in table or table == "visual_password_failures", column


def test_no_secret_columns_in_sqlite_schema(sqlite_journal):
    journal = sqlite_journal
    conn = sqlite3.connect(journal.path)
    sql = " ".join(r[0] for r in conn.execute("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL")).lower()
    conn.close()
    for word in ("pin", "password", "my_number", "mynumber"):
        assert f" {word} " not in sql and f"{word}_" not in sql.replace("visual_password_failures", "")


def test_an_op_is_applied_once_even_when_replayed(journal):
    from desk.journal_ops import ConfirmationOp, OutageDoneOp

    op = ConfirmationOp(record=confirmation())
    assert journal.apply(op) is not None
    assert journal.apply(op) is None  # a crash after the journal took it, before the outbox forgot it
    assert len(journal.confirmations()) == 1
    qid = journal.enqueue_outage(channel=Channel.MYNA, method=AuthMethod.PIN, facility_type=FacilityType.NORMAL, at=T0)
    assert journal.apply(OutageDoneOp(item_id=qid, validity=Validity.VALID, at=T0)) is not None
    with pytest.raises(JournalConflict):  # another op re-running the same item: refused for good
        journal.apply(OutageDoneOp(item_id=qid, validity=Validity.VALID, at=T0))
    assert len(journal.confirmations()) == 3


def test_a_v4_journal_is_rebuilt_for_phones_keeping_every_row_and_reference(tmp_path):
    """v5 rebuilds the confirmations table (SQLite cannot change a CHECK): rows, ids, the 目視 use
    pointing at its confirmation, and the foreign keys all survive; new rows may name a phone."""
    import sqlite3

    from desk.journal.sqlite import _MIGRATIONS
    from desk.models import Device

    path = tmp_path / "v4.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA foreign_keys = ON")
    for script in _MIGRATIONS[:4]:
        for statement in script.split(";"):
            if statement.strip():
                conn.execute(statement)
    conn.execute("PRAGMA user_version = 4")
    conn.execute(
        "INSERT INTO confirmations (id, at, month, channel, method, validity, facility_type, staff_id)"
        " VALUES (7, '2026-11-30T09:00:00.000000+09:00', '2026-11', 'myna', 'visual', 1, 1, 'S001')"
    )
    conn.execute("INSERT INTO visual_uses (at, staff_id, confirmation_id) VALUES ('2026-11-30T09:00:00.000000+09:00', 'S001', 7)")
    conn.close()
    with Journal(path) as journal:
        assert journal.schema_version == 5
        (old,) = journal.confirmations()
        assert old.id == 7 and old.device is Device.CARD and old.staff_id == "S001"
        assert journal.integrity() == ["ok"]
        new_id = journal.record_confirmation(ConfirmationRecord(
            at=old.at, channel=Channel.MYNA, method=AuthMethod.DEVICE, validity=Validity.VALID,
            facility_type=FacilityType.NORMAL, device=Device.IPHONE,
        ))
        assert journal.confirmations()[0].device is Device.IPHONE and new_id == 8
    check = sqlite3.connect(path)
    assert check.execute("PRAGMA foreign_key_check").fetchall() == []
    assert check.execute("SELECT confirmation_id FROM visual_uses").fetchall() == [(7,)]


def test_a_phone_confirmation_keeps_its_device_on_every_back_end(journal):
    from desk.models import Device

    for device, method in ((Device.ANDROID, AuthMethod.PIN), (Device.IPHONE, AuthMethod.DEVICE)):
        journal.record_confirmation(ConfirmationRecord(
            at=dt.datetime(2026, 12, 1, 9, tzinfo=JST), channel=Channel.MYNA, method=method, validity=Validity.VALID,
            facility_type=FacilityType.NORMAL, cert_fingerprint="b" * 64, device=device,
        ))
    assert [(r.device, r.method) for r in journal.confirmations()] == [
        (Device.IPHONE, AuthMethod.DEVICE), (Device.ANDROID, AuthMethod.PIN),
    ]
    assert journal.month_counts("2026-12")["myna"] == 2  # a phone is マイナ保険証 usage
