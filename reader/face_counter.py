"""The card's own count of consecutive failed face authentications, as the simulated card keeps it.

The real lock (10 consecutive failures, released only at the municipality) lives on the card
(docs/face-lock.md §6), but how a certified face-auth reader reads and updates it is not public
(§7: the J-LIS card specification is under NDA; the readers authenticate to the card as a
特定機関). madoguchi's virtual card therefore answers a stand-in of our own making, so that every
desk and every reader the card is placed on — in-process or through pcscd+vpcd — sees the one
count the card carries:

    SELECT  00 A4 04 0C <FACE_COUNTER_AID>        the stand-in application (a proprietary AID:
                                                  first nibble F, ISO/IEC 7816-5 unregistered)
    80 F0 00 00 01                                read the count        → 1 byte, 9000
    80 F0 01 00 01                                a failed attempt      → the count after it
    80 F0 02 00 01                                a successful attempt  → 00 (the count is reset)

A real My Number card does not have it and answers the SELECT with 6A82: `CardFaceCounter` then
says so (None) and the desk keeps its journal's mirror instead. The count is never reset by the
desk: only a success resets it, and the municipality releases a lock (training: sim/).
"""

from __future__ import annotations

from collections.abc import Callable
from enum import IntEnum

from reader.apdu import SW, Command, Response
from reader.errors import CardStatusError, MalformedCardResponse
from reader.transport import Transport

__all__ = ["FACE_COUNTER_AID", "FACE_COUNTER_INS", "CardFaceCounter", "FaceCounterOp"]

FACE_COUNTER_AID = bytes.fromhex("F04D41444F4755434849")  # F0 "MADOGUCHI": simulation only
FACE_COUNTER_INS = 0xF0


class FaceCounterOp(IntEnum):
    """P1 of the stand-in command."""

    READ = 0x00
    FAILED = 0x01
    SUCCEEDED = 0x02


class CardFaceCounter:
    """The count on the card that lies on the reader `transport()` gives (desk.ports.FaceLockStore;
    a callable: the desk's reader port may be wrapped, e.g. by a tracer).

    Every call selects the stand-in application first: it runs between the desk's other reads,
    which select their own application again. A card that does not carry the count gives None;
    a card taken away raises CardRemoved / NoCard as any read would.
    """

    def __init__(self, transport: Callable[[], Transport]) -> None:
        self.transport = transport

    def consecutive_failures(self, cert_fingerprint: str) -> int | None:
        return self._send(FaceCounterOp.READ)

    def record(self, cert_fingerprint: str, accepted: bool) -> int | None:
        return self._send(FaceCounterOp.SUCCEEDED if accepted else FaceCounterOp.FAILED)

    def _send(self, op: FaceCounterOp) -> int | None:
        # the fingerprint is not sent: the count belongs to the card on the reader, whoever's it is
        selected = self._transmit(Command(0x00, 0xA4, 0x04, 0x0C, FACE_COUNTER_AID))
        if selected.sw in (SW.FILE_NOT_FOUND, SW.INS_NOT_SUPPORTED, SW.CLA_NOT_SUPPORTED, SW.WRONG_P1P2):
            return None  # a card without the stand-in (a real card): the journal's mirror counts
        if selected.sw != SW.OK:
            raise CardStatusError(selected.sw, f"顔認証の失敗回数: カードの応答 SW={selected.sw:04X}")
        response = self._transmit(Command(0x80, FACE_COUNTER_INS, op, 0x00, le=1))
        if response.sw != SW.OK:
            raise CardStatusError(response.sw, f"顔認証の失敗回数: カードの応答 SW={response.sw:04X}")
        if len(response.data) != 1:
            raise MalformedCardResponse(f"顔認証の失敗回数の応答の長さが不正です（{len(response.data)}バイト）")
        return response.data[0]

    def _transmit(self, command: Command) -> Response:
        raw = self.transport().transmit(command.to_bytes())
        if len(raw) < 2:
            raise MalformedCardResponse(f"カードの応答が短すぎます（{len(raw)}バイト）。カードを置き直してください。")
        return Response.from_bytes(raw)
