"""The interface the desk calls to reach the central eligibility system (オンライン資格確認等システム).

`SimCentralSystem` (sim/central.py) implements it for tests, training and `desk check`; an adapter
for the real system (request/response files in the terminal's req/res folders) can implement the
same protocol later.

Card confirmation (照会区分 1) in three steps:
1. `request_nonce()`: a fresh single-use challenge (valid for a few minutes).
2. The card signs it (暗証番号), or the terminal attests it checked the holder (顔認証 / 目視確認,
   desk/attestation.py).
3. `confirm_card(CardQuery)`: the central system checks nonce, signature or attestation, the
   certificate chain and its validity with the 3-month grace, then answers with OQSCD006.

Consent to share medical information travels with the confirmation (`CardQuery.consent`), as the
face-auth reader asks for it before the query: there is no separate consent call. The central
system records it with its own clock and a 24-hour validity, and records nothing for 資格確認限定型
facilities (`CardQuery.facility_type`).

Errors: every failure is a `CentralError` with a Japanese title and message. Authentication
failures are `CentralRejected` with a stable `reason`; `failure_name` maps any error to the
desk's FailureName (beyond-grace certificate → cert_beyond_grace, auth → auth_failed, the system
not answering → central_down).
"""

from __future__ import annotations

import datetime as dt
from enum import Enum
from typing import Protocol, runtime_checkable

from desk.models import CardQuery, Consent, ConsentItem, EligibilityReply, FailureName, NumbersQuery
from reader.staff_facing import StaffFacingError

__all__ = [
    "CentralSystem",
    "CentralError",
    "CentralUnavailable",
    "CentralTimeout",
    "CentralMalformedReply",
    "CentralRejected",
    "CentralRequestRefused",
    "CentralNotOffered",
    "CONSENT_VALIDITY",
    "NONCE_TTL",
    "make_consent",
    "consent_valid_at",
    "japan_time",
    "error_reply",
]

# Sample face-reader results: ConsTime + 24 h = AvailableTime; the seed: 同意情報登録後24時間.
CONSENT_VALIDITY = dt.timedelta(hours=24)
# How long a nonce from request_nonce() may be used (a design choice: long enough for a slow PIN entry).
NONCE_TTL = dt.timedelta(minutes=5)


@runtime_checkable
class CentralSystem(Protocol):
    def request_nonce(self) -> bytes:
        """A fresh challenge for the card to sign; single use, expires after NONCE_TTL."""
        ...

    def confirm_card(self, query: CardQuery) -> EligibilityReply:
        """照会区分 1. Raises CentralRejected when authentication fails."""
        ...

    def health(self) -> tuple[bool, str]:
        """For the status line: can the terminal reach the system right now, and how it answers."""
        ...

    def confirm_numbers(
        self, query: NumbersQuery, *, confirmation_date: dt.date, medical_institution_code: str
    ) -> EligibilityReply:
        """照会区分 2: by the numbers on a 資格確認書 or an old 健康保険証 (no card authentication)."""
        ...


class CentralError(StaffFacingError):
    """Base of every error from the central system. `code` is stable and goes into journals and result files."""

    title = "オンライン資格確認等システムのエラー"
    code = "central_error"
    failure: FailureName = FailureName.CENTRAL_DOWN  # what the desk makes of it (an outage by default)

    @property
    def failure_name(self) -> FailureName:
        return self.failure


class CentralUnavailable(CentralError):
    """The system cannot be reached (outage, network down): switch to the failure mode (障害時)."""

    title = "オンライン資格確認等システムに接続できません"
    code = "unavailable"


class CentralTimeout(CentralError):
    title = "オンライン資格確認等システムが応答しません"
    code = "timeout"


class CentralMalformedReply(CentralError):
    title = "オンライン資格確認等システムの応答が不正です"
    code = "malformed_reply"


class CentralRequestRefused(CentralError):
    """The 資格確認端末 answered a request with `.err`: it could not read it. Not an outage: the same
    request would be refused again, so it is never queued for a retry."""

    title = "資格確認端末が照会を受け付けませんでした"
    code = "request_refused"
    failure = FailureName.REQUEST_REFUSED


class CentralNotOffered(CentralError):
    """The configured connection does not offer this kind of confirmation (a folder exchange
    answers numbers queries, not card confirmations)."""

    title = "この接続ではカードによる資格確認ができません"
    code = "not_offered"
    failure = FailureName.CARD_ERROR


