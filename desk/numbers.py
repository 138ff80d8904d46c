"""照会区分 2: a confirmation by the numbers on a 資格確認書 or an old 健康保険証 (no card)."""

from __future__ import annotations

from desk.central import CentralError
from desk.confirmation_log import ConfirmationLog
from desk.models import AuthMethod, Channel, FailureName, NumbersQuery
from desk.outcome import Outcome, build_outcome
from desk.ports import DeskPorts

__all__ = ["query_numbers"]


def query_numbers(ports: DeskPorts, log: ConfirmationLog, query: NumbersQuery) -> Outcome:
    """Ask the central system; journal the answer with its result files (or keep the query to
    ask again while the system cannot be reached). `log` says where the record went."""
    facility = ports.facility
    now = ports.clock()
    log.new_patient()
    try:
        reply = ports.central.confirm_numbers(
            query, confirmation_date=now.date(), medical_institution_code=facility.medical_institution_code
        )
    except CentralError as exc:
        if exc.failure_name is FailureName.CENTRAL_DOWN:
            log.numbers_outage({"numbers": query.model_dump(mode="json")}, now)
        else:
            log.answer(now, AuthMethod.NONE, reply=None, failure=exc.failure_name, staff_id=None, fingerprint=None,
                       channel=Channel.NUMBERS)
        return build_outcome(
            failure=exc.failure_name, message=str(exc), method=AuthMethod.NONE, today=now.date(), numbers=query
        )
    log.answer(now, AuthMethod.NONE, reply=reply, failure=None, staff_id=None, fingerprint=None, channel=Channel.NUMBERS)
    return build_outcome(reply=reply, method=AuthMethod.NONE, today=now.date(), numbers=query)
