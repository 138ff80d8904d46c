"""The transport a card protocol speaks over: raw APDU bytes in, raw response bytes out.

Implementations: `reader.pcsc.PcscTransport` (pyscard) and `sim.card.SimTransport` (in-process
virtual card). The 61xx/6Cxx dance is done once, here, for any transport that needs it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

from reader.apdu import Command, MalformedResponse, Response
from reader.errors import MalformedCardResponse

__all__ = ["Transport", "PresenceCallback", "transmit_with_chaining"]

PresenceCallback = Callable[[], None]


@runtime_checkable
class Transport(Protocol):
    """One reader slot. `transmit` raises `reader.errors.ReaderError` subclasses, never library errors."""

    @property
    def name(self) -> str: ...

    @property
    def atr(self) -> bytes: ...

    def connect(self) -> None:
        """Connect to the card now in the reader (NoCard if none, NoReader if the reader is gone)."""

    def transmit(self, apdu: bytes) -> bytes:
        """Send one command APDU; return the complete response including SW1 SW2."""

    def wait_for_card(self, timeout: float) -> bool:
        """Block until a card is present or `timeout` seconds pass; True if present."""

    def wait_for_removal(self, timeout: float) -> bool:
        """Block until the card is gone or `timeout` seconds pass; True if gone."""

    def watch(self, on_inserted: PresenceCallback, on_removed: PresenceCallback) -> None:
        """Call back (from any thread) when a card is placed or taken away."""

    def close(self) -> None: ...


def transmit_with_chaining(send: Callable[[bytes], bytes], apdu: bytes, *, max_rounds: int = 64) -> bytes:
    """Send `apdu` and follow 61xx (GET RESPONSE) and 6Cxx (resend with Le=xx).

    Readers in T=0 or with short buffers answer this way; callers above never see it.
    """
    raw = send(apdu)
    data = b""
    for _ in range(max_rounds):
        try:
            response = Response.from_bytes(raw)
        except MalformedResponse as exc:
            raise MalformedCardResponse(f"カードの応答が短すぎます（{len(raw)}バイト）。カードを置き直してください。") from exc
        if response.sw1 == 0x6C:
            raw = send(apdu[:-1] + bytes((response.sw2,)) if _has_le(apdu) else apdu + bytes((response.sw2,)))
            continue
        if response.sw1 == 0x61:
            data += response.data
            raw = send(Command(0x00, 0xC0, 0x00, 0x00, le=response.sw2 or 256).to_bytes())
            continue
        return data + raw
    raise MalformedCardResponse("カードが応答の続きを返し続けています。カードを置き直してください。")


def _has_le(apdu: bytes) -> bool:
    try:
        return Command.from_bytes(apdu).le is not None
    except ValueError:
        return False
