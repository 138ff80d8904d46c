"""Domain models shared by the desk, the central-system interface and the journal.

Element names of the eligibility reply follow the 資格確認結果 XML (shared/research/
eligibility-anchors.md §1.1-1.3); the Python names are snake_case of the same words.
"""

from __future__ import annotations

import datetime as dt
from enum import Enum, IntEnum

from pydantic import BaseModel, ConfigDict, Field

from reader.models import Device  # what was held over the reader: card, Android or iPhone

__all__ = [
    "Device",
    "AuthMethod",
    "Channel",
    "FacilityType",
    "Validity",
    "FailureName",
    "ConsentItem",
    "Consent",
    "ElderlyRecipientInfo",
    "LimitInfo",
    "QualificationRecord",
    "NumbersQuery",
    "CardProof",
    "CardQuery",
    "EligibilityReply",
]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AuthMethod(str, Enum):
    FACE = "face"  # 顔認証
    PIN = "pin"  # 暗証番号
    VISUAL = "visual"  # 目視確認
    NONE = "none"  # query by numbers: no card authentication
    DEVICE = "device"  # an iPhone's Face ID / Touch ID on the phone opened its key: no PIN at the desk

    @property
    def label(self) -> str:
        return {"face": "顔認証", "pin": "暗証番号", "visual": "目視確認", "none": "なし", "device": "端末の生体認証"}[
            self.value
        ]


class Channel(str, Enum):
    MYNA = "myna"  # マイナ保険証 (照会区分 1)
    NUMBERS = "numbers"  # 資格確認書・保険証の番号 (照会区分 2)
    OUTAGE = "outage"  # 障害時: confirmation could not reach the central system

    @property
    def label(self) -> str:
        return {"myna": "マイナ保険証", "numbers": "被保険者番号等", "outage": "障害時"}[self.value]


class FacilityType(IntEnum):
    """The three ways a facility confirms eligibility (seed: 各種施設類型)."""

    NORMAL = 1  # ① 通常のオンライン資格確認 (顔認証付きカードリーダー)
    HOME_CONSENT = 2  # ② 居宅同意取得型 (モバイル端末)
    QUALIFICATION_ONLY = 3  # ③ 資格確認限定型: no consent, no medical information

    @property
    def label(self) -> str:
        return {1: "通常", 2: "居宅同意取得型", 3: "資格確認限定型"}[self.value]


class Validity(IntEnum):
    """OQSCD006 資格有効性."""

    VALID = 1
    INVALID = 2
    INVALID_NEW_EXISTS = 3
    NOT_FOUND = 4
    MULTIPLE = 5

    @property
    def label(self) -> str:
        return {1: "有効", 2: "無効", 3: "無効（新しい資格あり）", 4: "該当資格なし", 5: "複数該当"}[self.value]


# Consecutive face failures that lock 顔認証 for a card (MHLW via TBS); the flow offers the method
# and the journal counts the failures against this one number.
FACE_LOCK_AFTER = 10
# The longest staff ID the desk takes and the journal keeps (checked where it is typed).
STAFF_ID_MAX = 64


def face_locked(consecutive_failures: int) -> bool:
    """Whether this many consecutive face failures lock 顔認証 for the card."""
    return consecutive_failures >= FACE_LOCK_AFTER


