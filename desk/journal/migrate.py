"""A desk's SQLite journal copied into the facility's PostgreSQL journal (`desk journal migrate`).

Nothing lost, nothing doubled, safe to run again and to resume:
- every copied row carries its origin, a name made from its table, its id in the SQLite file and
  its unchanging content; the facility database holds each origin at most once (a unique
  column), so a second run — or a run after one was killed halfway — inserts only what is missing;
- the copy goes in batches, each one transaction: a run killed mid-way leaves whole batches;
- what changes after a row was written is brought up to date on every run: an outage re-run
  since (status, result), a 目視 use linked to its confirmation since, the lock counters (the
  larger count and the later lock win, so running twice changes nothing);
- op ids already applied to the SQLite journal are carried over, so an op replayed later is not
  applied twice;
- a journal whose outbox still holds writes is refused: they belong in it first.
References between rows (a re-run's queue item, a 目視 use's confirmation) are mapped to the
database's own ids through the origins.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from desk.journal.postgres import PostgresJournal
from desk.journal.records import JournalError
from desk.journal.settings import PostgresSettings
from desk.journal.sqlite import Journal
from desk.models import Model
from desk.outbox import Outbox, outbox_path

__all__ = ["MigrationReport", "migrate_sqlite"]

_BATCH = 500
# Origins are spelt in letters only: nothing the desk stores may look like a My Number.
_LETTERS = str.maketrans("0123456789", "ghijklmnop")
_TABLES = ("outage_queue", "confirmations", "visual_uses", "applied_ops", "face_failures", "visual_password_failures",
           "pending_exports")


class MigrationReport(Model):
    source: str
    target: str
    copied: dict[str, int]  # per table: rows new to the database this run
    present: dict[str, int]  # per table: rows it already had (an earlier run)


def _origin(table: str, row: sqlite3.Row, columns: Sequence[str]) -> str:
    content = json.dumps([table, row["id"], *(row[c] for c in columns)], ensure_ascii=False, default=str)
    return "m" + hashlib.sha256(content.encode("utf-8")).hexdigest()[:40].translate(_LETTERS)


def _time(text: str | None) -> dt.datetime | None:
    return None if text is None else dt.datetime.fromisoformat(text)


def _batches(rows: list[sqlite3.Row], size: int) -> Iterator[list[sqlite3.Row]]:
    for start in range(0, len(rows), size):
        yield rows[start:start + size]


class _Copier:
    def __init__(self, source: sqlite3.Connection, target: PostgresJournal, batch: int,
                 after_batch: Callable[[str], None] | None) -> None:
        self.source = source
        self.target = target
        self.batch = batch
        self.after_batch = after_batch
        self.copied = dict.fromkeys(_TABLES, 0)
        self.present = dict.fromkeys(_TABLES, 0)

    def rows(self, sql: str) -> list[sqlite3.Row]:
        return self.source.execute(sql).fetchall()

    def ids(self, table: str, origins: list[str]) -> dict[str, int]:
        """The database's ids of rows copied earlier, by origin."""
        found: dict[str, int] = {}
        with self.target.transaction() as conn:
            for start in range(0, len(origins), 1000):
                chunk = origins[start:start + 1000]
                query = f"SELECT id, origin FROM {table} WHERE origin = ANY(%s)".encode()
                for row in conn.execute(query, (chunk,)).fetchall():
                    found[row["origin"]] = int(row["id"])
        return found

    def insert(self, table: str, rows: list[sqlite3.Row], sql: bytes, values: Callable[[sqlite3.Row], tuple[Any, ...]]) -> None:
        """Insert each row unless it is there already (`sql` ends in ON CONFLICT … RETURNING), one
        transaction per batch."""
        for chunk in _batches(rows, self.batch):
            with self.target.transaction() as conn:
                for row in chunk:
                    answer = conn.execute(sql, values(row)).fetchone()
                    # no row: it was there; an upsert says whether it inserted (xmax = 0)
                    if answer is None or False in answer.values():
                        self.present[table] += 1
                    else:
                        self.copied[table] += 1
            if self.after_batch is not None:
                self.after_batch(table)

    # -- the tables, in the order their references need --------------------------------------

    def outages(self) -> dict[int, str]:
        rows = self.rows("SELECT * FROM outage_queue ORDER BY id")
        cols = ("enqueued_at", "channel", "method", "facility_type", "cert_fingerprint", "payload")
        origin = {int(r["id"]): _origin("outage_queue", r, cols) for r in rows}
        self.insert(
            "outage_queue", rows,
            b"INSERT INTO outage_queue (enqueued_at, channel, method, facility_type, cert_fingerprint, payload, origin)"
            b" VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING 1",
            lambda r: (_time(r["enqueued_at"]), r["channel"], r["method"], r["facility_type"], r["cert_fingerprint"],
                       r["payload"], origin[int(r["id"])]),
        )
        return origin

    def confirmations(self, outage_origin: dict[int, str]) -> dict[int, str]:
        rows = self.rows("SELECT * FROM confirmations ORDER BY id")
        # the origin stays what it was before v5 added `device`: a journal copied again matches its rows
        cols = ("at", "channel", "method", "validity", "failure", "facility_type", "cert_fingerprint", "staff_id",
                "rerun_of", "demo", "result_stem")
        origin = {int(r["id"]): _origin("confirmations", r, cols) for r in rows}
        outage_ids = self.ids("outage_queue", list(outage_origin.values()))

        def rerun(r: sqlite3.Row) -> int | None:
            if r["rerun_of"] is None:
                return None
            return outage_ids.get(outage_origin.get(int(r["rerun_of"]), ""))

        self.insert(
            "confirmations", rows,
            b"INSERT INTO confirmations (at, month, channel, method, validity, failure, facility_type, cert_fingerprint,"
            b" staff_id, rerun_of, demo, result_stem, device, origin)"
            b" VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING 1",
            lambda r: (_time(r["at"]), r["month"], r["channel"], r["method"], r["validity"], r["failure"], r["facility_type"],
                       r["cert_fingerprint"], r["staff_id"], rerun(r), bool(r["demo"]), r["result_stem"],
                       r["device"] if "device" in r.keys() else "card", origin[int(r["id"])]),
        )
        return origin

    def outages_done(self, outage_origin: dict[int, str], confirmation_origin: dict[int, str]) -> None:
        """Items re-run since they were queued: done in the database too, with their result."""
        rows = self.rows("SELECT * FROM outage_queue WHERE status = 'done' ORDER BY id")
        confirmation_ids = self.ids("confirmations", list(confirmation_origin.values()))
        for chunk in _batches(rows, self.batch):
            with self.target.transaction() as conn:
                for r in chunk:
                    result = r["result_confirmation_id"]
                    mapped = confirmation_ids.get(confirmation_origin.get(int(result), "")) if result is not None else None
                    conn.execute(
                        "UPDATE outage_queue SET status = 'done', done_at = %s, result_confirmation_id = %s"
                        " WHERE origin = %s AND status = 'pending'",
                        (_time(r["done_at"]), mapped, outage_origin[int(r["id"])]),
                    )

    def visual_uses(self, confirmation_origin: dict[int, str]) -> None:
        rows = self.rows("SELECT * FROM visual_uses ORDER BY id")
        origin = {int(r["id"]): _origin("visual_uses", r, ("at", "staff_id", "cert_fingerprint")) for r in rows}
        confirmation_ids = self.ids("confirmations", list(confirmation_origin.values()))

        def linked(r: sqlite3.Row) -> int | None:
            cid = r["confirmation_id"]
            return None if cid is None else confirmation_ids.get(confirmation_origin.get(int(cid), ""))

        self.insert(
            "visual_uses", rows,
            b"INSERT INTO visual_uses (at, staff_id, cert_fingerprint, confirmation_id, op_id, origin)"
            b" VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING 1",
            lambda r: (_time(r["at"]), r["staff_id"], r["cert_fingerprint"], linked(r), r["op_id"], origin[int(r["id"])]),
        )
        with self.target.transaction() as conn:  # linked to its confirmation since the last run
            for r in rows:
                if (cid := linked(r)) is not None:
                    conn.execute(
                        "UPDATE visual_uses SET confirmation_id = %s WHERE origin = %s AND confirmation_id IS NULL",
                        (cid, origin[int(r["id"])]),
                    )

    def small_tables(self) -> None:
        self.insert(
            "applied_ops", self.rows("SELECT * FROM applied_ops ORDER BY op_id"),
            b"INSERT INTO applied_ops (op_id, applied_at) VALUES (%s, %s) ON CONFLICT DO NOTHING RETURNING 1",
            lambda r: (r["op_id"], _time(r["applied_at"])),
        )
        self.insert(
            "pending_exports", self.rows("SELECT * FROM pending_exports ORDER BY stem"),
            b"INSERT INTO pending_exports (stem, reply, queued_at) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING RETURNING 1",
            lambda r: (r["stem"], r["reply"], _time(r["queued_at"])),
        )
        # counters: the larger count and the earlier face lock / later 目視 lock win, so a rerun changes nothing
        self.insert(
            "face_failures", self.rows("SELECT * FROM face_failures ORDER BY cert_fingerprint"),
            b"INSERT INTO face_failures AS f (cert_fingerprint, consecutive, locked_at, updated_at) VALUES (%s, %s, %s, %s)"
            b" ON CONFLICT (cert_fingerprint) DO UPDATE SET consecutive = GREATEST(f.consecutive, excluded.consecutive),"
            b" locked_at = COALESCE(f.locked_at, excluded.locked_at), updated_at = GREATEST(f.updated_at, excluded.updated_at)"
            b" RETURNING (xmax = 0)",
            lambda r: (r["cert_fingerprint"], r["consecutive"], _time(r["locked_at"]), _time(r["updated_at"])),
        )
        self.insert(
            "visual_password_failures", self.rows("SELECT * FROM visual_password_failures ORDER BY facility_code"),
            b"INSERT INTO visual_password_failures AS v (facility_code, consecutive, locked_until, updated_at)"
            b" VALUES (%s, %s, %s, %s) ON CONFLICT (facility_code) DO UPDATE SET"
            b" consecutive = GREATEST(v.consecutive, excluded.consecutive),"
            b" locked_until = GREATEST(v.locked_until, excluded.locked_until),"
            b" updated_at = GREATEST(v.updated_at, excluded.updated_at) RETURNING (xmax = 0)",
            lambda r: (r["facility_code"], r["consecutive"], _time(r["locked_until"]), _time(r["updated_at"])),
        )


