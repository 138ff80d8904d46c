"""Every write the desk makes to its journal, as data: so a write the journal cannot take now can
wait in the outbox on disk (desk/outbox.py) and be applied later, in order and exactly once.

Each op carries an id (`op_id`); `JournalStore.apply` notes it in the same transaction as the write.
Nothing here may carry a PIN, a password or a My Number (the journal's own checks apply).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

from pydantic import Field, TypeAdapter

from desk.journal import ConfirmationRecord, FaceAuthState, JournalStore
from desk.models import STAFF_ID_MAX, AuthMethod, Channel, EligibilityReply, FacilityType, FailureName, Model, Validity

__all__ = [
    "ConfirmationOp",
    "ExportDoneOp",
    "FaceResultOp",
    "JournalOp",
    "OutageDoneOp",
    "OutageOp",
    "VisualUseOp",
    "parse_op",
]


# A random id spelt in letters only: hex digits could run to twelve in a row, and nothing the desk
# stores may look like a My Number (the privacy test searches every file for one).
_LETTERS_FOR_DIGITS = str.maketrans("0123456789", "ghijklmnop")


def _new_id() -> str:
    return uuid.uuid4().hex.translate(_LETTERS_FOR_DIGITS)


class _Op(Model):
    op_id: str = Field(default_factory=_new_id, pattern=r"^[a-p]{32}$")


def _queue_export(journal: JournalStore, stem: str | None, reply: EligibilityReply | None) -> None:
    if stem is not None and reply is not None:
        journal.queue_export(stem, reply.model_dump_json())


class ConfirmationOp(_Op):
    kind: Literal["confirmation"] = "confirmation"
    record: ConfirmationRecord
    visual_use_op: str | None = None  # the 目視 use that led to it, linked in the same transaction
    # the answer, owed to the result folder until its files are written (record.result_stem)
    reply: EligibilityReply | None = None

    def run(self, journal: JournalStore) -> int:
        confirmation_id = journal.record_confirmation(self.record)
        if self.visual_use_op is not None:
            journal.link_visual_use(self.visual_use_op, confirmation_id)
        _queue_export(journal, self.record.result_stem, self.reply)
        return confirmation_id


class ExportDoneOp(_Op):
    """A result's files are in the folder: the journal owes it nothing more."""

    kind: Literal["export_done"] = "export_done"
    stem: str

    def run(self, journal: JournalStore) -> None:
        journal.export_done(self.stem)


class VisualUseOp(_Op):
    kind: Literal["visual_use"] = "visual_use"
    staff_id: str = Field(min_length=1, max_length=STAFF_ID_MAX)
    cert_fingerprint: str | None = None
    at: dt.datetime

    def run(self, journal: JournalStore) -> int:
        return journal.record_visual_use(self.staff_id, cert_fingerprint=self.cert_fingerprint, at=self.at, op_id=self.op_id)


class OutageOp(_Op):
    kind: Literal["outage"] = "outage"
    channel: Channel
    method: AuthMethod
    facility_type: FacilityType
    cert_fingerprint: str | None = None
    payload: dict[str, Any] = Field(default_factory=dict)
    at: dt.datetime

    def run(self, journal: JournalStore) -> int:
        return journal.enqueue_outage(
            channel=self.channel, method=self.method, facility_type=self.facility_type,
            cert_fingerprint=self.cert_fingerprint, payload=self.payload, at=self.at,
        )


class OutageDoneOp(_Op):
    kind: Literal["outage_done"] = "outage_done"
    item_id: int
    validity: Validity | None = None
    failure: FailureName | None = None
    staff_id: str | None = None
    at: dt.datetime
    demo: bool = False  # the re-run answered for a real card in demo mode
    result_stem: str | None = None
    reply: EligibilityReply | None = None

    def run(self, journal: JournalStore) -> int:
        outcome = self.validity if self.validity is not None else (self.failure or FailureName.CENTRAL_DOWN)
        confirmation_id = journal.complete_outage(
            self.item_id, outcome, staff_id=self.staff_id, at=self.at, demo=self.demo, result_stem=self.result_stem
        )
        _queue_export(journal, self.result_stem, self.reply)
        return confirmation_id


class FaceResultOp(_Op):
    kind: Literal["face"] = "face"
    cert_fingerprint: str
    accepted: bool
    at: dt.datetime

    def run(self, journal: JournalStore) -> FaceAuthState:
        if self.accepted:
            return journal.record_face_success(self.cert_fingerprint, at=self.at)
        return journal.record_face_failure(self.cert_fingerprint, at=self.at)


JournalOp = Annotated[
    ConfirmationOp | VisualUseOp | OutageOp | OutageDoneOp | FaceResultOp | ExportDoneOp, Field(discriminator="kind")
]
_ADAPTER: TypeAdapter[JournalOp] = TypeAdapter(JournalOp)


def parse_op(text: str) -> JournalOp:
    """One op from its JSON (ValidationError / ValueError for anything else)."""
    return _ADAPTER.validate_json(text)
