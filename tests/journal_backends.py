"""The journal's two back ends behind one test handle, so the same tests run on both: SQLite (a
file in tmp_path) and PostgreSQL (a fresh database on the throwaway cluster, tests/pg_cluster.py).

`journal_backend` is parametrized over both; what a test needs to do to the store from outside
(hold a lock as another desk would, plant a failing trigger, read a table's size) is a method here.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from desk.journal import Journal, JournalStore

__all__ = ["JournalBackend", "journal_backend"]


class JournalBackend:
    name: str

    def open(self, *, read_only: bool = False) -> JournalStore:
        raise NotImplementedError

    def open_missing(self) -> JournalStore:
        """Open, read-only, a journal that was never written."""
        raise NotImplementedError

    def count(self, table: str) -> int:
        raise NotImplementedError

    def hold_lock(self) -> contextlib.AbstractContextManager[None]:
        """Another program holding the journal so that no write can go in."""
        raise NotImplementedError

    def refuse_updates(self, table: str) -> None:
        """Make every UPDATE of `table` fail inside the database."""
        raise NotImplementedError

    def set_schema_version(self, version: int) -> None:
        raise NotImplementedError

    def columns(self) -> set[str]:
        """Every column as table.column."""
        raise NotImplementedError


class SqliteBackend(JournalBackend):
    name = "sqlite"

    def __init__(self, folder: Path) -> None:
        self.path = folder / "journal.sqlite3"
        self.folder = folder

    def open(self, *, read_only: bool = False) -> JournalStore:
        return Journal(self.path, read_only=read_only, busy_timeout=0.05)

    def open_missing(self) -> JournalStore:
        return Journal(self.folder / "none.sqlite3", read_only=True)

    def _conn(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, isolation_level=None)

    def count(self, table: str) -> int:
        conn = self._conn()
        try:
            return int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
        finally:
            conn.close()

    @contextlib.contextmanager
    def hold_lock(self) -> Iterator[None]:
        other = self._conn()
        other.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            other.execute("ROLLBACK")
            other.close()

    def refuse_updates(self, table: str) -> None:
        conn = self._conn()
        conn.execute(f"CREATE TRIGGER refuse BEFORE UPDATE ON {table} BEGIN SELECT RAISE(ABORT, 'disk trouble'); END")
        conn.close()

    def set_schema_version(self, version: int) -> None:
        conn = self._conn()
        conn.execute(f"PRAGMA user_version = {version}")
        conn.close()

    def columns(self) -> set[str]:
        conn = self._conn()
        try:
            tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            return {f"{t}.{r[1]}" for t in tables for r in conn.execute(f"PRAGMA table_info({t})")}
        finally:
            conn.close()


class PostgresBackend(JournalBackend):
    name = "postgresql"

    def __init__(self, cluster, dbname: str, folder: Path) -> None:
        self.cluster = cluster
        self.dbname = dbname
        self.settings = cluster.settings(dbname, password_file=cluster.password_file(folder))

    def open(self, *, read_only: bool = False) -> JournalStore:
        from desk.journal.postgres import PostgresJournal

        return PostgresJournal(self.settings, read_only=read_only, lock_timeout=0.05)

    def open_missing(self) -> JournalStore:
        from desk.journal.postgres import PostgresJournal

        name = f"{self.dbname}_empty"
        self.cluster.create_database(name)
        return PostgresJournal(self.settings.model_copy(update={"dbname": name}), read_only=True)

    def count(self, table: str) -> int:
        with self.cluster.admin(self.dbname) as conn:
            return int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])

    @contextlib.contextmanager
    def hold_lock(self) -> Iterator[None]:
        with self.cluster.admin(self.dbname) as conn:
            conn.execute("BEGIN")
            conn.execute("LOCK TABLE confirmations, outage_queue, visual_uses IN ACCESS EXCLUSIVE MODE")
            try:
                yield
            finally:
                conn.execute("ROLLBACK")

    def refuse_updates(self, table: str) -> None:
        with self.cluster.admin(self.dbname) as conn:
            conn.execute("CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'disk trouble'; END $$")
            conn.execute(f"CREATE TRIGGER refuse BEFORE UPDATE ON {table} FOR EACH ROW EXECUTE FUNCTION refuse()")

    def set_schema_version(self, version: int) -> None:
        with self.cluster.admin(self.dbname) as conn:
            conn.execute("UPDATE journal_schema SET version = %s", (version,))

    def columns(self) -> set[str]:
        with self.cluster.admin(self.dbname) as conn:
            rows = conn.execute(
                "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public'"
            ).fetchall()
        return {f"{t}.{c}" for t, c in rows}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def journal_backend(request: pytest.FixtureRequest, tmp_path: Path) -> JournalBackend:
    """The journal's storage, once per back end."""
    if request.param == "sqlite":
        return SqliteBackend(tmp_path)
    cluster = request.getfixturevalue("pg_cluster")
    return PostgresBackend(cluster, request.getfixturevalue("pg_database"), tmp_path)
