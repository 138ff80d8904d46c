"""Everything a desk talks to, as typed ports. The composition root (desk/wiring.py) fills them
with real devices or simulated ones; the session never knows which."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from desk.journal import Applicable, FaceAuthState, OutageItem, VisualLockCounter
from desk.models import AuthMethod

if TYPE_CHECKING:
    from desk.central import CentralSystem
    from desk.facility import FacilityConfig
    from desk.outbox import Outbox
    from desk.results import ResultFiles
    from reader.camera import Camera
    from reader.face import FaceMatcher
    from reader.transport import Transport

__all__ = ["JST", "Attestor", "CheckBSource", "DeskPorts", "FaceLockStore", "JournalPort", "japan_now"]

JST = dt.timezone(dt.timedelta(hours=9))


def japan_now() -> dt.datetime:
    return dt.datetime.now(JST)


class JournalPort(VisualLockCounter, Protocol):
    """What a desk asks of its journal (desk/journal/store.py `JournalStore`, SQLite or PostgreSQL):
    every write goes through `apply` (desk/journal_ops.py), the rest are the counters and queues
    the flow reads."""

    @property
    def location(self) -> str: ...

    def apply(self, op: Applicable) -> object: ...

    def face_state(self, cert_fingerprint: str) -> FaceAuthState: ...

    def pending_outages(self) -> list[OutageItem]: ...


class FaceLockStore(Protocol):
    """The count of consecutive failed face authentications where the real system keeps it: on
    the card (docs/face-lock.md), so that another desk, reader or clinic sees the same count.

    The simulated card carries it (reader/face_counter.py `CardFaceCounter`). A card that cannot
    be asked (a real card: how a face-auth reader updates the card is not public) gives None, and
    the desk goes by its journal's mirror instead — the count of the face results the journal
    recorded, facility-wide on PostgreSQL, which the card's own count may exceed (attempts at
    other clinics' readers). The desk never resets the count: a success does, and a lock is
    released at the municipality only."""

    def consecutive_failures(self, cert_fingerprint: str) -> int | None: ...

    def record(self, cert_fingerprint: str, accepted: bool) -> int | None:
        """Count one face result; the count after it, or None when this card keeps none."""
        ...


class Attestor(Protocol):
    """The terminal's statement that it checked the holder (顔認証 / 目視), bound to the nonce."""

    def attest(self, nonce: bytes, certificate_der: bytes, method: AuthMethod, staff_id: str | None) -> bytes: ...


# 照合番号B read off the card front by the reader itself (a face-auth reader's camera; the
# simulator knows the printed card). None: nothing reads the front, staff type it.
CheckBSource = Callable[[], "str | None"]


def _nothing_reads_the_front() -> str | None:
    return None


@dataclass
class DeskPorts:
    """The devices and services of one desk. Without camera or matcher there is no 顔認証."""

    transport: Transport
    central: CentralSystem
    attestor: Attestor
    journal: JournalPort
    facility: FacilityConfig
    camera: Camera | None = None
    matcher: FaceMatcher | None = None
    check_b: CheckBSource = _nothing_reads_the_front
    # the day and time of the confirmations: the real clock, or a training scenario's day
    clock: Callable[[], dt.datetime] = field(default=japan_now)
    # the real clock, always: lockouts and counters never follow a scenario day
    wall_clock: Callable[[], dt.datetime] = field(default=japan_now)
    results: ResultFiles | None = None  # the result folder the レセコン reads
    outbox: Outbox | None = None  # where journal writes wait when the journal cannot take them
    # the card's own face count (training); None: the journal's mirror only (a real card)
    face_lock: FaceLockStore | None = None
