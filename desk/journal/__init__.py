"""The reception journal: what was confirmed, how, and by whom.

    records.py   the records, errors and shared rules (no database)
    store.py     `JournalStore`, the one interface the desk uses
    sqlite.py    `Journal`: SQLite, one file per desk (the default, and training)
    postgres.py  `PostgresJournal`: one PostgreSQL database for every desk of a facility
    settings.py  which one a facility config names, and opening it (`open_store`)
    migrate.py   a desk's SQLite journal copied into the facility database

postgres.py and migrate.py import psycopg; nothing here does, so `desk` starts without it.
"""

from desk.journal.records import (
    JST,
    SMARTPHONE_COUNT,
    VISUAL_LOCK_DURATION,
    VISUAL_LOCK_THRESHOLD,
    ConfirmationRecord,
    FaceAuthState,
    HistoryItem,
    HistoryKind,
    JournalConflict,
    JournalDamaged,
    JournalError,
    JournalUnavailable,
    OutageItem,
    OutageStatus,
    VisualLockState,
)
from desk.journal.sqlite import SCHEMA_VERSION, Journal, copy_database, exclusive_presence
from desk.journal.store import Applicable, JournalStore, VisualLockCounter

__all__ = [
    "SMARTPHONE_COUNT",
    "JST",
    "SCHEMA_VERSION",
    "VISUAL_LOCK_THRESHOLD",
    "VISUAL_LOCK_DURATION",
    "Applicable",
    "ConfirmationRecord",
    "FaceAuthState",
    "HistoryItem",
    "HistoryKind",
    "Journal",
    "JournalConflict",
    "JournalDamaged",
    "JournalError",
    "JournalStore",
    "JournalUnavailable",
    "OutageItem",
    "OutageStatus",
    "VisualLockCounter",
    "VisualLockState",
    "copy_database",
    "exclusive_presence",
]
