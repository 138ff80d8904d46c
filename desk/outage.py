"""事後確認: re-running the confirmations queued while the central system was down.

The patient has gone home: a PIN signature can't be made again, so the terminal attests the
check it did at the desk, and the method stays on record as it was.
"""

from __future__ import annotations

import base64
import datetime as dt

from desk.central import CentralError
from desk.journal import OutageItem
from desk.journal_ops import OutageDoneOp
from desk.models import CardProof, CardQuery, Channel, EligibilityReply, FailureName, NumbersQuery, Validity
from desk.outcome import Outcome, build_outcome
from desk.ports import DeskPorts
from desk.recorder import Recorder
from desk.results import deliver, owed

__all__ = ["RERUN_STAFF_ID", "retry_outage_queue"]

RERUN_STAFF_ID = "outage-requery"  # who re-ran a queued confirmation: the terminal itself


def retry_outage_queue(ports: DeskPorts, recorder: Recorder) -> list[Outcome]:
    """Re-run every pending item in order; stop at the first one the system still cannot take."""
    outcomes = []
    # a re-run already made whose record still waits in the outbox is not made again
    waiting = {op.item_id for op in recorder.outbox.pending() if isinstance(op, OutageDoneOp)}
    for item in ports.journal.pending_outages():
        if item.id in waiting:
            continue
        now = ports.clock()
        try:
            reply = _rerun(ports, item)
        except CentralError as exc:
            if exc.failure_name is FailureName.CENTRAL_DOWN:
                break  # still down: keep the rest queued
            _complete(ports, recorder, item, exc.failure_name, now)
            outcomes.append(build_outcome(failure=exc.failure_name, message=str(exc), method=item.method, today=now.date()))
            continue
        identified, stem = owed(ports.results, reply)
        _complete(
            ports, recorder, item, reply.validity if reply.validity is not None else FailureName.CENTRAL_DOWN, now,
            demo=reply.demo, reply=identified, result_stem=stem,
        )
        deliver(ports.results, recorder, identified, stem)
        outcomes.append(build_outcome(reply=reply, method=item.method, today=now.date()))
    return outcomes


def _complete(
    ports: DeskPorts, recorder: Recorder, item: OutageItem, result: Validity | FailureName, at: dt.datetime,
    *, demo: bool = False, reply: EligibilityReply | None = None, result_stem: str | None = None,
) -> None:
    recorder.record(OutageDoneOp(
        item_id=item.id, validity=result if isinstance(result, Validity) else None,
        failure=result if isinstance(result, FailureName) else None, staff_id=RERUN_STAFF_ID, at=at, demo=demo,
        reply=reply, result_stem=result_stem,
    ))


def _rerun(ports: DeskPorts, item: OutageItem) -> EligibilityReply:
    central, facility = ports.central, ports.facility
    if item.channel is Channel.NUMBERS:
        query = NumbersQuery.model_validate(item.payload["numbers"])
        return central.confirm_numbers(
            query, confirmation_date=item.enqueued_at.date(), medical_institution_code=facility.medical_institution_code
        )
    certificate_der = base64.b64decode(item.payload["certificate_der"])
    nonce = central.request_nonce()
    attestation = ports.attestor.attest(nonce, certificate_der, item.method, RERUN_STAFF_ID)
    proof = CardProof(method=item.method, attestation=attestation, staff_id=RERUN_STAFF_ID)
    return central.confirm_card(
        CardQuery(
            certificate_der=certificate_der, nonce=nonce, proof=proof,
            confirmation_date=dt.date.fromisoformat(item.payload["confirmation_date"]),
            medical_institution_code=facility.medical_institution_code,
            facility_type=facility.facility_type,
        )
    )
