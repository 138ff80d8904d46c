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
from desk.codes import LIMIT_CLASSIFICATION, LIMIT_FLAG, PERSONAL_FAMILY, SEX, SPECIFIC_DISEASE, label
from desk.copay import CopaySource, copay_to_collect, copay_with_source
from desk.documents import DocumentRule
from desk.models import (
    AuthMethod,
    Consent,
    Device,
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

_DETAIL_KEYS = (
    "birth_date", "sex", "personal_family", "qualification_date", "disqualification_date", "copay_source",
    "elderly_recipient", "limit", "limit_consent",
)


class Outcome(Model):
    code: int | None  # OQSCD006, or None when the confirmation did not get an answer
    name: str  # 有効 … or the failure name (auth_failed, central_down …)
    label: str  # Japanese, for the screen
    failure: FailureName | None = None
    method: AuthMethod | None = None
    device: Device = Device.CARD  # what was held over the reader (a phone counts as マイナ保険証)
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
    copay_source: CopaySource | None = None  # what tells the share: the record, 高齢受給者, or the age rule
    limit_consent: bool | None = None  # the patient agreed that 限度額 information is provided (None: no answer)

    def result_details(self) -> dict[str, Any]:
        """What the terminal shows of the qualification (the seed: with マイナ保険証 the 高齢受給者証,
        限度額適用認定証 and 特定疾病療養受療証 need not be shown, because this does)."""
        r = self.record
        if r is None:
            return {key: None for key in _DETAIL_KEYS} | {"specific_disease": []}
        elderly = r.elderly_recipient
        return {
            "birth_date": r.birth_date.isoformat(),
            "sex": label(SEX, r.sex),
            "personal_family": label(PERSONAL_FAMILY, r.personal_family_classification),
            "qualification_date": r.valid_from.isoformat(),
            "disqualification_date": r.valid_to.isoformat() if r.valid_to else None,
            "copay_source": self.copay_source,
            "elderly_recipient": None if elderly is None else {
                "ratio_percent": elderly.contribution_ratio, "valid_start": elderly.valid_start.isoformat(),
                "valid_end": elderly.valid_end.isoformat() if elderly.valid_end else None,
            },
            "limit": None if r.limit is None else {
                "classification": r.limit.classification, "classification_label": label(LIMIT_CLASSIFICATION, r.limit.classification),
                "flag": r.limit.classification_flag, "flag_label": label(LIMIT_FLAG, r.limit.classification_flag),
                "valid_start": r.limit.valid_start.isoformat(),
                "valid_end": r.limit.valid_end.isoformat() if r.limit.valid_end else None,
            },
            "limit_consent": self.limit_consent,
            "specific_disease": [{"code": c, "label": label(SPECIFIC_DISEASE, c)} for c in r.specific_disease],
        }

    def to_check_json(self) -> dict[str, Any]:
        """The `desk check --json` object (stable keys; see README)."""
        return {
            "outcome": {"code": self.code, "name": self.name, "label": self.label},
            "method": self.method.value if self.method else None,
            "device": self.device.value,
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
        } | self.result_details()


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
            copay_source=copay_with_source(record, today)[1] if record is not None and copay is not None else None,
            limit_consent=reply.limit_consent,
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
