"""Card fixtures: one JSON file per virtual card in fixtures/cards/, validated here.

See fixtures/README.md for the format, written for trainers who add cases.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from reader.staff_facing import StaffFacingError, UsageError

__all__ = [
    "FIXTURES_DIR",
    "CARDS_DIR",
    "REFERENCE_DATE",
    "CardFixture",
    "FixtureError",
    "UnknownFixture",
    "load_card_fixture",
    "list_card_fixtures",
]

FIXTURES_DIR = Path(__file__).resolve().parent.parent / "fixtures"
CARDS_DIR = FIXTURES_DIR / "cards"
PHONES_DIR = FIXTURES_DIR / "phones"  # smartphones carrying the スマホ用電子証明書 (docs/smartphone.md)
FACES_DIR = FIXTURES_DIR / "faces"

# Every date in the fixtures is absolute; their cases ("expired 2 months ago") hold on this day.
REFERENCE_DATE = dt.date(2026, 12, 1)


# ATRs of real My Number cards, as pcsc-tools' smartcard_list.txt lists them:
# through a PC/SC contactless reader, a PC/SC Part 3 ATR (3B 8x 80 01 + the card's ATQB data):
#   3B 88 80 01 00 00 05 E0 B3 81 A1 00 7F  "Japanese JPKI card (aka JINC card) (eID)"
# through a contact reader:
#   3B DA 13 FF 81 31 FB 46 80 12 39 2F 31 C1 73 C6 01 C0 3B  "My Number Card (...) (eID)"
# (3B E0 00 FF 81 31 FE 45 14, which OpenSC's JPKI driver lists, is the old 住基カード: "JUKICARD".)
CONTACTLESS_ATR = "3B888001000005E0B381A1007F"
CONTACT_ATR = "3BDA13FF8131FB468012392F31C173C601C03B"


class FixtureError(StaffFacingError):
    """A fixture file is missing or malformed; the message names the file and the field."""

    title = "テスト用データの読み込みエラー"


class UnknownFixture(FixtureError, UsageError):
    """A card, camera scenario or central-system state named that does not exist (typed: exit 2)."""

    title = "テスト用データの指定が不正です"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PinFixture(_Model):
    comment: str = ""
    value: str
    tries_left: int = Field(ge=0)
    max_tries: int = Field(ge=1, le=15)

    @field_validator("value")
    @classmethod
    def _ascii(cls, v: str) -> str:
        if not v.isascii() or not v.isprintable():
            raise ValueError("PIN must be printable ASCII")
        return v


class PinsFixture(_Model):
    auth: PinFixture | None = Field(description="利用者証明用暗証番号 (4 digits); null for a 顔認証マイナンバーカード")
    input_support: PinFixture | None = Field(description="券面事項入力補助用暗証番号 (4 digits)")
    signature: PinFixture | None = Field(default=None, description="署名用パスワード (6-16 chars)")


class CertificateFixture(_Model):
    comment: str = ""
    serial: int = Field(gt=0, description="links the card to its person in the central system's population")
    not_before: dt.date
    not_after: dt.date = Field(description="last valid day (JST)")


class HolderFixture(_Model):
    name: str
    name_kana: str = ""
    address: str
    birth_date: dt.date
    sex: Literal["1", "2", "9"]
    photo: str = Field(description="file stem under fixtures/faces/card/, e.g. astronaut")


class CardFaceFixture(_Model):
    """What is printed on the card front (a face-auth reader reads it to get 照合番号B)."""

    expiry_year: int = Field(ge=2016, le=2099)
    security_code: str = Field(pattern=r"^\d{4}$")


class FaultsFixture(_Model):
    """Faults the virtual card injects. APDU indexes count from 1 since the card was placed."""

    comment: str = ""
    remove_after: int | None = Field(default=None, ge=0, description="card is pulled after this many APDUs")
    truncate_at: int | None = Field(default=None, ge=1, description="this APDU's response loses its SW")
    corrupt_at: int | None = Field(default=None, ge=1, description="this APDU's response data is garbled")
    wrong_sw_at: int | None = Field(default=None, ge=1)
    wrong_sw: int = 0x6F00
    delay_ms: int = Field(default=0, ge=0, le=10_000, description="added to every APDU")


class CardFixture(_Model):
    comment: str = ""
    name: str = ""
    description: str
    token: str = Field(default="JPKIAPICCTOKEN2", max_length=32)
    # A card, or a smartphone (docs/smartphone.md §5): only the JPKI application; Android opens
    # its user-auth certificate only after the PIN; an iPhone after Face ID on the phone, with no
    # PIN at the desk (`unlocked_on_phone`: Face ID done before the tap).
    device: Literal["card", "android", "iphone"] = "card"
    unlocked_on_phone: bool = True
    # How the card meets the reader: through the NFC field of a USB reader (the desk's case) or the
    # contacts of a contact reader. The ATR follows unless a fixture names its own.
    interface: Literal["contactless", "contact"] = "contactless"
    atr_hex: str | None = Field(default=None, alias="atr", pattern=r"^([0-9A-Fa-f]{2})+$")
    certificate: CertificateFixture
    pins: PinsFixture
    holder: HolderFixture
    card_face: CardFaceFixture
    faults: FaultsFixture = FaultsFixture()

    @property
    def atr(self) -> str:
        return self.atr_hex or (CONTACTLESS_ATR if self.interface == "contactless" else CONTACT_ATR)

    @property
    def photo_path(self) -> Path:
        return FACES_DIR / "card" / f"{self.holder.photo}.jp2"

    @property
    def check_b(self) -> str:
        """照合番号B as the card front gives it."""
        return f"{self.holder.birth_date:%y%m%d}{self.card_face.expiry_year:04d}{self.card_face.security_code}"


_FIXTURE_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")


def load_card_fixture(name_or_path: str | Path) -> CardFixture:
    """A card fixture by name (`adult`: fixtures/cards/adult.json) or by the path of a .json file."""
    path = Path(name_or_path)
    if path.suffix != ".json":
        if not _FIXTURE_NAME.fullmatch(str(name_or_path)):
            raise UnknownFixture(
                f"カードのテストデータ名「{str(name_or_path)[:80]}」は使えません（英小文字・数字・-、64文字まで。"
                f"あるもの: {', '.join(_placeable())}）"
            )
        path = CARDS_DIR / f"{name_or_path}.json"
        if not path.exists() and (PHONES_DIR / path.name).exists():
            path = PHONES_DIR / path.name  # a phone is placed on the reader like a card
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        known = ", ".join(_placeable())
        raise UnknownFixture(f"カードのテストデータ {path.name[:80]} がありません（あるもの: {known}）") from exc
    except (ValueError, RecursionError) as exc:
        raise FixtureError(f"{path.name} はJSONとして読めません: {str(exc)[:200]}") from exc
    except OSError as exc:  # a folder, a name too long …: what was named cannot be a card
        raise UnknownFixture(f"カードのテストデータ {str(path)[:120]} を読めません: {exc.strerror or exc}") from exc
    if not isinstance(raw, dict):
        raise FixtureError(f"{path.name}: 先頭はJSONオブジェクトにしてください")
    raw.setdefault("name", path.stem)
    try:
        fixture = CardFixture.model_validate(raw)
    except ValidationError as exc:
        raise FixtureError(f"{path.name} の内容が不正です:\n{exc}") from exc
    if not fixture.photo_path.exists():
        raise FixtureError(f"{path.name}: 顔写真 {fixture.photo_path.name} がありません")
    return fixture


def list_card_fixtures() -> list[str]:
    return sorted(p.stem for p in CARDS_DIR.glob("*.json"))


def _placeable() -> list[str]:
    """What can be placed on the simulated reader: the cards, then the phones."""
    return list_card_fixtures() + list_phone_fixtures()


def list_phone_fixtures() -> list[str]:
    return sorted(p.stem for p in PHONES_DIR.glob("*.json"))
