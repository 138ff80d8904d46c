"""The SQLite back end of the journal (desk/journal/store.py): one file per desk, the default
and the training journal.

WAL mode so the TUI can read history while a confirmation is written; every public write is one
IMMEDIATE transaction, so a record is either all there or not there at all. The schema version is
SQLite's `user_version`; opening a journal migrates it forward and refuses one written by a newer
version. The records and the rules both back ends share are in desk/journal/records.py.

Also kept here because they must survive a restart:
- the face failure counter per card: 10 consecutive failures lock face auth for that card (unlocked
  only at the municipality); a face success resets it; 目視 and PIN do not (eligibility-anchors §2);
- the 目視 password failure counter per facility: 5 wrong in a row lock 目視 for 5 minutes.
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import threading

try:  # POSIX; elsewhere restores rely on the desks being stopped
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from desk.atomicfile import private_dir
from desk.journal.records import (
    MONTH_COUNTS_SELECT,
    VISUAL_LOCK_DURATION,
    VISUAL_LOCK_THRESHOLD,
    ConfirmationRecord,
    FaceAuthState,
    HistoryItem,
    HistoryKind,
    JournalConflict,
    JournalDamaged,
    JournalError,
    OutageItem,
    OutageStatus,
    VisualLockState,
    confirmation_from_row,
    device_of_payload,
    history,
    month_counts_from,
    outage_from_row,
    payload_json,
    to_jst,
    visual_state,
)
from desk.journal.store import Applicable
from desk.models import AuthMethod, Channel, FacilityType, FailureName, Validity, face_locked

__all__ = ["SCHEMA_VERSION", "Journal", "copy_database", "exclusive_presence"]

SCHEMA_VERSION = 5

_WAY_OUT = (
    "受付を止めずに続けるには、管理者が desk journal check で状態を確かめ、desk journal restore --from "
    "バックアップ で戻してください（今のファイルは消さずに残します）。"
)


_SCHEMA_V1 = """
CREATE TABLE outage_queue (
    id INTEGER PRIMARY KEY,
    enqueued_at TEXT NOT NULL,
    channel TEXT NOT NULL CHECK (channel IN ('myna', 'numbers')),
    method TEXT NOT NULL,
    facility_type INTEGER NOT NULL CHECK (facility_type IN (1, 2, 3)),
    cert_fingerprint TEXT,
    payload TEXT NOT NULL DEFAULT '{}',
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done')),
    done_at TEXT,
    result_confirmation_id INTEGER
);
CREATE TABLE confirmations (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    month TEXT NOT NULL,
    channel TEXT NOT NULL CHECK (channel IN ('myna', 'numbers', 'outage')),
    method TEXT NOT NULL CHECK (method IN ('face', 'pin', 'visual', 'none')),
    validity INTEGER CHECK (validity BETWEEN 1 AND 5),
    failure TEXT,
    facility_type INTEGER NOT NULL CHECK (facility_type IN (1, 2, 3)),
    cert_fingerprint TEXT,
    staff_id TEXT,
    rerun_of INTEGER REFERENCES outage_queue(id),
    CHECK ((validity IS NULL) <> (failure IS NULL))
);
CREATE INDEX confirmations_by_month ON confirmations (month, channel);
CREATE INDEX confirmations_by_time ON confirmations (at);
CREATE TABLE visual_uses (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    staff_id TEXT NOT NULL,
    cert_fingerprint TEXT,
    confirmation_id INTEGER REFERENCES confirmations(id)
);
CREATE INDEX visual_uses_by_time ON visual_uses (at);
CREATE INDEX outage_by_status ON outage_queue (status, id);
CREATE TABLE face_failures (
    cert_fingerprint TEXT PRIMARY KEY,
    consecutive INTEGER NOT NULL,
    locked_at TEXT,
    updated_at TEXT NOT NULL
);
CREATE TABLE visual_password_failures (
    facility_code TEXT PRIMARY KEY,
    consecutive INTEGER NOT NULL,
    locked_until TEXT,
    updated_at TEXT NOT NULL
);
"""

# Index = the version a script migrates *to*, minus one.
# v2: a confirmation answered for a real card in demo mode (the simulated central system) is kept
# apart: it confirmed nothing and never counts in the statistics.
_SCHEMA_V2 = "ALTER TABLE confirmations ADD COLUMN demo INTEGER NOT NULL DEFAULT 0 CHECK (demo IN (0, 1))"
# v3: each write that came through the outbox is applied once (its op id is kept with it), and a
# 目視 use names the confirmation it led to.
_SCHEMA_V3 = """
CREATE TABLE applied_ops (op_id TEXT PRIMARY KEY, applied_at TEXT NOT NULL);
ALTER TABLE visual_uses ADD COLUMN op_id TEXT;
CREATE UNIQUE INDEX visual_uses_by_op ON visual_uses (op_id) WHERE op_id IS NOT NULL
"""
# v4: a confirmation names its result files, and a result the folder has not received yet waits
# here with the confirmation (same transaction) until its files are written: one unit.
_SCHEMA_V4 = """
ALTER TABLE confirmations ADD COLUMN result_stem TEXT;
CREATE TABLE pending_exports (stem TEXT PRIMARY KEY, reply TEXT NOT NULL, queued_at TEXT NOT NULL)
"""
# v5: a confirmation says what was held over the reader (card, Android, iPhone), and an iPhone's
# own Face ID / Touch ID is a method of its own ('device'). SQLite cannot change a CHECK, so the
# table is rebuilt (SQLite's documented procedure: foreign keys off around it, checked before commit).
_SCHEMA_V5 = """
CREATE TABLE confirmations_v5 (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    month TEXT NOT NULL,
    channel TEXT NOT NULL CHECK (channel IN ('myna', 'numbers', 'outage')),
    method TEXT NOT NULL CHECK (method IN ('face', 'pin', 'visual', 'none', 'device')),
    validity INTEGER CHECK (validity BETWEEN 1 AND 5),
    failure TEXT,
    facility_type INTEGER NOT NULL CHECK (facility_type IN (1, 2, 3)),
    cert_fingerprint TEXT,
    staff_id TEXT,
    rerun_of INTEGER REFERENCES outage_queue(id),
    demo INTEGER NOT NULL DEFAULT 0 CHECK (demo IN (0, 1)),
    result_stem TEXT,
    device TEXT NOT NULL DEFAULT 'card' CHECK (device IN ('card', 'android', 'iphone')),
    CHECK ((validity IS NULL) <> (failure IS NULL))
);
INSERT INTO confirmations_v5 (id, at, month, channel, method, validity, failure, facility_type, cert_fingerprint,
    staff_id, rerun_of, demo, result_stem)
    SELECT id, at, month, channel, method, validity, failure, facility_type, cert_fingerprint, staff_id, rerun_of,
    demo, result_stem FROM confirmations;