def migrate_sqlite(
    source: Path, target: PostgresSettings, *, batch: int = _BATCH, after_batch: Callable[[str], None] | None = None,
) -> MigrationReport:
    """Copy the SQLite journal at `source` into the facility database `target` (see the module's
    docstring). `after_batch(table)` is called after each committed batch (progress; tests)."""
    Journal(source, read_only=True).close()  # there, sound, and of a format this version reads
    waiting = Outbox(outbox_path(source)).pending()
    if waiting:
        raise JournalError(
            f"この受付記録（{source}）には、まだ書き込まれていない一時保存の記録が{len(waiting)}件あります"
            f"（{outbox_path(source).name}）。先にこの受付記録で受付端末を一度起動して書き込ませてから、もう一度移してください。",
            "一時保存中の記録があります",
        )
    conn = sqlite3.connect(source.resolve().as_uri() + "?mode=ro", uri=True, isolation_level=None)
    conn.row_factory = sqlite3.Row
    try:
        # one read transaction: a desk still writing to the file meanwhile is seen as of one moment,
        # so a re-run is never read without the queue item it names
        conn.execute("BEGIN")
        with PostgresJournal(target) as store:
            copier = _Copier(conn, store, max(1, batch), after_batch)
            outage_origin = copier.outages()
            confirmation_origin = copier.confirmations(outage_origin)
            copier.outages_done(outage_origin, confirmation_origin)
            copier.visual_uses(confirmation_origin)
            copier.small_tables()
    except sqlite3.Error as exc:
        raise JournalError(f"移す元の受付記録（{source}）を読めません：{exc}", "受付記録を読めません") from exc
    finally:
        conn.close()
    return MigrationReport(source=str(source), target=target.describe(), copied=copier.copied, present=copier.present)