class FailureName(str, Enum):
    """Why a confirmation ended without an OQSCD006 code."""

    AUTH_FAILED = "auth_failed"
    PIN_BLOCKED = "pin_blocked"
    FACE_LOCKED = "face_locked"
    VISUAL_LOCKED = "visual_locked"
    CERT_BEYOND_GRACE = "cert_beyond_grace"
    CERT_UNTRUSTED = "cert_untrusted"  # the central system does not know the certificate's issuer
    CERT_REVOKED = "cert_revoked"  # J-LIS revoked it: a loss reported, or a phone's when another phone got it
    NOT_MY_NUMBER_CARD = "not_my_number_card"
    CARD_REMOVED = "card_removed"
    CARD_ERROR = "card_error"  # the card or reader answered, but not sensibly (machine failure)
    CENTRAL_DOWN = "central_down"
    # the 資格確認端末 could not read the query (`.err` in res/): sending it again changes nothing
    REQUEST_REFUSED = "request_refused"
    # the document presented is not accepted on that day (desk/documents.py): nothing was queried
    DOCUMENT_NOT_ACCEPTED = "document_not_accepted"
    # a smartphone carrying the スマホ用電子証明書 (docs/smartphone.md) that cannot confirm today:
    # an iPhone not opened on the phone, the phone's own PIN locked, its certificate expired (no grace)
    SMARTPHONE_NOT_UNLOCKED = "smartphone_not_unlocked"
    SMARTPHONE_PIN_BLOCKED = "smartphone_pin_blocked"
    SMARTPHONE_CERT_EXPIRED = "smartphone_cert_expired"

    @property
    def label(self) -> str:
        return {
            "auth_failed": "本人確認できませんでした",
            "pin_blocked": "暗証番号ロック",
            "face_locked": "顔認証ロック",
            "visual_locked": "目視確認ロック",
            "cert_beyond_grace": "電子証明書の期限切れ（猶予期間経過）",
            "cert_untrusted": "電子証明書の発行元を確認できません",
            "cert_revoked": "電子証明書の失効",
            "not_my_number_card": "マイナンバーカードではありません",
            "card_removed": "カードが取り外されました",
            "card_error": "カードを読み取れません（機器不良等）",
            "central_down": "オンライン資格確認等システムに接続できません",
            "request_refused": "資格確認端末が照会を受け付けませんでした",
            "document_not_accepted": "提示された書類では受け付けられません",
            "smartphone_not_unlocked": "スマートフォンで本人確認が済んでいません",
            "smartphone_pin_blocked": "スマホ用暗証番号ロック",
            "smartphone_cert_expired": "スマホ用電子証明書の期限切れ",
        }[self.value]


class ConsentItem(str, Enum):
    """Medical information the patient may agree to share (OQSCD036 閲覧同意情報種別)."""

    PHARMACY = "YZK"  # 薬剤
    DIAGNOSIS = "SRJ"  # 診療
    HEALTH_CHECKUP = "TKK"  # 特定健診
    OPERATION = "SHJ"  # 手術

    @property
    def label(self) -> str:
        return {"YZK": "薬剤情報", "SRJ": "診療情報", "TKK": "特定健診等情報", "SHJ": "手術情報"}[self.value]


class Consent(Model):
    items: frozenset[ConsentItem] = frozenset()
    given_at: dt.datetime
    # Consent is valid for 24 hours from when it was given (sample data: ConsTime + 24 h = AvailableTime).
    valid_until: dt.datetime


class ElderlyRecipientInfo(Model):
    """高齢受給者証 (70-74)."""

    certificate_date: dt.date | None = None
    valid_start: dt.date
    valid_end: dt.date | None = None
    contribution_ratio: int = Field(description="percent: 20 or 30 (現役並み)")


class LimitInfo(Model):
    """限度額適用認定証関連情報."""

    classification: str = Field(description="OQSCD011: 01 限度額適用, 02 限度額適用・標準負担額減額, 03 標準負担額減額")
    classification_flag: str = Field(description="OQSCD012 適用区分, e.g. A03 ウ, B04 一般")
    valid_start: dt.date
    valid_end: dt.date | None = None


class QualificationRecord(Model):
    """One ResultOfQualificationConfirmation."""

    insured_card_classification: str = "01"  # OQSCD010
    insurer_number: str = Field(pattern=r"^[ 0-9]{8}$", description="8 chars; 6-digit 国保 numbers space-padded")
    insured_card_symbol: str = ""
    insured_identification_number: str
    insured_branch_number: str = Field(default="", pattern=r"^(\d{2})?$")
    personal_family_classification: str = "1"  # OQSCD009: 1 本人, 2 家族
    insured_name: str = ""  # 世帯主
    name: str
    name_kana: str = ""
    sex: str = "2"  # OQSCD007: 1 男, 2 女, 3 未設定
    birth_date: dt.date
    address: str = ""
    post_number: str = ""
    insurer_name: str
    certificate_issuance_date: dt.date | None = None
    valid_from: dt.date  # InsuredCardValidDate
    valid_to: dt.date | None = None  # InsuredCardExpirationDate (資格喪失日の前日)
    partial_contribution_ratio: int | None = Field(default=None, description="percent, 後期高齢者: 10/20/30")
    preschool: bool = False  # PreschoolClassification (OQSCD015)
    reason_of_loss: str | None = None  # OQSCD008
    elderly_recipient: ElderlyRecipientInfo | None = None
    limit: LimitInfo | None = None
    specific_disease: list[str] = Field(default_factory=list, description="OQSCD013 codes")

    def valid_on(self, day: dt.date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)


