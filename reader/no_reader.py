"""The transport of a desk without a card reader: the 照会区分 2 and 一括照会 commands, which
work from the numbers alone, run on the facility's desk without opening PC/SC."""

from __future__ import annotations

from reader.errors import NoReader
from reader.transport import PresenceCallback

__all__ = ["NoCardReader"]


class NoCardReader:
    name = "（カードリーダーなし）"
    atr = b""

    def connect(self) -> None:
        raise NoReader("この受付はカードリーダーを使いません（番号による照会だけを行います）。")

    def transmit(self, apdu: bytes) -> bytes:
        self.connect()
        raise AssertionError("unreachable")

    def wait_for_card(self, timeout: float) -> bool:
        return False

    def wait_for_removal(self, timeout: float) -> bool:
        return True

    def watch(self, on_inserted: PresenceCallback, on_removed: PresenceCallback) -> None:
        return None  # no card ever comes

    def close(self) -> None:
        return None
