"""Where things live on the My Number card: application IDs and elementary-file IDs.

Sources: shared/research/mynumber-card-apdu.md §1-2 (OpenSC card-jpki.c, jpki/myna, jsapdu).
"""

from __future__ import annotations

from enum import Enum

__all__ = [
    "AP", "JpkiEF", "InputSupportEF", "SurfaceEF", "MY_NUMBER_TOKEN", "SMARTPHONE_TOKENS", "TOKEN_LENGTH", "FORBIDDEN_FILES",
]


class AP(bytes, Enum):
    JPKI = bytes.fromhex("D392F000260100000001")  # 公的個人認証AP
    INPUT_SUPPORT = bytes.fromhex("D3921000310001010408")  # 券面事項入力補助AP
    SURFACE = bytes.fromhex("D3921000310001010402")  # 券面AP (券面事項確認AP): face photo


class JpkiEF(int, Enum):
    TOKEN = 0x0006  # "JPKIAPICCTOKEN2" + spaces, 32 bytes, free
    AUTH_CERT = 0x000A  # 利用者証明用電子証明書, DER, free
    AUTH_CA_CERT = 0x000B  # its issuing CA, free
    AUTH_KEY = 0x0017  # RSA-2048 private key; signs after VERIFY on AUTH_PIN
    AUTH_PIN = 0x0018  # 利用者証明用暗証番号, 4 digits, 3 tries
    SIGN_CERT = 0x0001  # 署名用電子証明書: holds name/address; never read by this terminal
    SIGN_CA_CERT = 0x0002
    SIGN_KEY = 0x001A
    SIGN_PIN = 0x001B  # 署名用パスワード, 6-16 chars, 5 tries


class InputSupportEF(int, Enum):
    MY_NUMBER = 0x0001  # 個人番号: never selected by this terminal (a test proves it)
    BASIC_FOUR = 0x0002  # 基本4情報 TLV (FF20 { DF21 header, DF22 name, DF23 address, DF24 DOB, DF25 sex })
    PIN = 0x0011  # 券面事項入力補助用暗証番号, 4 digits, 3 tries
    CHECK_A = 0x0014  # 照合番号A = the My Number itself; never used
    CHECK_B = 0x0015  # 照合番号B


class SurfaceEF(int, Enum):
    FRONT = 0x0002  # 券面事項 TLV; DF27 is the face photo (JPEG 2000)
    CHECK_B = 0x0012  # 照合番号B: DOB YYMMDD + expiry year YYYY + security code
    CHECK_A = 0x0013  # 照合番号A = the My Number; never used


MY_NUMBER_TOKEN = "JPKIAPICCTOKEN2"
# The JPKI token of a smartphone carrying the スマホ用電子証明書 (docs/smartphone.md): an Android
# phone's GP-SE (jpki/myna, "モバイルJPKIに対応"); the iPhone's is UNCONFIRMED (one unattributed source).
SMARTPHONE_TOKENS = {"JPKIAPGPSETOKEN": "android", "JPKIAPIOSTOKEN": "iphone"}  # token → reader.models.Device
TOKEN_LENGTH = 32

# (application, file) pairs this terminal must never select: they hold or unlock the My Number.
FORBIDDEN_FILES: frozenset[tuple[bytes, int]] = frozenset(
    {
        (AP.INPUT_SUPPORT.value, InputSupportEF.MY_NUMBER.value),
        (AP.INPUT_SUPPORT.value, InputSupportEF.CHECK_A.value),
        (AP.SURFACE.value, SurfaceEF.CHECK_A.value),
    }
)
