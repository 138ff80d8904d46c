"""Reading what must never be seen in `ps` or a shell history: the card PIN and the facility's
目視 password come from a prompt or the first line of standard input. The argv forms remain for
training scripts only, with a warning each time."""

from __future__ import annotations

import getpass
import sys

from desk.models import STAFF_ID_MAX
from desk.typed_input import FULL_WIDTH_DIGITS
from reader.staff_facing import UsageError

__all__ = ["read_secret", "normalize_pin", "check_staff_id", "STAFF_ID_MAX"]



def read_secret(*, argv_value: str | None, from_stdin: bool, option: str, prompt: str) -> str:
    """The secret from `--X-stdin` (first line), a prompt on a terminal, or `--X` (with a warning)."""
    if from_stdin:
        try:
            line = sys.stdin.readline()
        except UnicodeDecodeError as exc:
            raise UsageError(f"{option}-stdin: 標準入力が UTF-8 の文字として読めません。") from exc
        if not line:
            raise UsageError(f"{option}-stdin: 標準入力が空です。1行目に入力してください。")
        return line.rstrip("\r\n")
    if argv_value is not None:
        if _has_surrogates(argv_value):
            raise UsageError(f"{option}: UTF-8 の文字として読めない値です。")
        print(
            f"注意: {option} の値はこのコンピュータのほかの利用者から見えます（ps・履歴）。"
            f"研修・テスト以外では {option}-stdin を使ってください。",
            file=sys.stderr,
        )
        return argv_value
    if sys.stdin is not None and sys.stdin.isatty():
        try:
            return getpass.getpass(prompt)
        except EOFError as exc:
            raise UsageError(f"{option}: 入力がありませんでした。") from exc
    raise UsageError(f"{option}-stdin で標準入力から渡してください（端末では入力を求めます）。")


def normalize_pin(pin: str) -> str:
    """4 digits; full-width digits (an IME left in 全角) are taken as the digits they are, and
    nothing else is: no other look-alike, no space, no line break."""
    value = pin.translate(FULL_WIDTH_DIGITS)
    if len(value) != 4 or not value.isascii() or not value.isdigit():
        raise UsageError("暗証番号は数字4桁で入力してください。")
    return value


def check_staff_id(staff_id: str) -> str:
    """The staff ID as journalled: 1-64 printable characters, checked before anything is written."""
    value = staff_id.strip()
    if not value:
        raise UsageError("職員IDを入力してください（--staff）。")
    if len(value) > STAFF_ID_MAX or not value.isprintable() or _has_surrogates(value):
        raise UsageError(f"職員IDは{STAFF_ID_MAX}文字以内の、制御文字を含まない文字で入力してください。")
    return value


def _has_surrogates(text: str) -> bool:
    # bytes that were not UTF-8 on the command line arrive as lone surrogates
    return any(0xD800 <= ord(ch) <= 0xDFFF for ch in text)
