"""What the card protocol returns: validated, immutable models."""

from __future__ import annotations

import datetime as dt
import hashlib
from enum import Enum

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["AuthCertificate", "BasicFour", "CardInfo", "Device", "SEX_NAMES"]

SEX_NAMES = {"1": "男", "2": "女", "9": "適用不能"}


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class AuthCertificate(_Frozen):
    """The 利用者証明用電子証明書 read from JPKI EF 000A. It carries no name or My Number."""

    serial: int
    subject: str
    issuer: str
    not_before: dt.datetime
    not_after: dt.datetime
    fingerprint_sha256: str
    der: bytes = Field(repr=False, exclude=True)

    @classmethod
    def from_der(cls, der: bytes) -> AuthCertificate:
        from cryptography import x509  # lazy: keeps `desk --help` fast

        cert = x509.load_der_x509_certificate(der)
        return cls(
            serial=cert.serial_number,
            subject=cert.subject.rfc4514_string(),
            issuer=cert.issuer.rfc4514_string(),
            not_before=cert.not_valid_before_utc,
            not_after=cert.not_valid_after_utc,
            fingerprint_sha256=hashlib.sha256(der).hexdigest(),
            der=der,
        )

    @property
    def expiry_date(self) -> dt.date:
        """The last day the certificate is valid, in Japan time."""
        jst = dt.timezone(dt.timedelta(hours=9))
        return self.not_after.astimezone(jst).date()


class BasicFour(_Frozen):
    """基本4情報 from 券面事項入力補助AP EF 0002 (read only with the patient's PIN)."""

    name: str
    address: str
    birth_date: str  # YYYYMMDD as stored on the card
    sex: str  # 1 男, 2 女, 9 適用不能 (ISO 5218)

    @property
    def sex_name(self) -> str:
        return SEX_NAMES.get(self.sex, self.sex)


class Device(str, Enum):
    """What was held over the reader, told by its JPKI token (never by the ATR: docs/smartphone.md §5)."""

    CARD = "card"  # マイナンバーカード
    ANDROID = "android"  # スマホ用電子証明書 on an Android phone: its own 4-digit PIN, typed at the desk
    IPHONE = "iphone"  # スマホ用電子証明書 on an iPhone: Face ID / Touch ID on the phone, no PIN at the desk

    @property
    def label(self) -> str:
        return {"card": "マイナンバーカード", "android": "スマートフォン（Android）", "iphone": "スマートフォン（iPhone）"}[
            self.value
        ]

    @property
    def is_phone(self) -> bool:
        return self is not Device.CARD


class CardInfo(_Frozen):
    token: str
    # None only for an Android phone before its PIN: it opens the certificate after VERIFY
    certificate: AuthCertificate | None
    pin_tries_left: int | None  # None: no PIN set (顔認証マイナンバーカード) or none asked (iPhone)
    device: Device = Device.CARD
