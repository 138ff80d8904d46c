"""Turning an exception from a session call into what the staff read: a title, the message, and
what to do next. Errors of this project carry a Japanese `title` (reader.staff_facing); the hint
is chosen by the error's family, never by where it was raised."""

from __future__ import annotations

from desk.central import CentralError
from desk.facility import FacilityError
from desk.journal import JournalError
from reader.errors import CameraError, FaceError, InvalidInput, PinBlocked, ReaderError, WrongPin

__all__ = ["describe_error"]

_DEFAULT_TITLE = "予期しないエラー"
_HINT_INPUT = "入力した内容を確かめて、もう一度入力してください。"
_HINT_PIN_BLOCKED = "ロックの解除はお住まいの市区町村の窓口で行えます。今日の受付はほかの方法で続けられます。"
_HINT_CARD = "カードをいったん取り、置き直してください。続く場合はカードリーダーの接続を確認してください。"
_HINT_CAMERA = "カメラの接続とレンズの前を確認してください。直らないときは暗証番号か目視確認で受付できます。"
_HINT_FACE = "顔認証は使えません。暗証番号か目視確認で受付してください。"
_HINT_CENTRAL = "しばらく待ってから再照会してください。つながらない間は資格確認書や保険証の番号で受付し、履歴（F7）の再照会待ちから後で確認できます。"
_HINT_JOURNAL = "受付記録（ジャーナル）を保存できません。ディスクの空きと権限を確認し、管理者に連絡してください。記録できるまで確認結果は端末が保持します。"
_HINT_FACILITY = "施設設定を確認してください（desk facility show）。"
_HINT_DEFAULT = "F5で次の患者に進み、最初からやり直してください。続く場合は管理者に連絡してください。"

# The first family an error belongs to decides the hint.
_HINTS: tuple[tuple[type[BaseException], str], ...] = (
    (InvalidInput, _HINT_INPUT),  # typed at the desk: the card is fine
    (WrongPin, _HINT_INPUT),
    (PinBlocked, _HINT_PIN_BLOCKED),
    (ReaderError, _HINT_CARD),
    (CameraError, _HINT_CAMERA),
    (FaceError, _HINT_FACE),
    (CentralError, _HINT_CENTRAL),
    (JournalError, _HINT_JOURNAL),
    (FacilityError, _HINT_FACILITY),
)


def describe_error(exc: BaseException) -> tuple[str, str, str]:
    """(title, message, hint) for the error dialog."""
    title = getattr(exc, "title", None) or _DEFAULT_TITLE
    message = str(exc) or type(exc).__name__
    if title == _DEFAULT_TITLE:
        message = f"{type(exc).__name__}: {message}"
    return title, message, _hint(exc)


def _hint(exc: BaseException) -> str:
    return next((hint for family, hint in _HINTS if isinstance(exc, family)), _HINT_DEFAULT)