DROP TABLE confirmations;
ALTER TABLE confirmations_v5 RENAME TO confirmations;
CREATE INDEX confirmations_by_month ON confirmations (month, channel);
CREATE INDEX confirmations_by_time ON confirmations (at)
"""
_MIGRATIONS: tuple[str, ...] = (_SCHEMA_V1, _SCHEMA_V2, _SCHEMA_V3, _SCHEMA_V4, _SCHEMA_V5)
_REBUILDS_FROM = 5  # migrating to this version or later rebuilds a table: foreign keys off meanwhile
assert len(_MIGRATIONS) == SCHEMA_VERSION


def _stamp(at: dt.datetime) -> str:
    return at.isoformat(timespec="microseconds")


def _parse(text: str | None) -> dt.datetime | None:
    return None if text is None else dt.datetime.fromisoformat(text)


def _translate(exc: sqlite3.Error, path: Path) -> JournalError:
    text = str(exc).lower()
    if "locked" in text or "busy" in text:
        return JournalError(
            f"受付記録（{path}）が他のプログラムに使用中です。しばらく待ってからやり直してください。"
            "今回の記録は保存されていません。",
            "受付記録を保存できません（使用中）",
        )
    if "readonly" in text or "read-only" in text or "read only" in text:
        return JournalError(
            f"受付記録（{path}）に書き込めません（読み取り専用）。ファイルとフォルダの権限を確認してください。"
            "今回の記録は保存されていません。",
            "受付記録を保存できません（読み取り専用）",
        )
    if "unable to open" in text:
        return JournalError(
            f"受付記録（{path}）を開けません。保存先のフォルダと権限を確認してください。",
            "受付記録を開けません",
        )
    if "not a database" in text or "malformed" in text:
        return JournalDamaged(f"受付記録（{path}）が壊れているか、データベースではありません。" + _WAY_OUT)
    return JournalError(f"受付記録（{path}）の処理に失敗しました：{exc}。今回の記録は保存されていません。")


def copy_database(source: sqlite3.Connection, target: Path) -> Path:
    """A checked copy of `source` (SQLite's online backup, any schema version), private (0600),
    made beside `target` and renamed into place only once complete and sound."""
    private_dir(target.parent)
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    try:
        dest = sqlite3.connect(partial)
        try:
            source.backup(dest)
            result = [str(r[0]) for r in dest.execute("PRAGMA integrity_check").fetchall()]
        finally:
            dest.close()
        if result != ["ok"]:
            raise JournalDamaged(f"コピーの整合性チェックで異常が見つかりました（{'; '.join(result[:3])}）。")
        os.replace(partial, target)
    except sqlite3.Error as exc:
        raise _translate(exc, target) from exc
    finally:
        partial.unlink(missing_ok=True)
    return target


def _migrate_from(conn: sqlite3.Connection, version: int) -> None:
    """Bring a journal at `version` to SCHEMA_VERSION, inside the caller's transaction."""
    for target in range(version + 1, SCHEMA_VERSION + 1):
        for statement in _MIGRATIONS[target - 1].split(";"):
            if statement.strip():
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {target}")


def _create(path: Path) -> None:
    """A new journal appears complete or not at all: made aside (0600: SQLite would follow the
    umask, and -wal/-shm copy the file's mode), then linked into place, so a 0-byte journal is
    never one that is merely new. If another desk made it meanwhile, theirs is used."""
    staged = path.with_name(f".{path.name}.new-{os.getpid()}")
    staged.unlink(missing_ok=True)
    os.close(os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    try:
        conn = sqlite3.connect(staged, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            _migrate_from(conn, 0)
            conn.execute("COMMIT")
        finally:
            conn.close()
        try:
            os.link(staged, path)
        except FileExistsError:
            pass
    finally:
        staged.unlink(missing_ok=True)


def _make_private(path: Path) -> None:
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            if file.stat().st_mode & 0o077:
                os.chmod(file, 0o600)
        except FileNotFoundError:
            continue


def _hold_presence(path: Path) -> int | None:
    """A shared lock a desk holds while its journal is open: `desk journal restore` takes it
    exclusively, so it never swaps the file under a running desk."""
    if fcntl is None:  # pragma: no cover - Windows
        return None
    fd = os.open(path.with_name(path.name + ".desks"), os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_SH)
    return fd


def exclusive_presence(path: Path) -> int | None:
    """The presence lock held exclusively (no desk has the journal open), or None when a desk has.
    The caller closes the descriptor it gets."""
    if fcntl is None:  # pragma: no cover - Windows
        return -1
    private_dir(path.parent)
    fd = os.open(path.with_name(path.name + ".desks"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


class Journal:
    """The reception journal. Thread-safe: the TUI's workers may share one instance."""

    def __init__(self, path: str | os.PathLike[str], *, read_only: bool = False, busy_timeout: float = 5.0) -> None:
        self.path = Path(path)
        self.read_only = read_only
        self._lock = threading.RLock()
        self._depth = 0  # nested _write() calls join the transaction already open
        self._presence: int | None = None
        try:
            if read_only:
                if not self.path.exists():
                    raise JournalError(f"受付記録（{self.path}）がありません。", "受付記録がありません")
                self._refuse_if_emptied()
                uri = self.path.resolve().as_uri() + "?mode=ro"
                self._conn = sqlite3.connect(
                    uri, uri=True, timeout=busy_timeout, isolation_level=None, check_same_thread=False
                )
            else:
                private_dir(self.path.parent)
                if self.path.exists():
                    self._refuse_if_emptied()
                    _make_private(self.path)  # one created by an older version under a wide umask
                else:
                    _create(self.path)
                self._presence = _hold_presence(self.path)
                self._conn = sqlite3.connect(
                    self.path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
                )
        except sqlite3.Error as exc:
            raise _translate(exc, self.path) from exc
        except OSError as exc:
            raise JournalError(
                f"受付記録の保存先（{self.path.parent}）を作れません：{exc.strerror or exc}", "受付記録を開けません"
            ) from exc
        self._conn.row_factory = sqlite3.Row
        try:
            self._conn.execute("PRAGMA foreign_keys = ON")
            if not read_only:
                self._conn.execute("PRAGMA journal_mode = WAL")
                self._conn.execute("PRAGMA synchronous = FULL")  # a record reported saved survives power loss
            self._check_integrity()
            self._migrate()
        except sqlite3.Error as exc:
            self._conn.close()
            raise _translate(exc, self.path) from exc
        except JournalError:
            self._conn.close()
            raise

    def _refuse_if_emptied(self) -> None:
        """A journal file of 0 bytes with nothing in its WAL once held records (a new one is written
        the moment it is created): never silently start a new one over it."""
        wal = self.path.with_name(self.path.name + "-wal")
        if self.path.stat().st_size == 0 and (not wal.exists() or wal.stat().st_size == 0):
            raise JournalDamaged(f"受付記録（{self.path}）が空（0バイト）になっています。これまでの記録が失われた可能性があります。" + _WAY_OUT)

    def _check_integrity(self) -> None:
        """SQLite's quick check when a journal is opened: a damaged page stops the desk."""
        rows = [str(r[0]) for r in self._conn.execute("PRAGMA quick_check").fetchall()]
        if rows != ["ok"]:
            raise JournalDamaged(f"受付記録（{self.path}）の整合性チェックで異常が見つかりました（{'; '.join(rows[:3])}）。" + _WAY_OUT)

    def integrity(self) -> list[str]:
        """SQLite's full integrity check: ["ok"] when the journal is sound."""
        with self._lock:
            return [str(r[0]) for r in self._conn.execute("PRAGMA integrity_check").fetchall()]

    def backup_to(self, target: Path) -> Path:
        """A consistent copy while desks keep writing (SQLite's online backup), private (0600), made
        beside `target` and renamed into place only once complete and checked."""
        with self._lock:
            return copy_database(self._conn, Path(target))

    # -- lifecycle -----------------------------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            self._conn.close()
            if self._presence is not None:
                os.close(self._presence)  # releases this desk's share of the presence lock
                self._presence = None

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def location(self) -> str:
        return str(self.path)

    @property
    def schema_version(self) -> int:
        return int(self._conn.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        version = self.schema_version
        if version > SCHEMA_VERSION:
            raise JournalError(
                f"受付記録（{self.path}）は新しい版のmadoguchi（記録形式 {version}）で作られています。"
                f"この版は形式 {SCHEMA_VERSION} までしか読めません。madoguchiを更新してください。",
                "受付記録の形式が新しすぎます",
            )
        if version == SCHEMA_VERSION:
            return
        if self.read_only:
            raise JournalError(
                f"受付記録（{self.path}）は古い形式です。一度書き込みモードで開いて更新してください。",
                "受付記録の形式が古いです",
            )
        rebuild = version < _REBUILDS_FROM
        if rebuild:
            with self._lock:
                self._conn.execute("PRAGMA foreign_keys = OFF")  # only outside a transaction
        try:
            with self._write() as conn:
                current = int(conn.execute("PRAGMA user_version").fetchone()[0])  # another process may have migrated
                _migrate_from(conn, current)
                if rebuild and conn.execute("PRAGMA foreign_key_check").fetchall():
                    raise JournalDamaged(f"受付記録（{self.path}）の参照が壊れています。" + _WAY_OUT)
        finally:
            if rebuild:
                with self._lock:
                    self._conn.execute("PRAGMA foreign_keys = ON")

    # -- transactions --------------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One IMMEDIATE transaction: all statements inside commit together or not at all."""
        with self._lock:
            conn = self._conn
            if self._depth:  # inside apply(): one transaction for the op and its bookkeeping
                self._depth += 1
                try:
                    yield conn
                finally:
                    self._depth -= 1
                return
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise _translate(exc, self.path) from exc
            self._depth = 1
            try:
                yield conn
                self._depth = 0
                conn.execute("COMMIT")
            except BaseException as exc:
                self._depth = 0
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:
                    pass  # the transaction is already gone (e.g. SQLite rolled it back itself)
                if isinstance(exc, sqlite3.Error):
                    raise _translate(exc, self.path) from exc
                raise

    def _read(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self._lock:
            try:
                return self._conn.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise _translate(exc, self.path) from exc

    # -- confirmations -------------------------------------------------------------------------

    @staticmethod
    def _insert_confirmation(conn: sqlite3.Connection, record: ConfirmationRecord) -> int:
        at = to_jst(record.at)
        cur = conn.execute(
            "INSERT INTO confirmations (at, month, channel, method, validity, failure, facility_type,"
            " cert_fingerprint, staff_id, rerun_of, demo, result_stem, device) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                _stamp(at),
                at.strftime("%Y-%m"),
                record.channel.value,
                record.method.value,
                int(record.validity) if record.validity is not None else None,
                record.failure.value if record.failure is not None else None,
                int(record.facility_type),
                record.cert_fingerprint,
                record.staff_id,
                record.rerun_of,
                int(record.demo),
                record.result_stem,
                record.device.value,
            ),
        )
        assert cur.lastrowid is not None  # an INSERT always sets it (typeshed: int | None)
        return int(cur.lastrowid)

    def record_confirmation(self, record: ConfirmationRecord) -> int:
        """Journal one confirmation (any outcome); returns its id."""
        with self._write() as conn:
            return self._insert_confirmation(conn, record)

    def record_visual_use(
        self,
        staff_id: str,
        *,
        cert_fingerprint: str | None = None,
        confirmation_id: int | None = None,
        at: dt.datetime | None = None,
        op_id: str | None = None,
    ) -> int:
        """Journal one 目視確認 with the staff member who checked the face against the card photo.
        `op_id` names it so that the confirmation it leads to can be linked to it later."""
        if not staff_id.strip():
            raise JournalError("目視確認を行った職員IDが必要です。", "職員IDがありません")
        with self._write() as conn:
            cur = conn.execute(
                "INSERT INTO visual_uses (at, staff_id, cert_fingerprint, confirmation_id, op_id) VALUES (?, ?, ?, ?, ?)",
                (_stamp(to_jst(at)), staff_id.strip(), cert_fingerprint, confirmation_id, op_id),
            )
            assert cur.lastrowid is not None  # an INSERT always sets it (typeshed: int | None)
            return int(cur.lastrowid)

    def queue_export(self, stem: str, reply_json: str) -> None:
        """A result its folder still has to receive (written with its confirmation, in one unit)."""
        with self._write() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO pending_exports (stem, reply, queued_at) VALUES (?, ?, ?)",
                (stem, reply_json, _stamp(to_jst(None))),
            )

    def pending_exports(self) -> list[tuple[str, str]]:
        """(stem, reply JSON) of results whose files are not known to be written, oldest first."""
        return [(r["stem"], r["reply"]) for r in self._read("SELECT stem, reply FROM pending_exports ORDER BY queued_at, stem")]

    def export_done(self, stem: str) -> None:
        with self._write() as conn:
            conn.execute("DELETE FROM pending_exports WHERE stem = ?", (stem,))

    def link_visual_use(self, visual_use_op: str, confirmation_id: int) -> None:
        """The 目視 use recorded under `visual_use_op` led to this confirmation."""
        with self._write() as conn:
            conn.execute("UPDATE visual_uses SET confirmation_id = ? WHERE op_id = ?", (confirmation_id, visual_use_op))

    def apply(self, op: Applicable) -> object:
        """Run one outbox write exactly once: the op and the note that it ran commit together, so a
        write replayed after a crash (journalled, not yet taken off the outbox) is not doubled.
        Returns what the write returns, or None when it had already been applied."""
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM applied_ops WHERE op_id = ?", (op.op_id,)).fetchone():
                return None
            try:
                result = op.run(self)
            except sqlite3.IntegrityError as exc:  # the data, not the journal's state: for good
                raise JournalConflict(f"受付記録に入らない記録です（{exc}）。") from exc
            conn.execute(
                "INSERT INTO applied_ops (op_id, applied_at) VALUES (?, ?)", (op.op_id, _stamp(to_jst(None)))
            )
            return result

    def _confirmation_from_row(self, row: sqlite3.Row) -> ConfirmationRecord:
        return confirmation_from_row(row, _parse(row["at"]))  # type: ignore[arg-type]  # "at" is NOT NULL

    def confirmations(self, *, month: str | None = None, limit: int | None = None) -> list[ConfirmationRecord]:
        """Confirmations, newest first; `month` as YYYY-MM (Japan time)."""
        sql = "SELECT * FROM confirmations"
        params: tuple[Any, ...] = ()
        if month is not None:
            sql += " WHERE month = ?"
            params = (month,)
        sql += " ORDER BY at DESC, id DESC"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [self._confirmation_from_row(r) for r in self._read(sql, params)]

    def month_counts(self, month: str) -> dict[str, int]:
        """Answered confirmations (OQSCD006 code set) in `month` per channel, e.g. {"myna": 3, "numbers": 9};
        demo answers (a real card on the simulated central system) are not confirmations."""
        sql = MONTH_COUNTS_SELECT.format(param="?", not_demo="demo = 0")
        return month_counts_from(self._read(sql, (month,)))

    # -- failure mode queue --------------------------------------------------------------------

    def enqueue_outage(
        self,
        *,
        channel: Channel,
        method: AuthMethod,
        facility_type: FacilityType,
        cert_fingerprint: str | None = None,
        payload: dict[str, Any] | None = None,
        at: dt.datetime | None = None,
    ) -> int:
        """Journal a confirmation that failed because the central system did not answer, and queue it.

        `channel` is how it should be re-run (myna or numbers); `payload` is what the flow needs to
        re-run it (e.g. the numbers query), JSON-serialisable, never a PIN, password or My Number.
        Writes the 障害時 confirmation and the queue item in one transaction; returns the item's id.
        """
        payload_json_text = payload_json(channel, payload)
        at_jst = to_jst(at)
        with self._write() as conn:
            cur = conn.execute(
                "INSERT INTO outage_queue (enqueued_at, channel, method, facility_type, cert_fingerprint, payload)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (_stamp(at_jst), channel.value, method.value, int(facility_type), cert_fingerprint, payload_json_text),
            )
            assert cur.lastrowid is not None  # an INSERT always sets it (typeshed: int | None)
            item_id = int(cur.lastrowid)
            self._insert_confirmation(
                conn,
                ConfirmationRecord(
                    at=at_jst,
                    channel=Channel.OUTAGE,
                    method=method,
                    failure=FailureName.CENTRAL_DOWN,
                    facility_type=facility_type,
                    cert_fingerprint=cert_fingerprint,
                ),
            )
            return item_id

    def _outage_from_row(self, row: sqlite3.Row) -> OutageItem:
        return outage_from_row(row, _parse(row["enqueued_at"]), _parse(row["done_at"]))  # type: ignore[arg-type]

    _OUTAGE_SELECT = (
        "SELECT q.*, c.validity AS validity, c.failure AS failure FROM outage_queue q"
        " LEFT JOIN confirmations c ON c.id = q.result_confirmation_id"
    )

    def pending_outages(self) -> list[OutageItem]:
        """Queued confirmations not yet re-run, oldest first."""
        rows = self._read(self._OUTAGE_SELECT + " WHERE q.status = 'pending' ORDER BY q.id")
        return [self._outage_from_row(r) for r in rows]

    def outage(self, item_id: int) -> OutageItem:
        rows = self._read(self._OUTAGE_SELECT + " WHERE q.id = ?", (item_id,))
        if not rows:
            raise JournalError(f"再照会待ちの記録 {item_id} がありません。", "再照会の記録がありません")
        return self._outage_from_row(rows[0])

    def complete_outage(
        self,
        item_id: int,
        outcome: Validity | FailureName,
        *,
        staff_id: str | None = None,
        at: dt.datetime | None = None,
        demo: bool = False,
        result_stem: str | None = None,
    ) -> int:
        """Mark a queued item done with the re-run's outcome; journals that confirmation in the same transaction.

        The confirmation keeps the queued channel and method, so a re-run card confirmation counts as a
        マイナ保険証 confirmation in the month it was re-run. Returns the new confirmation's id.
        """
        at_jst = to_jst(at)
        with self._write() as conn:
            row = conn.execute("SELECT * FROM outage_queue WHERE id = ?", (item_id,)).fetchone()
            if row is None:
                raise JournalConflict(f"再照会待ちの記録 {item_id} がありません。", "再照会の記録がありません")
            if row["status"] != OutageStatus.PENDING.value:
                raise JournalConflict(f"再照会待ちの記録 {item_id} は再照会済みです。", "再照会済みです")
            confirmation_id = self._insert_confirmation(
                conn,
                ConfirmationRecord(
                    at=at_jst,
                    channel=Channel(row["channel"]),
                    method=AuthMethod(row["method"]),
                    validity=outcome if isinstance(outcome, Validity) else None,
                    failure=outcome if isinstance(outcome, FailureName) else None,
                    facility_type=FacilityType(row["facility_type"]),
                    cert_fingerprint=row["cert_fingerprint"],
                    staff_id=staff_id,
                    rerun_of=item_id,
                    demo=demo,
                    result_stem=result_stem,
                    device=device_of_payload(row["payload"]),
                ),
            )
            conn.execute(
                "UPDATE outage_queue SET status = 'done', done_at = ?, result_confirmation_id = ? WHERE id = ?",
                (_stamp(at_jst), confirmation_id, item_id),
            )
            return confirmation_id

    # -- face failure counter (per card) -------------------------------------------------------

    def face_state(self, cert_fingerprint: str) -> FaceAuthState:
        rows = self._read("SELECT * FROM face_failures WHERE cert_fingerprint = ?", (cert_fingerprint,))
        if not rows:
            return FaceAuthState(cert_fingerprint=cert_fingerprint, consecutive_failures=0, locked=False)
        row = rows[0]
        return FaceAuthState(
            cert_fingerprint=cert_fingerprint,
            consecutive_failures=int(row["consecutive"]),
            locked=row["locked_at"] is not None,
        )

    def record_face_failure(self, cert_fingerprint: str, *, at: dt.datetime | None = None) -> FaceAuthState:
        """Count one failed face match; the 10th consecutive one locks face auth for this card."""
        stamp = _stamp(to_jst(at))
        with self._write() as conn:
            row = conn.execute("SELECT * FROM face_failures WHERE cert_fingerprint = ?", (cert_fingerprint,)).fetchone()
            count = (int(row["consecutive"]) if row else 0) + 1
            locked_at = row["locked_at"] if row and row["locked_at"] else (stamp if face_locked(count) else None)
            conn.execute(
                "INSERT INTO face_failures (cert_fingerprint, consecutive, locked_at, updated_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT(cert_fingerprint) DO UPDATE SET consecutive = excluded.consecutive,"
                " locked_at = excluded.locked_at, updated_at = excluded.updated_at",
                (cert_fingerprint, count, locked_at, stamp),
            )
        return FaceAuthState(cert_fingerprint=cert_fingerprint, consecutive_failures=count, locked=locked_at is not None)

    def record_face_success(self, cert_fingerprint: str, *, at: dt.datetime | None = None) -> FaceAuthState:
        """A face match succeeded: the consecutive count starts again. A lock stays (only the municipality lifts it)."""
        with self._write() as conn:
            conn.execute(
                "UPDATE face_failures SET consecutive = 0, updated_at = ? WHERE cert_fingerprint = ? AND locked_at IS NULL",
                (_stamp(to_jst(at)), cert_fingerprint),
            )
        return self.face_state(cert_fingerprint)

    def unlock_face(self, cert_fingerprint: str) -> FaceAuthState:
        """The municipality lifted the face lock (training and tests)."""
        with self._write() as conn:
            conn.execute("DELETE FROM face_failures WHERE cert_fingerprint = ?", (cert_fingerprint,))
        return self.face_state(cert_fingerprint)

    # -- 目視 password failure counter (per facility) -----------------------------------------

    @staticmethod
    def _visual_state(facility_code: str, row: sqlite3.Row | None, now: dt.datetime) -> VisualLockState:
        if row is None:
            return visual_state(facility_code, None, None, now)
        return visual_state(facility_code, int(row["consecutive"]), _parse(row["locked_until"]), now)

    def visual_lock_state(self, facility_code: str, *, now: dt.datetime | None = None) -> VisualLockState:
        rows = self._read("SELECT * FROM visual_password_failures WHERE facility_code = ?", (facility_code,))
        return self._visual_state(facility_code, rows[0] if rows else None, to_jst(now))

    def record_visual_password_failure(
        self, facility_code: str, *, now: dt.datetime | None = None
    ) -> VisualLockState:
        """Count one wrong 目視 password; the 5th in a row locks 目視 for 5 minutes. No-op while locked."""
        now_jst = to_jst(now)
        with self._write() as conn:
            row = conn.execute(
                "SELECT * FROM visual_password_failures WHERE facility_code = ?", (facility_code,)
            ).fetchone()
            state = self._visual_state(facility_code, row, now_jst)
            if state.locked:
                return state
            count = state.consecutive_failures + 1
            until = now_jst + VISUAL_LOCK_DURATION if count >= VISUAL_LOCK_THRESHOLD else None
            conn.execute(
                "INSERT INTO visual_password_failures (facility_code, consecutive, locked_until, updated_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT(facility_code) DO UPDATE SET consecutive = excluded.consecutive,"
                " locked_until = excluded.locked_until, updated_at = excluded.updated_at",
                (facility_code, count, _stamp(until) if until else None, _stamp(now_jst)),
            )
        return VisualLockState(
            facility_code=facility_code, consecutive_failures=count, locked_until=until, locked=until is not None
        )

    def record_visual_password_success(
        self, facility_code: str, *, now: dt.datetime | None = None
    ) -> VisualLockState:
        with self._write() as conn:
            conn.execute("DELETE FROM visual_password_failures WHERE facility_code = ?", (facility_code,))
        return self.visual_lock_state(facility_code, now=now)

    # -- history for the TUI -------------------------------------------------------------------

    def history(self, limit: int = 50, *, kind: HistoryKind | None = None) -> list[HistoryItem]:
        """The latest `limit` entries, newest first, optionally of one kind."""
        limit = max(0, int(limit))
        confirmations = self.confirmations(limit=limit) if kind in (None, HistoryKind.CONFIRMATION) else []
        uses: list[dict[str, Any]] = []
        if kind in (None, HistoryKind.VISUAL_USE):
            rows = self._read(f"SELECT * FROM visual_uses ORDER BY at DESC, id DESC LIMIT {limit}")
            uses = [{**dict(row), "at": _parse(row["at"])} for row in rows]
        outages: list[OutageItem] = []
        if kind in (None, HistoryKind.OUTAGE):
            rows = self._read(self._OUTAGE_SELECT + f" ORDER BY q.enqueued_at DESC, q.id DESC LIMIT {limit}")
            outages = [self._outage_from_row(row) for row in rows]
        return history(confirmations, uses, outages, limit)
