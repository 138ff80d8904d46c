"""What the receptionist needs once a confirmation ends: the answer, the co-pay, the steps, the claim.

Built from the central system's reply or from the failure, by the rules in desk/rules.py,
desk/copay.py and desk/claim.py. This is also the JSON `desk check` prints.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import Field

from desk.certificate_grace import certificate_status
from desk.claim import Claim, claim_for, shown_record
from desk.copay import copay_to_collect
from desk.documents import DocumentRule
from desk.models import (
    AuthMethod,
    Consent,
    EligibilityReply,
    FailureName,
    Model,
    NumbersQuery,
    QualificationRecord,
    Validity,
)
from desk.rules import Step, steps_for
from reader.models import BasicFour

__all__ = ["Outcome", "build_outcome"]


class Outcome(Model):
    code: int | None  # OQSCD006, or None when the confirmation did not get an answer
    name: str  # 有効 … or the failure name (auth_failed, central_down …)
    label: str  # Japanese, for the screen
    failure: FailureName | None = None
    method: AuthMethod | None = None
    message: str = ""
    copay_percent: int | None = None
    insurer_number: str | None = None
    insurer_name: str | None = None
    symbol: str | None = None
    number: str | None = None
    branch: str | None = None
    person_name: str | None = None
    person_kana: str | None = None
    steps: list[Step] = Field(default_factory=list)
    claim: Claim
    renewal_alert: bool = False
    renewal_message: str | None = None
    consent: Consent | None = None
    record: QualificationRecord | None = None
    demo: bool = False  # a real card on the simulated central system: nothing was confirmed
    document: DocumentRule | None = None  # a query by numbers: the document presented and its rule of the day

    def to_check_json(self) -> dict[str, Any]:
        """The `desk check --json` object (stable keys; see README)."""
        return {
            "outcome": {"code": self.code, "name": self.name, "label": self.label},
            "method": self.method.value if self.method else None,
            "message": self.message,
            "copay_percent": self.copay_percent,
            "insurer_number": self.insurer_number,
            "insurer_name": self.insurer_name,
            "symbol": self.symbol,
            "number": self.number,
            "branch": self.branch,
            "steps": [{"code": s.code, "text": s.text} for s in self.steps],
            "claim": {
                "mode": self.claim.mode.value,
                "insurer_number": self.claim.insurer_number,
                "symbol": self.claim.symbol,
                "number": self.claim.number,
                "branch": self.claim.branch,
                "summary": self.claim.summary,
            },
            "renewal_alert": self.renewal_alert,
            "renewal_message": self.renewal_message,
            "consent": sorted(i.value for i in self.consent.items) if self.consent else [],
            "demo": self.demo,
            "document": None if self.document is None else {
                "name": self.document.document.value, "label": self.document.document.label,
                "with_card": self.document.with_card, "decision": self.document.decision,
                "open": self.document.open, "source": self.document.source,
            },
        }


def build_outcome(
    *,
    today: dt.date,
    reply: EligibilityReply | None = None,
    failure: FailureName | None = None,
    message: str = "",
    method: AuthMethod | None = None,
    numbers: NumbersQuery | None = None,
    basic_four: BasicFour | None = None,
    certificate_not_after: dt.date | None = None,
) -> Outcome:
    if reply is not None and reply.validity is not None:
        records = list(reply.records)
        record = shown_record(records, today)
        not_after = reply.certificate_not_after or certificate_not_after
        status = certificate_status(not_after, today) if not_after else None
        validity = Validity(reply.validity)
        steps = steps_for(validity, today=today, records=records, certificate_not_after=not_after, by_card=reply.reference_classification == 1)
        renewal = bool(status and status.renewal_alert)
        copay = copay_to_collect(record, today)
        return Outcome(
            code=int(validity),
            name=validity.label,
            label=f"{validity.label}（デモ・資格確認ではありません）" if reply.demo else validity.label,
            demo=reply.demo,
            message=message,
            method=method,
            copay_percent=copay,
            insurer_number=record.insurer_number.strip() if record else None,
            insurer_name=record.insurer_name if record else None,
            symbol=record.insured_card_symbol if record else None,
            number=record.insured_identification_number if record else None,
            branch=record.insured_branch_number if record else None,
            person_name=record.name if record else None,
            person_kana=record.name_kana if record else None,
            steps=steps,
            claim=claim_for(validity, today=today, records=records),
            renewal_alert=renewal,
            renewal_message=status.label if renewal and status else None,
            consent=reply.consent,
            record=record,
        )
    failure = failure or FailureName.CENTRAL_DOWN
    birth = None
    if basic_four is not None:
        try:
            birth = dt.datetime.strptime(basic_four.birth_date, "%Y%m%d").date()
        except ValueError:
            birth = None
    if numbers is not None:
        birth = numbers.birth_date
    steps = steps_for(failure, today=today, certificate_not_after=certificate_not_after, birth_date=birth)
    return Outcome(
        code=None,
        name=failure.value,
        label=failure.label,
        failure=failure,
        method=method,
        message=message,
        copay_percent=None,
        steps=steps,
        claim=claim_for(failure, today=today),
    )
