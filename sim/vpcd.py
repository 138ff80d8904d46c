"""The card side of vsmartcard's vpcd: serves a `VirtualCard` to a real pcscd over TCP.

vpcd (Debian `vsmartcard-vpcd`, loaded by pcscd) listens on 35963 for reader "Virtual PCD 00 00"
and 35964 for "Virtual PCD 00 01". A card is a TCP client of it; closing the connection is
taking the card away. Every message, both ways, is a 2-byte big-endian length and that many
bytes. A 1-byte message from vpcd is a control: 00 power off, 01 power on, 02 reset (no reply),
04 get ATR (reply: the ATR). Anything longer is a command APDU, answered by one response APDU.

Why the socket options: vpcd writes the length and the body in two send() calls without
TCP_NODELAY, so Nagle holds the body until the card ACKs the length, and Linux delays that ACK
by ~40 ms. Re-arming TCP_QUICKACK after every recv removes that wait (44 ms → ~0.1 ms per APDU,
shared/research/feasibility.md §8); our replies go out in one write with TCP_NODELAY so the
same never happens the other way.

Run by hand against a running pcscd:  python -m sim.vpcd --card adult
"""

from __future__ import annotations

import argparse
import signal
import socket
import sys
import threading
import time

from reader.errors import ReaderError
from sim.card import VirtualCard

__all__ = ["VpcdCardServer", "VpcdUnavailable", "VPCD_PORT", "VPCD_READER", "VPCD_SECOND_PORT", "VPCD_SECOND_READER"]

VPCD_PORT = 35963  # Debian's /etc/reader.conf.d/vpcd: CHANNELID 0x8C7B
VPCD_READER = "Virtual PCD 00 00"  # the reader pcscd shows for that port
# vpcd's second slot of the same config: the next port, the next reader (a desk with two readers)
VPCD_SECOND_PORT = VPCD_PORT + 1
VPCD_SECOND_READER = "Virtual PCD 00 01"

_POWER_OFF, _POWER_ON, _RESET, _GET_ATR = 0x00, 0x01, 0x02, 0x04
_QUICKACK = getattr(socket, "TCP_QUICKACK", None)  # Linux only; elsewhere the delay stays


class VpcdUnavailable(ReaderError):
    title = "仮想カードをカードリーダーに置けません"


