"""The one interface of the desk's storage. Two back ends implement it and pass the same tests
(tests/test_journal.py): `Journal` (desk/journal/sqlite.py, one file per desk, the default and the
training journal) and `PostgresJournal` (desk/journal/postgres.py, one database for every desk of
a facility). The rest of the desk names only `JournalStore` (and the narrower ports in desk/ports.py).

The contract both keep: every public write is one transaction, all or nothing; `apply(op)` runs an
op at most once by its id, even when two desks replay it; the face and 目視 counters are updated
atomically; a write that cannot be made now raises a `JournalError` (Japanese title and message)
and leaves nothing behind; outage payloads never hold a PIN, a password or a My Number.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Protocol

from desk.journal.records import (
    ConfirmationRecord,
    FaceAuthState,
    HistoryItem,
    HistoryKind,
    OutageItem,
    VisualLockState,
)
from desk.models import AuthMethod, Channel, FacilityType, FailureName, Validity

__all__ = ["Applicable", "JournalStore", "VisualLockCounter"]


class Applicable(Protocol):
    """A journal write with an identity (desk/journal_ops.py), for `JournalStore.apply`."""

    @property
    def op_id(self) -> str: ...

    def run(self, journal: JournalStore) -> object: ...


class VisualLockCounter(Protocol):
    """The 目視 password lockout as the facility's check uses it (the journal keeps it)."""

    def visual_lock_state(self, facility_code: str, *, now: dt.datetime | None = None) -> VisualLockState: ...

    def record_visual_password_failure(self, facility_code: str, *, now: dt.datetime | None = None) -> VisualLockState: ...

    def record_visual_password_success(self, facility_code: str, *, now: dt.datetime | None = None) -> VisualLockState: ...


class JournalStore(VisualLockCounter, Protocol):
    """Everything the desk reads from and writes to its journal."""

    @property
    def location(self) -> str:
        """Where the records are, for messages (a file path, or host/database; never a password)."""
        ...

    @property
    def schema_version(self) -> int: ...

    def close(self) -> None: ...

    def __enter__(self) -> JournalStore: ...

    def __exit__(self, *exc: object) -> None: ...

    def integrity(self) -> list[str]:
        """["ok"] when the store is sound, else what is wrong."""
        ...

    # writes (the desk makes them through `apply`)
    def apply(self, op: Applicable) -> object: ...

    def record_confirmation(self, record: ConfirmationRecord) -> int: ...

    def record_visual_use(
        self, staff_id: str, *, cert_fingerprint: str | None = None, confirmation_id: int | None = None,
        at: dt.datetime | None = None, op_id: str | None = None,
    ) -> int: ...

    def link_visual_use(self, visual_use_op: str, confirmation_id: int) -> None: ...

    def queue_export(self, stem: str, reply_json: str) -> None: ...

    def export_done(self, stem: str) -> None: ...

    def enqueue_outage(
        self, *, channel: Channel, method: AuthMethod, facility_type: FacilityType, cert_fingerprint: str | None = None,
        payload: dict[str, Any] | None = None, at: dt.datetime | None = None,
    ) -> int: ...

    def complete_outage(
        self, item_id: int, outcome: Validity | FailureName, *, staff_id: str | None = None, at: dt.datetime | None = None,
        demo: bool = False, result_stem: str | None = None,
    ) -> int: ...

    def record_face_failure(self, cert_fingerprint: str, *, at: dt.datetime | None = None) -> FaceAuthState: ...

    def record_face_success(self, cert_fingerprint: str, *, at: dt.datetime | None = None) -> FaceAuthState: ...

    def unlock_face(self, cert_fingerprint: str) -> FaceAuthState: ...

    # reads
    def pending_exports(self) -> list[tuple[str, str]]: ...

    def confirmations(self, *, month: str | None = None, limit: int | None = None) -> list[ConfirmationRecord]: ...

    def month_counts(self, month: str) -> dict[str, int]: ...

    def pending_outages(self) -> list[OutageItem]: ...

    def outage(self, item_id: int) -> OutageItem: ...

    def face_state(self, cert_fingerprint: str) -> FaceAuthState: ...

    def history(self, limit: int = 50, *, kind: HistoryKind | None = None) -> list[HistoryItem]: ...
