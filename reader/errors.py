"""Errors of the card reader, the camera and face matching. Each carries a Japanese title and a
message for staff (see reader/staff_facing.py); the three families have bases of their own so a
screen can tell "re-place the card" from "check the camera".

`title` is what the screen shows as a heading, `str(error)` the explanation with what to do next.
"""

from __future__ import annotations

from reader.staff_facing import StaffFacingError

__all__ = [
    "StaffFacingError",
    "ReaderError",
    "NoReader",
    "ReaderGone",
    "NoCard",
    "CardRemoved",
    "TransportError",
    "MalformedCardResponse",
    "NotMyNumberCard",
    "PhoneNotUnlocked",
    "CardStatusError",
    "WrongPin",
    "PinBlocked",
    "SecurityStatusNotSatisfied",
    "CardFileNotFound",
    "NoPinSet",
    "InvalidInput",
    "CameraError",
    "CameraUnavailable",
    "FaceError",
    "NoFaceFound",
]


class ReaderError(StaffFacingError):
    title = "カードリーダーのエラー"


class NoReader(ReaderError):
    title = "カードリーダーが見つかりません"


class ReaderGone(ReaderError):
    """The reader or the PC/SC service went away while in use."""

    title = "カードリーダーとの接続が切れました"


class NoCard(ReaderError):
    title = "カードが置かれていません"


class CardRemoved(ReaderError):
    title = "カードが取り外されました"


class TransportError(ReaderError):
    title = "カードとの通信エラー"


class MalformedCardResponse(TransportError):
    title = "カードの応答が不正です"


class NotMyNumberCard(ReaderError):
    title = "マイナンバーカードではありません"


class PhoneNotUnlocked(ReaderError):
    """A smartphone's スマホ用電子証明書 answered that it is closed: an iPhone held over the reader
    before Face ID / Touch ID on the phone (the reader takes no PIN for it, docs/smartphone.md §5)."""

    title = "スマートフォンで本人確認が済んでいません"

    def __init__(self, device: str) -> None:
        self.device = device
        super().__init__(
            f"{device}の画面でマイナ保険証を開き、Face ID または Touch ID で本人確認を済ませてから、"
            "もう一度カードリーダーにかざしてもらってください。"
        )


class CardStatusError(ReaderError):
    """The card answered with a status word other than 9000. The raw SW is kept."""

    title = "カードがエラーを返しました"

    def __init__(self, sw: int, msg: str | None = None, title: str | None = None) -> None:
        self.sw = sw
        super().__init__(msg or f"カードの応答 SW={sw:04X}", title)


class WrongPin(CardStatusError):
    title = "暗証番号が違います"

    def __init__(self, sw: int, tries_left: int) -> None:
        self.tries_left = tries_left
        super().__init__(sw, f"暗証番号が違います。残り{tries_left}回です。")


class PinBlocked(CardStatusError):
    title = "暗証番号がロックされています"

    def __init__(self, sw: int) -> None:
        super().__init__(
            sw,
            "暗証番号は3回間違えたためロックされています。顔認証または目視確認で受付できます。"
            "ロック解除はお住まいの市区町村の窓口で行えます。",
        )


class NoPinSet(CardStatusError):
    title = "暗証番号が設定されていないカードです"

    def __init__(self, sw: int) -> None:
        super().__init__(sw, "このカードは暗証番号なしの顔認証マイナンバーカードです。顔認証または目視確認で受付してください。")


class InvalidInput(ReaderError):
    """Input typed at the desk that cannot be sent to the card (wrong length, not digits)."""

    title = "入力内容を確認してください"


class SecurityStatusNotSatisfied(CardStatusError):
    title = "カードの認証が済んでいません"

    def __init__(self, sw: int, what: str = "") -> None:
        super().__init__(sw, f"{what}の読み出しには先に照合が必要です。" if what else "先に照合が必要です。")


class CardFileNotFound(CardStatusError):
    title = "カードに必要な情報がありません"

    def __init__(self, sw: int, what: str = "") -> None:
        super().__init__(sw, f"カードに{what}がありません。" if what else "カードに要求されたファイルがありません。")


class CameraError(StaffFacingError):
    """The camera, not the card: its own family, so staff are sent to the camera, not the reader."""

    title = "カメラのエラー"


class CameraUnavailable(CameraError):
    title = "カメラが使えません"


class FaceError(StaffFacingError):
    """Face matching could not run (no usable card photo, no engine): not the patient's face."""

    title = "顔認証のエラー"


class NoFaceFound(FaceError):
    title = "顔が確認できません"


# -- face authentication (reader/face.py); appended, the names above are unchanged ----------------
__all__ += ["CardPhotoUnusable", "FaceEngineUnavailable"]


class CardPhotoUnusable(FaceError):
    """The card's face photo cannot be decoded or shows no face, so 顔認証 is impossible for this card."""

    title = "カードの顔写真が使えません"


class FaceEngineUnavailable(FaceError):
    """face_recognition / dlib / their model files are not installed (or cannot be imported)."""

    title = "顔認証の部品がありません"
