"""照会区分 2: a confirmation by the numbers on a 資格確認書 or an old 健康保険証 (no card)."""

from __future__ import annotations

from desk.central import CentralError
from desk.journal import ConfirmationRecord
from desk.journal_ops import ConfirmationOp, OutageOp
from desk.models import AuthMethod, Channel, FailureName, NumbersQuery
from desk.outcome import Outcome, build_outcome
from desk.ports import DeskPorts
from desk.recorder import Recorder
from desk.results import deliver, owed

__all__ = ["query_numbers"]


def query_numbers(ports: DeskPorts, recorder: Recorder, query: NumbersQuery) -> Outcome:
    """Ask the central system; journal the answer (or queue the query while it is down)."""
    facility = ports.facility
    now = ports.clock()
    try:
        reply = ports.central.confirm_numbers(
            query, confirmation_date=now.date(), medical_institution_code=facility.medical_institution_code
        )
    except CentralError as exc:
        if exc.failure_name is FailureName.CENTRAL_DOWN:
            payload = {"numbers": query.model_dump(mode="json")}
            recorder.record(OutageOp(
                channel=Channel.NUMBERS, method=AuthMethod.NONE, facility_type=facility.facility_type,
                payload=payload, at=now,
            ))
        else:
            record = ConfirmationRecord(
                at=now, channel=Channel.NUMBERS, method=AuthMethod.NONE, failure=exc.failure_name,
                facility_type=facility.facility_type,
            )
            recorder.record(ConfirmationOp(record=record))
        return build_outcome(
            failure=exc.failure_name, message=str(exc), method=AuthMethod.NONE, today=now.date(), numbers=query
        )
    identified, stem = owed(ports.results, reply)
    record = ConfirmationRecord(
        at=now, channel=Channel.NUMBERS, method=AuthMethod.NONE, validity=reply.validity,
        failure=None if reply.validity else FailureName.CENTRAL_DOWN, facility_type=facility.facility_type,
        result_stem=stem,
    )
    recorder.record(ConfirmationOp(record=record, reply=identified))
    deliver(ports.results, recorder, identified, stem)  # if it fails, the next start writes it
    return build_outcome(reply=reply, method=AuthMethod.NONE, today=now.date(), numbers=query)