class VpcdCardServer:
    """One virtual reader slot of vpcd, with a card placed on it or not.

    `insert(card)` places a card (connecting to vpcd if no card is connected); `remove()` takes
    it away (the connection is closed, pcscd notices on its next poll, within ~0.4 s). A card
    whose injected fault "remove_after" fires is taken away right after that answer.
    The server runs a thread in the caller's process, so the card object, its PIN counters and
    its faults are the very ones the caller holds.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = VPCD_PORT, *, tuned: bool = True) -> None:
        self.host = host
        self.port = port
        self.tuned = tuned  # False only to measure what the socket options buy (bench/card.py)
        self._lock = threading.Lock()
        self._card: VirtualCard | None = None
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self.messages = 0  # control messages and APDUs answered since start, for diagnostics

    # -- what the test or the trainer does --------------------------------------------------

    @property
    def card(self) -> VirtualCard | None:
        return self._card

    @property
    def connected(self) -> bool:
        return self._sock is not None

    def insert(self, card: VirtualCard, *, connect_timeout: float = 5.0) -> None:
        """Place `card`. If a card is already connected, the chip is swapped in place.

        An in-place swap is what a reader sees when a card is exchanged between two of pcscd's
        polls; it avoids the 0.4-0.8 s pcscd needs to notice a removal and a new insertion.
        Callers that need pcscd to see the removal call `remove()` first.
        """
        card.removed = False
        card.apdu_count = 0
        card.reset()
        with self._lock:
            previous, self._card = self._card, card
            # A card pulled by its fault has sent its last answer; its connection is ending.
            if self._sock is not None and not (previous is not None and previous.removed):
                return
            stale_sock, stale_thread = self._sock, self._thread
            self._sock = self._thread = None
        if stale_sock is not None:
            _close(stale_sock)
        if stale_thread is not None:
            stale_thread.join(timeout=2)
        self._connect(connect_timeout)

    def remove(self) -> None:
        """Take the card away: close the connection, as pulling the card breaks the contacts."""
        with self._lock:
            card, self._card = self._card, None
            sock, thread = self._sock, self._thread
            self._sock = self._thread = None
        if card is not None:
            card.remove()
        if sock is not None:
            _close(sock)
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=2)

    close = remove

    def __enter__(self) -> VpcdCardServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()

    # -- the connection -----------------------------------------------------------------------

    def _connect(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                sock = socket.create_connection((self.host, self.port), timeout=1.0)
                break
            except OSError as exc:
                # pcscd may still be loading the driver; only then is the port open.
                if time.monotonic() >= deadline:
                    raise VpcdUnavailable(
                        f"仮想カードリーダー（vpcd, {self.host}:{self.port}）に接続できません: {exc.strerror or exc}。"
                        "pcscd が動いているか、vsmartcard-vpcd が入っているか確認してください"
                        "（root で `pcscd --foreground` を起動）。"
                    ) from exc
                time.sleep(0.05)
        sock.settimeout(None)
        if self.tuned:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        thread = threading.Thread(target=self._serve, args=(sock,), name=f"vpcd-card:{self.port}", daemon=True)
        with self._lock:
            self._sock, self._thread = sock, thread
        thread.start()

    def _serve(self, sock: socket.socket) -> None:
        try:
            while True:
                message = self._recv_message(sock)
                if message is None:
                    return  # vpcd closed the connection (pcscd stopped) or we did
                with self._lock:
                    card = self._card
                if card is None:
                    return
                reply = self._answer(card, message)
                if reply is not None:
                    # One write: a separate length write would meet the same Nagle wait vpcd's does.
                    sock.sendall(len(reply).to_bytes(2, "big") + reply)
                self.messages += 1
                if card.removed:
                    return  # fault "remove_after": the answer went out, now the card is gone
        except OSError:
            return
        finally:
            self._disconnected(sock)

    def _disconnected(self, sock: socket.socket) -> None:
        with self._lock:
            if self._sock is sock:
                self._sock = self._thread = None
        _close(sock)

    def _answer(self, card: VirtualCard, message: bytes) -> bytes | None:
        if len(message) != 1:
            return card.process(message)
        control = message[0]
        if control in (_POWER_OFF, _POWER_ON, _RESET):
            card.reset()
            return None
        if control == _GET_ATR:
            return card.atr
        return None  # unknown control: vpcd expects no answer

    def _recv_message(self, sock: socket.socket) -> bytes | None:
        header = self._recv_exactly(sock, 2)
        if header is None:
            return None
        length = int.from_bytes(header, "big")
        return self._recv_exactly(sock, length) if length else b""

    def _recv_exactly(self, sock: socket.socket, n: int) -> bytes | None:
        buf = bytearray()
        while len(buf) < n:
            chunk = sock.recv(n - len(buf))
            if self.tuned and _QUICKACK is not None:
                # Linux clears QUICKACK after it has been used: re-arm it after every read.
                sock.setsockopt(socket.IPPROTO_TCP, _QUICKACK, 1)
            if not chunk:
                return None
            buf += chunk
        return bytes(buf)


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


def main(argv: list[str] | None = None) -> int:
    """Serve one fixture card to a running pcscd until Ctrl+C (for trying the terminal by hand)."""
    from sim.fixtures import FixtureError
    from sim.world import SimWorld

    parser = argparse.ArgumentParser(
        prog="python -m sim.vpcd",
        description="仮想マイナンバーカードを pcscd（vsmartcard-vpcd）のカードリーダーに置きます",
    )
    parser.add_argument("--card", default="adult", help="fixtures/cards のカード名（既定 adult）")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=VPCD_PORT, help=f"vpcd のポート（既定 {VPCD_PORT} = {VPCD_READER}）")
    args = parser.parse_args(argv)
    try:
        card = SimWorld().card(args.card)
    except FixtureError as exc:
        print(f"{exc.title}: {exc}", file=sys.stderr)
        return 2
    server = VpcdCardServer(args.host, args.port)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # `kill` takes the card away cleanly too
    try:
        server.insert(card)
        print(f"カード {args.card} を {args.host}:{args.port} に置きました。Ctrl+C で取り外します。", file=sys.stderr)
        while True:
            time.sleep(0.5)
            if not server.connected:
                if card.removed:
                    print("カードが取り外されました（故障注入 remove_after）。", file=sys.stderr)
                    return 0
                print("pcscd との接続が切れました。再接続します…", file=sys.stderr)
                server.insert(card, connect_timeout=60)
    except VpcdUnavailable as exc:
        print(f"{exc.title}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        server.remove()


if __name__ == "__main__":
    sys.exit(main())
