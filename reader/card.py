"""The My Number card protocol, spoken as ISO 7816 APDUs over any `Transport`.

`MynaCard` only builds commands and parses replies: it never opens readers or sleeps.
It never selects the My Number or 照合番号A files (`reader.layout.FORBIDDEN_FILES`).
"""

from __future__ import annotations

import hashlib
import unicodedata

from reader.apdu import SW, Command, Response
from reader.errors import (
    CardFileNotFound,
    CardStatusError,
    InvalidInput,
    MalformedCardResponse,
    NoPinSet,
    NotMyNumberCard,
    PhoneNotUnlocked,
    PinBlocked,
    SecurityStatusNotSatisfied,
    WrongPin,
)
from reader.layout import (
    AP,
    FORBIDDEN_FILES,
    MY_NUMBER_TOKEN,
    SMARTPHONE_TOKENS,
    TOKEN_LENGTH,
    InputSupportEF,
    JpkiEF,
    SurfaceEF,
)
from reader.models import AuthCertificate, BasicFour, CardInfo, Device
from reader.tlv import TlvError, der_total_length, iter_tlv, parse_tlv
from reader.transport import Transport

__all__ = ["MynaCard", "sha256_digest_info", "normalize_check_b"]

# DER prefix of DigestInfo { sha256, NULL } (RFC 8017 §9.2 note 1); the card pads PKCS#1 v1.5 itself.
_SHA256_DIGEST_INFO_PREFIX = bytes.fromhex("3031300d060960864801650304020105000420")
_MAX_READ = 256  # Le=00
_MAX_FILE = 0x7FFF  # READ BINARY offsets are 15 bits


def sha256_digest_info(message: bytes) -> bytes:
    return _SHA256_DIGEST_INFO_PREFIX + hashlib.sha256(message).digest()


def normalize_check_b(typed: str) -> str:
    """照合番号B as staff type it from the card front (spaces allowed, full-width digits accepted):
    birth date YYMMDD + the card's expiry year YYYY + the 4-digit security code, 14 digits."""
    value = unicodedata.normalize("NFKC", "".join(typed.split()))
    if len(value) != 14 or not value.isascii() or not value.isdigit():
        raise InvalidInput(
            "照合番号Bは数字14桁です：券面の生年月日（西暦の下2桁・月・日の6桁）、有効期限の年（4桁）、"
            "セキュリティコード（4桁）の順に入力してください。"
        )
    return value