class CentralRejected(CentralError):
    """The central system refused the confirmation: the card or the terminal failed authentication."""

    title = "本人確認ができませんでした"

    class Reason(str, Enum):
        MALFORMED_CERTIFICATE = "malformed_certificate"
        UNKNOWN_CA = "unknown_ca"
        CERTIFICATE_NOT_YET_VALID = "certificate_not_yet_valid"
        CERTIFICATE_BEYOND_GRACE = "certificate_beyond_grace"
        SMARTPHONE_CERTIFICATE_EXPIRED = "smartphone_certificate_expired"  # phones have no grace
        CERTIFICATE_REVOKED = "certificate_revoked"  # J-LIS revoked it (loss, or a phone replaced)
        BAD_SIGNATURE = "bad_signature"
        BAD_ATTESTATION = "bad_attestation"
        MISSING_PROOF = "missing_proof"
        NONCE_UNKNOWN = "nonce_unknown"
        NONCE_REUSED = "nonce_reused"
        NONCE_EXPIRED = "nonce_expired"

    _MESSAGES = {
        Reason.MALFORMED_CERTIFICATE: "カードの電子証明書を読み取れませんでした。カードを置き直してください。",
        Reason.UNKNOWN_CA: "カードの電子証明書の発行元を、接続先のオンライン資格確認等システムでは確認できません。",
        Reason.CERTIFICATE_NOT_YET_VALID: "カードの電子証明書がまだ有効になっていません。",
        Reason.CERTIFICATE_BEYOND_GRACE: (
            "電子証明書の有効期限が切れ、3か月の猶予期間も過ぎています。"
            "マイナポータルの資格情報画面、または資格情報のお知らせ・資格確認書で確認してください。"
            "電子証明書の更新はお住まいの市区町村の窓口で行えます。"
        ),
        Reason.SMARTPHONE_CERTIFICATE_EXPIRED: (
            "スマートフォンの電子証明書の有効期限が切れています（スマートフォンには3か月の猶予期間がありません）。"
            "マイナンバーカードか資格確認書で確認してください。"
        ),
        Reason.CERTIFICATE_REVOKED: (
            "電子証明書が失効しています（紛失の届出、またはスマートフォンの機種変更で新しい端末に発行されたときなど）。"
        ),
        Reason.BAD_SIGNATURE: "暗証番号による本人確認ができませんでした。もう一度お試しください。",
        Reason.BAD_ATTESTATION: "カードリーダーの本人確認結果を検証できませんでした。端末の設定を確認してください。",
        Reason.MISSING_PROOF: "本人確認の結果が送られていません。",
        Reason.NONCE_UNKNOWN: "照会の手順が正しくありません。最初からやり直してください。",
        Reason.NONCE_REUSED: "同じ照会が二度送られました。最初からやり直してください。",
        Reason.NONCE_EXPIRED: "時間がかかりすぎたため照会が無効になりました。最初からやり直してください。",
    }

    def __init__(self, reason: CentralRejected.Reason, detail: str | None = None) -> None:
        self.reason = reason
        msg = self._MESSAGES[reason]
        title = {
            self.Reason.CERTIFICATE_BEYOND_GRACE: "電子証明書の有効期限切れ",
            self.Reason.SMARTPHONE_CERTIFICATE_EXPIRED: "スマホ用電子証明書の有効期限切れ",
            self.Reason.CERTIFICATE_REVOKED: "電子証明書の失効",
            self.Reason.UNKNOWN_CA: "電子証明書の発行元を確認できません",
        }.get(reason)
        super().__init__(f"{msg}（{detail}）" if detail else msg, title)

    @property
    def code(self) -> str:  # type: ignore[override]
        return self.reason.value

    @property
    def failure_name(self) -> FailureName:
        if self.reason is self.Reason.CERTIFICATE_BEYOND_GRACE:
            return FailureName.CERT_BEYOND_GRACE
        if self.reason is self.Reason.UNKNOWN_CA:
            return FailureName.CERT_UNTRUSTED
        if self.reason is self.Reason.SMARTPHONE_CERTIFICATE_EXPIRED:
            return FailureName.SMARTPHONE_CERT_EXPIRED
        if self.reason is self.Reason.CERTIFICATE_REVOKED:
            return FailureName.CERT_REVOKED
        return FailureName.AUTH_FAILED


_JST = dt.timezone(dt.timedelta(hours=9))


def japan_time(moment: dt.datetime) -> dt.datetime:
    """Naive Japan time to the second, as the result files carry it (aware datetimes are converted)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(_JST).replace(tzinfo=None)
    return moment.replace(microsecond=0)


def make_consent(items: frozenset[ConsentItem] | set[ConsentItem], at: dt.datetime) -> Consent:
    """A consent given at `at`, valid for CONSENT_VALIDITY. An empty set records that the patient declined."""
    at = japan_time(at)
    return Consent(items=frozenset(items), given_at=at, valid_until=at + CONSENT_VALIDITY)


def consent_valid_at(consent: Consent | None, at: dt.datetime) -> bool:
    """True while the medical information may be viewed under this consent (boundary inclusive)."""
    if consent is None or not consent.items:
        return False
    at = japan_time(at)
    return japan_time(consent.given_at) <= at <= japan_time(consent.valid_until)


def error_reply(
    error: CentralError,
    *,
    reference_classification: int,
    confirmation_date: dt.date,
    at: dt.datetime,
    medical_institution_code: str | None = None,
) -> EligibilityReply:
    """A 異常終了 result for an error, so that failed confirmations can be exported like the others."""
    return EligibilityReply(
        process_execution_time=japan_time(at),
        confirmation_date=confirmation_date,
        reference_classification=reference_classification,
        segment_of_result=9,
        processing_result_status=2,
        error_code=error.code,
        error_message=f"{error.title}: {error.msg}",
        medical_institution_code=medical_institution_code,
    )
