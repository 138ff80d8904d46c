"""APDU tracing with secrets redacted, as a transport wrapper (no change to the transport itself).

Lines look like `SEND: 00 A4 04 0C 0A D3 92 F0 ...` and `RECV: 90 00 SW=9000`; the data of
VERIFY and CHANGE REFERENCE DATA (PINs, 照合番号) is replaced with `**` before anything is kept.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from reader.apdu import Command, Response
from reader.layout import FORBIDDEN_FILES
from reader.transport import PresenceCallback, Transport

__all__ = ["TracingTransport", "TraceEntry", "redact", "selected_files", "TRAFFIC"]

TRAFFIC = 5  # log level below DEBUG, for APDU traffic only
logging.addLevelName(TRAFFIC, "TRAFFIC")
_log = logging.getLogger("madoguchi.apdu")

_SECRET_INS = {0x20, 0x24}  # VERIFY, CHANGE REFERENCE DATA


def _hex(data: bytes) -> str:
    return data.hex(" ").upper()


def redact(apdu: bytes) -> str:
    """The APDU as hex with any PIN bytes masked."""
    if len(apdu) > 5 and apdu[1] in _SECRET_INS:
        return _hex(apdu[:5]) + " " + " ".join("**" for _ in apdu[5:])
    return _hex(apdu)


@dataclass(frozen=True, slots=True)
class TraceEntry:
    command: bytes  # already redacted: secrets replaced by 0x2A bytes
    response: bytes | None  # None when the transmit raised

    def lines(self) -> list[str]:
        out = [f"SEND: {redact(self.command)}"]
        if self.response is not None and len(self.response) >= 2:
            sw = Response.from_bytes(self.response).sw
            out.append(f"RECV: {_hex(self.response)} SW={sw:04X}")
        elif self.response is not None:
            out.append(f"RECV: {_hex(self.response)} (no status word)")
        else:
            out.append("RECV: (no response)")
        return out


def _scrub(apdu: bytes) -> bytes:
    if len(apdu) > 5 and apdu[1] in _SECRET_INS:
        return apdu[:5] + b"*" * (len(apdu) - 5)
    return apdu


class TracingTransport:
    """Wraps a transport; keeps redacted entries and logs them at the TRAFFIC level."""

    def __init__(self, inner: Transport, sink: Callable[[str], None] | None = None) -> None:
        self.inner = inner
        self.name = inner.name
        self.entries: list[TraceEntry] = []
        self._sink = sink

    @property
    def atr(self) -> bytes:
        return self.inner.atr

    def connect(self) -> None:
        self.inner.connect()

    def transmit(self, apdu: bytes) -> bytes:
        response: bytes | None = None
        try:
            response = self.inner.transmit(apdu)
            return response
        finally:
            entry = TraceEntry(_scrub(apdu), response)
            self.entries.append(entry)
            for line in entry.lines():
                _log.log(TRAFFIC, line)
                if self._sink is not None:
                    self._sink(line)

    def wait_for_card(self, timeout: float) -> bool:
        return self.inner.wait_for_card(timeout)

    def wait_for_removal(self, timeout: float) -> bool:
        return self.inner.wait_for_removal(timeout)

    def watch(self, on_inserted: PresenceCallback, on_removed: PresenceCallback) -> None:
        self.inner.watch(on_inserted, on_removed)

    def close(self) -> None:
        self.inner.close()

    def lines(self) -> list[str]:
        return [line for entry in self.entries for line in entry.lines()]


def selected_files(entries: list[TraceEntry]) -> list[tuple[bytes | None, int]]:
    """Every (application, file) a trace selected, in order: for privacy assertions."""
    current_ap: bytes | None = None
    out: list[tuple[bytes | None, int]] = []
    for entry in entries:
        try:
            cmd = Command.from_bytes(entry.command)
        except ValueError:
            continue
        if cmd.ins != 0xA4:
            continue
        if cmd.p1 == 0x04:
            current_ap = cmd.data
        elif cmd.p1 == 0x02 and len(cmd.data) == 2:
            out.append((current_ap, int.from_bytes(cmd.data, "big")))
    return out


def forbidden_selections(entries: list[TraceEntry]) -> list[tuple[bytes | None, int]]:
    return [sel for sel in selected_files(entries) if sel in FORBIDDEN_FILES]