class MynaCard:
    """One My Number card on one transport."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self._current_ap: bytes | None = None

    # -- low level -------------------------------------------------------------------------

    def _send(self, command: Command) -> Response:
        raw = self.transport.transmit(command.to_bytes())
        if len(raw) < 2:
            raise MalformedCardResponse(f"カードの応答が短すぎます（{len(raw)}バイト）。カードを置き直してください。")
        return Response.from_bytes(raw)

    def _select_ap(self, ap: AP) -> None:
        response = self._send(Command(0x00, 0xA4, 0x04, 0x0C, ap.value))
        if response.sw == SW.FILE_NOT_FOUND:
            raise NotMyNumberCard("このカードにはマイナンバーカードのアプリケーションがありません。マイナンバーカードを置いてください。")
        self._check(response)
        self._current_ap = ap.value

    def _select_ef(self, fid: int, what: str) -> None:
        if (self._current_ap, fid) in FORBIDDEN_FILES:
            raise AssertionError(f"refusing to select EF {fid:04X}: it holds or unlocks the My Number")
        response = self._send(Command(0x00, 0xA4, 0x02, 0x0C, fid.to_bytes(2, "big")))
        self._check(response, what)

    def _check(self, response: Response, what: str = "") -> None:
        sw = response.sw
        if sw == SW.OK:
            return
        if sw == SW.FILE_NOT_FOUND:
            raise CardFileNotFound(sw, what)
        if sw == SW.SECURITY_NOT_SATISFIED:
            raise SecurityStatusNotSatisfied(sw, what)
        if sw in (SW.REFERENCE_DATA_UNUSABLE, SW.AUTH_METHOD_BLOCKED):
            raise PinBlocked(sw)
        raise CardStatusError(sw, f"{what}: カードの応答 SW={sw:04X}" if what else None)

    def _read_binary(self, offset: int, length: int, what: str) -> bytes:
        response = self._send(Command(0x00, 0xB0, (offset >> 8) & 0x7F, offset & 0xFF, le=length))
        self._check(response, what)
        return response.data

    def _read_object(self, header_len: int, what: str) -> bytes:
        """Read a TLV/DER-framed EF sized from its own header: no bytes past the object."""
        head = self._read_binary(0, header_len, what)
        try:
            total = der_total_length(head)
        except TlvError as exc:
            raise MalformedCardResponse(f"{what}の長さが読み取れません: {exc}") from exc
        if total > _MAX_FILE:
            raise MalformedCardResponse(f"{what}の長さ {total} バイトはカードのファイルとして大きすぎます")
        data = bytearray(head[:total])
        while len(data) < total:
            chunk = self._read_binary(len(data), min(_MAX_READ, total - len(data)), what)
            if not chunk:
                raise MalformedCardResponse(f"{what}の読み出しが途中で止まりました")
            data += chunk
        return bytes(data[:total])

    def _verify(self, pin: bytes) -> None:
        response = self._send(Command(0x00, 0x20, 0x00, 0x80, pin))
        if response.sw1 == 0x63 and response.sw2 & 0xF0 == 0xC0:
            tries = response.sw2 & 0x0F
            if tries == 0:
                raise PinBlocked(response.sw)
            raise WrongPin(response.sw, tries)
        self._check(response)

    def _tries_left(self) -> int:
        response = self._send(Command(0x00, 0x20, 0x00, 0x80))
        if response.sw1 == 0x63 and response.sw2 & 0xF0 == 0xC0:
            return response.sw2 & 0x0F
        if response.sw in (SW.REFERENCE_DATA_UNUSABLE, SW.AUTH_METHOD_BLOCKED):
            return 0
        if response.sw == SW.OK:  # already verified in this session
            return 3
        self._check(response, "暗証番号")
        return 0

    # -- JPKI: identity without a PIN -------------------------------------------------------

    def read_token(self) -> str:
        self._select_ap(AP.JPKI)
        self._select_ef(JpkiEF.TOKEN, "トークン情報")
        raw = self._read_binary(0, TOKEN_LENGTH, "トークン情報")
        return raw.rstrip(b" \x00").decode("ascii", errors="replace")

    def read_auth_certificate(self, *, reselect: bool = True) -> AuthCertificate:
        """`reselect=False` right after VERIFY: selecting the application again would close what the
        PIN opened (an Android phone's certificate)."""
        if reselect:
            self._select_ap(AP.JPKI)
        self._select_ef(JpkiEF.AUTH_CERT, "利用者証明用電子証明書")
        der = self._read_object(8, "利用者証明用電子証明書")
        try:
            return AuthCertificate.from_der(der)
        except ValueError as exc:
            raise MalformedCardResponse(f"利用者証明用電子証明書が読み取れません: {exc}") from exc

    def auth_pin_tries_left(self) -> int | None:
        """Ask the card without spending a try (VERIFY with no data → 63Cx).

        None: the card has no user-auth PIN (顔認証マイナンバーカード), so face or 目視 only.
        """
        self._select_ap(AP.JPKI)
        try:
            self._select_ef(JpkiEF.AUTH_PIN, "利用者証明用暗証番号")
        except CardFileNotFound:
            return None
        return self._tries_left()

    def read_info(self) -> CardInfo:
        """What the desk needs before the patient authenticates. A card: its certificate and PIN
        tries. An Android phone: its own PIN's tries only (it opens the certificate after VERIFY).
        An iPhone: the certificate, open once Face ID passed on the phone, and no PIN at all."""
        token = self.read_token()  # once: a phone's token is read no more than a card's
        device = _device_of(token)
        if device is Device.ANDROID:
            return CardInfo(token=token, certificate=None, pin_tries_left=self.auth_pin_tries_left(), device=device)
        if device is Device.IPHONE:
            try:
                certificate = self.read_auth_certificate()
            except SecurityStatusNotSatisfied as exc:  # 6982: not opened on the phone (docs/smartphone.md §5)
                raise PhoneNotUnlocked("iPhone") from exc
            return CardInfo(token=token, certificate=certificate, pin_tries_left=None, device=device)
        return CardInfo(token=token, certificate=self.read_auth_certificate(), pin_tries_left=self.auth_pin_tries_left())

    # -- JPKI: user authentication with the 4-digit PIN -------------------------------------

    def verify_auth_pin(self, pin: str) -> None:
        _check_four_digits(pin)
        self._select_ap(AP.JPKI)
        try:
            self._select_ef(JpkiEF.AUTH_PIN, "利用者証明用暗証番号")
        except CardFileNotFound as exc:
            raise NoPinSet(exc.sw) from exc
        self._verify(pin.encode("ascii"))

    def sign(self, message: bytes) -> bytes:
        """Sign SHA-256(message) with the user-auth key (after `verify_auth_pin`)."""
        self._select_ef(JpkiEF.AUTH_KEY, "利用者証明用秘密鍵")
        response = self._send(Command(0x80, 0x2A, 0x00, 0x80, sha256_digest_info(message), le=256))
        self._check(response, "電子署名")
        if len(response.data) != 256:
            raise MalformedCardResponse(f"署名の長さが不正です（{len(response.data)}バイト）")
        return response.data

    def authenticate(self, pin: str, challenge: bytes) -> bytes:
        self.verify_auth_pin(pin)
        return self.sign(challenge)

    def unlock_phone(self, pin: str) -> AuthCertificate:
        """An Android phone: VERIFY its own PIN, then read the certificate it opens only now
        (docs/smartphone.md §2). The application stays selected: `sign` follows without reselecting
        it, which would close what the PIN opened."""
        self.verify_auth_pin(pin)
        return self.read_auth_certificate(reselect=False)

    def sign_unlocked(self, challenge: bytes) -> bytes:
        """Sign with a key the phone itself opened (an iPhone after Face ID): no VERIFY is sent."""
        self._select_ap(AP.JPKI)
        return self.sign(challenge)

    # -- 券面AP: the face photo, unlocked with 照合番号B ------------------------------------

    def read_face_photo(self, check_b: str) -> bytes:
        """Return the face photo (JPEG 2000) from the card front data."""
        if len(check_b) != 14 or not check_b.isdigit():
            raise InvalidInput("照合番号Bは数字14桁です（生年月日6桁・有効期限の年4桁・セキュリティコード4桁）。")
        self._select_ap(AP.SURFACE)
        self._select_ef(SurfaceEF.CHECK_B, "照合番号B")
        self._verify(check_b.encode("ascii"))
        self._select_ef(SurfaceEF.FRONT, "券面事項")
        front = self._read_object(5, "券面事項")
        return _find(front, 0xDF27, "顔写真")

    # -- 券面事項入力補助AP: the basic four items with the input-support PIN ---------------

    def input_support_pin_tries_left(self) -> int:
        self._select_ap(AP.INPUT_SUPPORT)
        self._select_ef(InputSupportEF.PIN, "券面事項入力補助用暗証番号")
        return self._tries_left()

    def read_basic_four(self, pin: str) -> BasicFour:
        _check_four_digits(pin)
        self._select_ap(AP.INPUT_SUPPORT)
        self._select_ef(InputSupportEF.PIN, "券面事項入力補助用暗証番号")
        self._verify(pin.encode("ascii"))
        self._select_ef(InputSupportEF.BASIC_FOUR, "基本4情報")
        raw = self._read_object(5, "基本4情報")
        try:
            return BasicFour(
                name=_find(raw, 0xDF22, "氏名").decode("utf-8"),
                address=_find(raw, 0xDF23, "住所").decode("utf-8"),
                birth_date=_find(raw, 0xDF24, "生年月日").decode("ascii"),
                sex=_find(raw, 0xDF25, "性別").decode("ascii"),
            )
        except UnicodeDecodeError as exc:
            raise MalformedCardResponse(f"基本4情報の文字が読み取れません: {exc}") from exc



def _device_of(token: str) -> Device:
    """A マイナンバーカード or a phone carrying the スマホ用電子証明書, by its JPKI token (never by
    the ATR); any other token is not a My Number card."""
    if token in SMARTPHONE_TOKENS:
        return Device(SMARTPHONE_TOKENS[token])
    if token != MY_NUMBER_TOKEN:
        raise NotMyNumberCard(
            f"このカード（{token or '不明'}）はマイナンバーカードではありません。マイナンバーカードを置いてください。"
        )
    return Device.CARD


def _check_four_digits(pin: str) -> None:
    if len(pin) != 4 or not pin.isdigit():
        raise InvalidInput("暗証番号は数字4桁で入力してください。")


def _find(record: bytes, tag: int, what: str) -> bytes:
    try:
        outer = parse_tlv(record)
        for item in iter_tlv(outer.value):
            if item.tag == tag:
                return item.value
    except TlvError as exc:
        raise MalformedCardResponse(f"{what}のデータ形式が不正です: {exc}") from exc
    raise MalformedCardResponse(f"カードのデータに{what}がありません")
