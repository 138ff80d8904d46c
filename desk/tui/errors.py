"""Turning an exception from a session call into what the staff read: a title, the message, and
what to do next. Errors of this project carry a Japanese `title` (reader.errors, desk.central …)."""

from __future__ import annotations

__all__ = ["describe_error"]

_DEFAULT_TITLE = "予期しないエラー"
_HINT_CARD = "カードをいったん取り、置き直してください。続く場合はカードリーダーの接続を確認してください。"
_HINT_CENTRAL = "しばらく待ってから再照会してください。つながらない間は資格確認書や保険証の番号で受付し、履歴（F7）の再照会待ちから後で確認できます。"
_HINT_DEFAULT = "F5で次の患者に進み、最初からやり直してください。続く場合は管理者に連絡してください。"


def describe_error(exc: BaseException) -> tuple[str, str, str]:
    """(title, message, hint) for the error dialog."""
    title = getattr(exc, "title", None) or _DEFAULT_TITLE
    message = str(exc) or type(exc).__name__
    if title == _DEFAULT_TITLE:
        message = f"{type(exc).__name__}: {message}"
    return title, message, _hint(exc)


def _hint(exc: BaseException) -> str:
    module = type(exc).__module__
    if module.startswith("reader."):
        return _HINT_CARD
    if module.startswith("desk.central") or module.startswith("sim.central"):
        return _HINT_CENTRAL
    return _HINT_DEFAULT