class NumbersQuery(Model):
    """照会区分 2: the numbers printed on a 資格確認書 or an old 健康保険証."""

    insurer_number: str = Field(pattern=r"^[ 0-9]{6,8}$")
    insured_card_symbol: str = ""
    insured_identification_number: str = Field(min_length=1)
    insured_branch_number: str = Field(default="", pattern=r"^(\d{2})?$")
    birth_date: dt.date
    # LimitApplicationCertificateRelatedConsFlg: the patient agrees that the 限度額 区分 is provided
    limit_consent: bool = False


class CardProof(Model):
    """How the holder was authenticated at the desk.

    PIN: the card's user-auth key signed the central system's nonce.
    Face / 目視: the terminal (the face-auth reader) attests it checked the holder; no card key is used.
    """

    method: AuthMethod
    signature: bytes | None = Field(default=None, repr=False)  # PIN: PKCS#1 v1.5 over SHA-256(nonce)
    attestation: bytes | None = Field(default=None, repr=False)  # face/目視: the terminal's signature
    staff_id: str | None = None  # 目視: who checked


class CardQuery(Model):
    """照会区分 1: confirmation with the My Number card's user-auth certificate."""

    certificate_der: bytes = Field(repr=False)
    nonce: bytes = Field(repr=False)
    proof: CardProof
    confirmation_date: dt.date
    medical_institution_code: str = Field(pattern=r"^\d{10}$")
    consent: Consent | None = None
    # Added for the central system: 資格確認限定型 facilities record no consent.
    facility_type: FacilityType = FacilityType.NORMAL
    # LimitApplicationCertificateRelatedConsFlg: the patient agrees that the 限度額 区分 is provided
    limit_consent: bool = False


class EligibilityReply(Model):
    """What the central system answers (MessageHeader + MessageBody, simplified)."""

    process_execution_time: dt.datetime
    confirmation_date: dt.date
    reference_classification: int  # OQSCD002: 1 card, 2 numbers
    segment_of_result: int = 1  # OQSCD003: 1 正常終了, 9 異常終了
    processing_result_status: int = 1  # OQSCD004: 1 正常終了, 2 エラー
    error_code: str | None = None
    error_message: str | None = None
    validity: Validity | None = None
    records: list[QualificationRecord] = Field(default_factory=list)
    query_echo: dict[str, str] = Field(default_factory=dict)  # QualificationConfirmSearchInfo
    certificate_not_after: dt.date | None = None  # card path: last valid day of the user-auth certificate
    consent: Consent | None = None
    # LimitApplicationCertificateRelatedConsFlg: 限度額 information is provided only with this consent
    limit_consent: bool = False
    method: AuthMethod = AuthMethod.NONE
    # What was held over the reader, put in by the desk for its own result file (JSON); the result
    # XML has no such field in any public clinic code (docs/smartphone.md §4), so it stays out of it.
    device: Device = Device.CARD
    # A real card accepted by the simulated central system for a demonstration: no eligibility
    # was confirmed, and nothing may count it as a confirmation.
    demo: bool = False
    # Added for the result files (MessageHeader): who asked, and the per-confirmation file identifier.
    medical_institution_code: str | None = Field(default=None, pattern=r"^\d{10}$")
    arbitrary_file_identifier: str | None = Field(default=None, pattern=r"^[A-Za-z0-9+/=_-]{1,64}$")
