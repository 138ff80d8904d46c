"""What the desk keeps of one patient's confirmation, and where each piece is: the journal record
(or the outbox), the 目視 use it came through, the face counter, and the result files.

The session hands it what happened; it builds the journal ops, keeps them through the recorder
(journal, else outbox) and the result folder (desk/results.py), and remembers for the screen and
`desk check` what could not be kept: a confirmation is only done once its record is durable.
"""

from __future__ import annotations

import base64
import datetime as dt
import logging

from desk.export import ExportError
from desk.journal import ConfirmationRecord, FaceAuthState
from desk.journal_ops import ConfirmationOp, FaceResultOp, JournalOp, OutageOp, VisualUseOp
from desk.models import AuthMethod, Channel, Device, EligibilityReply, FailureName
from desk.outbox import OutboxError
from desk.ports import DeskPorts
from desk.recorder import Recorder
from desk.results import deliver, owed

__all__ = ["ConfirmationLog"]

_log = logging.getLogger("madoguchi.desk")


class ConfirmationLog:
    def __init__(self, ports: DeskPorts, recorder: Recorder) -> None:
        self.ports = ports
        self.recorder = recorder
        # Where the last confirmation's record is: "journal", "outbox" (kept on disk, written to
        # the journal later) or "none" (neither could take it: `not_recorded` says why).
        self.record_place: str | None = None
        self.not_recorded: OutboxError | None = None
        # The result files could not be written: the answer waits in the journal for the folder.
        self.export_problem: ExportError | None = None
        self._visual_use_op: str | None = None  # the 目視 use the next confirmation came through

    def new_patient(self) -> None:
        self.record_place = self.not_recorded = self.export_problem = self._visual_use_op = None

    def keep(self, op: JournalOp) -> object:
        """Journal `op` or keep it in the outbox; None when it waits there, or when it could be
        kept nowhere (then `not_recorded` says why)."""
        try:
            return self.recorder.record(op)
        except OutboxError as exc:
            self.not_recorded = exc
            _log.error("not recorded: %s", exc.title)
            return None

    def face_result(self, fingerprint: str, accepted: bool) -> FaceAuthState | None:
        """The card's consecutive face failures as the journal now counts them (None: it waits)."""
        state = self.keep(FaceResultOp(cert_fingerprint=fingerprint, accepted=accepted, at=self.ports.wall_clock()))
        return state if isinstance(state, FaceAuthState) else None

    def visual_use(self, staff_id: str, fingerprint: str | None, at: dt.datetime) -> OutboxError | None:
        """Each 目視 use is on record before it counts: None when kept, else why it is not."""
        use = VisualUseOp(staff_id=staff_id, cert_fingerprint=fingerprint, at=at)
        self.not_recorded = None
        self.keep(use)
        if self.not_recorded is None:
            self._visual_use_op = use.op_id  # the confirmation it leads to names it
        return self.not_recorded

    def outage(
        self, method: AuthMethod, fingerprint: str | None, certificate_der: bytes, at: dt.datetime,
        *, device: Device = Device.CARD,
    ) -> None:
        """The 障害時 confirmation and its re-run queued in one transaction (desk/outage.py re-runs it)."""
        payload = {
            "certificate_der": base64.b64encode(certificate_der).decode("ascii"),
            "confirmation_date": at.date().isoformat(),
            "device": device.value,
        }
        self._confirmation(OutageOp(
            channel=Channel.MYNA, method=method, facility_type=self.ports.facility.facility_type,
            cert_fingerprint=fingerprint, at=at, payload=payload,
        ))

    def numbers_outage(self, payload: dict[str, object], at: dt.datetime) -> None:
        """A numbers query the central system could not take: kept to be asked again (desk/outage.py)."""
        self._confirmation(OutageOp(
            channel=Channel.NUMBERS, method=AuthMethod.NONE, facility_type=self.ports.facility.facility_type,
            payload=payload, at=at,
        ))

    def answer(
        self, at: dt.datetime, method: AuthMethod, *, reply: EligibilityReply | None, failure: FailureName | None,
        staff_id: str | None, fingerprint: str | None, channel: Channel = Channel.MYNA, device: Device = Device.CARD,
    ) -> None:
        """A confirmation that ended (an answer or a failure): journalled with its answer, which is
        owed to the result folder until its files are written (one unit, desk/results.py)."""
        if reply is not None and reply.validity is None:
            failure = FailureName.CENTRAL_DOWN
        reply, stem = owed(self.ports.results, reply)  # the files' name, fixed before the record
        record = ConfirmationRecord(
            at=at, channel=channel, method=method, validity=reply.validity if reply else None, failure=failure,
            facility_type=self.ports.facility.facility_type, cert_fingerprint=fingerprint, staff_id=staff_id,
            demo=reply is not None and reply.demo, result_stem=stem, device=device,
        )
        self._confirmation(ConfirmationOp(record=record, visual_use_op=self._visual_use_op, reply=reply))
        if self.record_place != "none":  # not recorded: staff redo it, and one result file is enough
            self.export_problem = deliver(self.ports.results, self.recorder, reply, stem)

    def _confirmation(self, op: JournalOp) -> None:
        self.not_recorded = None
        self.keep(op)
        self.record_place = "none" if self.not_recorded else ("outbox" if self.recorder.waiting else "journal")
