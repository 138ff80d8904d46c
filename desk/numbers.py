"""照会区分 2: a confirmation by the numbers on a 資格確認書 or an old 健康保険証 (no card)."""

from __future__ import annotations

import datetime as dt

from desk.central import CentralError
from desk.confirmation_log import ConfirmationLog
from desk.copay import is_later_elderly_insurer
from desk.documents import Document, DocumentRule, rule_for
from desk.models import AuthMethod, Channel, FailureName, NumbersQuery
from desk.outcome import Outcome, build_outcome
from desk.ports import DeskPorts
from desk.rules import Step

__all__ = ["query_numbers"]


def query_numbers(
    ports: DeskPorts, log: ConfirmationLog, query: NumbersQuery, *, document: Document | None = None, with_card: bool = False,
) -> Outcome:
    """Ask the central system; journal the answer with its result files (or keep the query to
    ask again while the system cannot be reached). `log` says where the record went.

    With the `document` the patient presented, its rule of the day comes first: a document not
    accepted that day is answered with its steps and nothing is queried or recorded."""
    now = ports.clock()
    log.new_patient()
    # a 後期高齢者医療 card expired earlier than the others
    later_elderly = is_later_elderly_insurer(query.insurer_number)
    rule = rule_for(document, now.date(), with_card=with_card, later_elderly=later_elderly) if document is not None else None
    if rule is not None and not rule.accepted:
        outcome = build_outcome(failure=FailureName.DOCUMENT_NOT_ACCEPTED, message=rule.step, method=AuthMethod.NONE,
                                today=now.date(), numbers=query)
        return _with_document(outcome, rule)
    return _with_document(_ask(ports, log, query, now), rule)


def _with_document(outcome: Outcome, rule: DocumentRule | None) -> Outcome:
    if rule is None:
        return outcome
    step = Step(code=f"document_{rule.document.value.replace('-', '_')}_{rule.decision}", text=rule.step)
    return outcome.model_copy(update={"document": rule, "steps": [step, *outcome.steps]})


def _ask(ports: DeskPorts, log: ConfirmationLog, query: NumbersQuery, now: dt.datetime) -> Outcome:
    facility = ports.facility
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
