"""PC/SC card readers through pyscard. The only module that imports `smartcard`.

Everything pyscard speaks (lists of ints, camelCase, `SmartcardException` with an `hresult`)
stops here: callers get bytes, our `Transport` protocol and `reader.errors` types whose messages
tell the desk staff what to do. 61xx/6Cxx are followed by `transmit_with_chaining`.

Card presence is watched with `SCardGetStatusChange` on the one reader in use, in a thread owned
by the transport. pyscard's `CardMonitor` is not used: it is a process-wide singleton that
watches every reader and whose thread stops for good once pcscd goes away, while a desk
terminal has to survive a pcscd restart.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict

from reader.atr import Interface, card_interface, format_atr
from reader.errors import CardRemoved, MalformedCardResponse, NoCard, NoReader, ReaderError, ReaderGone, TransportError
from reader.transport import PresenceCallback, transmit_with_chaining

try:
    from smartcard import scard
    from smartcard.CardConnection import CardConnection
    from smartcard.Exceptions import NoCardException, SmartcardException
    from smartcard.pcsc.PCSCCardConnection import PCSCCardConnection

    _PYSCARD_MISSING: ImportError | None = None

    class _Connection(PCSCCardConnection):  # type: ignore[misc]  # pyscard has no type hints: its classes are Any
        def release(self) -> None:
            try:
                super().release()
            except SmartcardException:
                # The context died with a pcscd restart; without this, pyscard's __del__ would
                # try to release it again and print the failure at garbage collection.
                self.hcontext = None

except ImportError as _exc:  # the simulated reader works without it; PC/SC needs it
    _PYSCARD_MISSING = _exc

__all__ = ["PcscTransport", "PcscUnavailable", "ReaderStatus", "SlotState", "choose_reader", "list_readers", "pyscard_available"]

_POLL_MS = 500  # how long one status wait blocks; bounds how fast close() stops the watcher
_SETTLE_S = 1.2  # after a failed transmit, how long pcscd gets to report the slot (it polls every 0.4 s)

_HINT_START_PCSCD = (
    "管理者の方へ: root で `pcscd` を起動してください（systemd のある端末では `sudo systemctl start pcscd`）。"
)


class PcscUnavailable(NoReader):
    """PC/SC as a whole is unusable: pcscd is not running, or pyscard is not installed."""

    title = "カードリーダーのサービスが使えません"


class SlotState(Enum):
    PRESENT = "present"
    EMPTY = "empty"
    NO_READER = "no_reader"  # the reader was unplugged
    NO_SERVICE = "no_service"  # pcscd went away


class ReaderStatus(BaseModel):
    """One PC/SC reader as `desk readers` shows it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    card_present: bool
    atr: str | None = None  # "3B 88 80 01 …", when a card is present
    interface: Interface | None = None  # how the card meets the reader (from the ATR)
    in_use: bool = False  # another application holds the card exclusively


def pyscard_available() -> bool:
    return _PYSCARD_MISSING is None


def _require_pyscard() -> None:
    if _PYSCARD_MISSING is not None:
        raise PcscUnavailable(
            "実機のカードリーダー（PC/SC）を使う部品 pyscard が入っていません。"
            "管理者の方へ: `sudo apt-get install pcscd libpcsclite-dev swig` のあと `make run` で入ります。"
        )


def _hr(value: int) -> int:
    return value & 0xFFFFFFFF  # pyscard hands some hresults back as negative ints


def _service_down(hresult: int) -> bool:
    return _hr(hresult) in (_hr(scard.SCARD_E_NO_SERVICE), _hr(scard.SCARD_E_SERVICE_STOPPED))


def _pcscd_not_running() -> PcscUnavailable:
    return PcscUnavailable("カードリーダーを管理するサービス（pcscd）が動いていません。" + _HINT_START_PCSCD)


def _pcscd_stopped() -> ReaderGone:
    return ReaderGone(
        "カードリーダーを管理するサービス（pcscd）が止まりました。" + _HINT_START_PCSCD + " そのあとカードを置き直してください。"
    )


def _reader_unplugged(name: str) -> ReaderGone:
    return ReaderGone(f"カードリーダー「{name}」との接続が切れました。USBケーブルを挿し直してから、カードを置き直してください。")


@contextmanager
def _context() -> Iterator[int]:
    _require_pyscard()
    hresult, ctx = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if hresult != scard.SCARD_S_SUCCESS:
        if _service_down(hresult):
            raise _pcscd_not_running()
        raise PcscUnavailable(f"カードリーダーのサービスに接続できません（{_describe(hresult)}）。" + _HINT_START_PCSCD)
    try:
        yield ctx
    finally:
        scard.SCardReleaseContext(ctx)


def _describe(hresult: int) -> str:
    try:
        return f"{scard.SCardGetErrorMessage(hresult)} 0x{_hr(hresult):08X}"
    except Exception:  # pragma: no cover - only with a broken pyscard
        return f"0x{_hr(hresult):08X}"


def _reader_names(ctx: int) -> list[str]:
    hresult, names = scard.SCardListReaders(ctx, [])
    if hresult == scard.SCARD_S_SUCCESS:
        return list(names)
    if _hr(hresult) == _hr(scard.SCARD_E_NO_READERS_AVAILABLE):
        return []
    if _service_down(hresult):
        raise _pcscd_not_running()
    raise PcscUnavailable(f"カードリーダーの一覧を取れません（{_describe(hresult)}）。")


def _states(ctx: int, names: list[str]) -> list[tuple[str, int, list[int]]]:
    if not names:
        return []
    hresult, states = scard.SCardGetStatusChange(ctx, 0, [(name, scard.SCARD_STATE_UNAWARE) for name in names])
    if hresult not in (scard.SCARD_S_SUCCESS, scard.SCARD_E_TIMEOUT):
        if _service_down(hresult):
            raise _pcscd_not_running()
        raise PcscUnavailable(f"カードリーダーの状態を取れません（{_describe(hresult)}）。")
    return list(states)


def _card_present(event_state: int) -> bool:
    # MUTE: something is in the slot that does not answer (a card upside down, a loyalty card).
    return bool(event_state & scard.SCARD_STATE_PRESENT) and not event_state & scard.SCARD_STATE_MUTE


def list_readers() -> list[ReaderStatus]:
    """The PC/SC readers and whether a card is on each. [] when none is attached.

    Raises PcscUnavailable when pcscd is not running or pyscard is missing.
    """
    with _context() as ctx:
        out = []
        for name, state, atr in _states(ctx, _reader_names(ctx)):
            present = _card_present(state)
            out.append(
                ReaderStatus(
                    name=name,
                    card_present=present,
                    atr=format_atr(bytes(atr)) if present and atr else None,
                    interface=card_interface(bytes(atr)) if present and atr else None,
                    in_use=bool(state & scard.SCARD_STATE_EXCLUSIVE),
                )
            )
        return out


def _poll_slot(ctx: int, name: str, known: int, wait_ms: int) -> tuple[SlotState | None, int]:
    """Wait up to `wait_ms` for reader `name` to leave state `known`: (new slot state, raw state),
    or (None, known) when nothing changed in time."""
    hresult, states = scard.SCardGetStatusChange(ctx, wait_ms, [(name, known)])
    hr = _hr(hresult)
    if hr == _hr(scard.SCARD_E_TIMEOUT):
        return None, known
    if hr != scard.SCARD_S_SUCCESS:
        if _service_down(hr) or hr in (_hr(scard.SCARD_E_INVALID_HANDLE), _hr(scard.SCARD_E_CANCELLED)):
            return SlotState.NO_SERVICE, known
        return SlotState.NO_READER, known
    state = states[0][1]
    if state & (scard.SCARD_STATE_UNKNOWN | scard.SCARD_STATE_UNAVAILABLE):
        return SlotState.NO_READER, state
    return (SlotState.PRESENT if _card_present(state) else SlotState.EMPTY), state


def choose_reader(names: list[str], present: dict[str, bool], query: str | None) -> str:
    """The reader `query` names: exact name, else a case-insensitive substring; among several,
    the first holding a card. No query: the first reader holding a card, else the first."""
    if not names:
        raise NoReader("カードリーダーが接続されていません。USBケーブルを確認して、リーダーを挿し直してください。")
    candidates = names
    if query:
        exact = [n for n in names if n == query]
        candidates = exact or [n for n in names if query.lower() in n.lower()]
        if not candidates:
            raise NoReader(
                f"カードリーダー「{query}」が見つかりません。接続されているリーダー: {'、'.join(names)}。"
                "`desk readers` で名前を確認してください。"
            )
    with_card = [n for n in candidates if present.get(n)]
    return (with_card or candidates)[0]


class PcscTransport:
    """One PC/SC reader slot, chosen by name (a substring is enough; None: the first reader
    holding a card, else the first reader). The reader is looked up again at each `connect()`,
    so a reader plugged back in under a new index is found.

    `connection` lets a test hand in a ready pyscard-like connection (`connect`, `transmit`,
    `getATR`, `disconnect`); `slot_state` tells what pcscd reports after a failed transmit.
    """

    def __init__(
        self,
        reader_name: str | None = None,
        *,
        connection: Any | None = None,
        slot_state: Callable[[float], SlotState] | None = None,
    ) -> None:
        if connection is None:
            _require_pyscard()
        self.query = reader_name
        self.reader: str | None = reader_name if connection is not None else None
        self._injected = connection
        self._connection: Any | None = None
        self._slot_state = slot_state or self._slot_state_from_pcscd
        self._on_inserted: list[PresenceCallback] = []
        self._on_removed: list[PresenceCallback] = []
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None
        self._watch_ctx: int | None = None

    @property
    def name(self) -> str:
        return f"pcsc:{self.reader or self.query or ''}"

    # -- finding the reader -----------------------------------------------------------------

    def _resolve(self) -> str:
        if self._injected is not None:
            return self.reader or ""
        with _context() as ctx:
            names = _reader_names(ctx)
            present = {name: _card_present(state) for name, state, _ in _states(ctx, names)}
        self.reader = choose_reader(names, present, self.query)
        return self.reader

    # -- the card ---------------------------------------------------------------------------

    def connect(self) -> None:
        name = self._resolve()
        self._drop_connection()
        connection = self._injected if self._injected is not None else self._new_connection(name)
        try:
            connection.connect(CardConnection.T0_protocol | CardConnection.T1_protocol)
        except SmartcardException as exc:
            if connection is not self._injected:
                connection.release()  # its PC/SC context, now rather than at garbage collection
            if isinstance(exc, NoCardException):
                raise NoCard(f"カードリーダー「{name}」にカードが置かれていません。カードを置いてください。") from exc
            raise self._connect_error(exc, name) from exc
        self._connection = connection

    @staticmethod
    def _new_connection(name: str) -> Any:
        try:
            return _Connection(name)
        except SmartcardException as exc:  # it opens its own PC/SC context
            if _service_down(exc.hresult):
                raise _pcscd_not_running() from exc
            raise PcscUnavailable(f"カードリーダーのサービスに接続できません（{_describe(exc.hresult)}）。") from exc

    def _connect_error(self, exc: SmartcardException, name: str) -> ReaderError:
        hr = _hr(exc.hresult)
        if _service_down(hr):
            return _pcscd_not_running()
        if hr in (_hr(scard.SCARD_E_UNKNOWN_READER), _hr(scard.SCARD_E_READER_UNAVAILABLE)):
            return NoReader(f"カードリーダー「{name}」が見つかりません。USBケーブルを確認してください。")
        if hr == _hr(scard.SCARD_E_SHARING_VIOLATION):
            return TransportError("ほかのアプリがカードを使用中です。そのアプリを閉じてから、もう一度読み取ってください。")
        if hr in (_hr(scard.SCARD_W_UNRESPONSIVE_CARD), _hr(scard.SCARD_W_UNPOWERED_CARD)):
            return TransportError("カードが応答しません。カードの向きと位置を確かめて、置き直してください。")
        if hr in (_hr(scard.SCARD_W_REMOVED_CARD), _hr(scard.SCARD_E_NO_SMARTCARD)):
            return NoCard(f"カードリーダー「{name}」にカードが置かれていません。カードを置いてください。")
        return TransportError(f"カードに接続できません（{_describe(hr)}）。カードを置き直してください。")

    @property
    def atr(self) -> bytes:
        connection = self._connection
        if connection is None:
            raise NoCard("カードに接続していません。カードを置いてください。")
        try:
            return bytes(connection.getATR())
        except SmartcardException as exc:
            raise self._transmit_error(exc) from exc

    def transmit(self, apdu: bytes) -> bytes:
        if self._connection is None:
            raise NoCard("カードに接続していません。カードを置いてください。")
        return transmit_with_chaining(self._transmit_once, apdu)

    def _transmit_once(self, apdu: bytes) -> bytes:
        connection = self._connection
        if connection is None:  # dropped by an earlier error in this exchange
            raise CardRemoved("読み取り中にカードが取り外されました。カードをもう一度置いてください。")
        try:
            data, sw1, sw2 = connection.transmit(list(apdu))
        except SmartcardException as exc:
            error = self._transmit_error(exc)
            if not isinstance(error, MalformedCardResponse):
                self._drop_connection()
            raise error from exc
        return bytes(data) + bytes((sw1, sw2))

    def _transmit_error(self, exc: SmartcardException) -> ReaderError:
        hr = _hr(exc.hresult)
        name = self.reader or ""
        if hr in (_hr(scard.SCARD_W_REMOVED_CARD), _hr(scard.SCARD_E_NO_SMARTCARD)):
            return CardRemoved("読み取り中にカードが取り外されました。カードをもう一度置いてください。")
        if _service_down(hr) or hr == _hr(scard.SCARD_E_INVALID_HANDLE):
            return _pcscd_stopped()  # pcscd restarted: our handle died with it
        if hr in (_hr(scard.SCARD_E_READER_UNAVAILABLE), _hr(scard.SCARD_E_UNKNOWN_READER)):
            return _reader_unplugged(name)
        if hr == _hr(scard.SCARD_W_RESET_CARD):
            return TransportError("ほかのアプリがカードをリセットしました。もう一度読み取ってください。")
        # A broken exchange (NOT_TRANSACTED, comm errors) is a pulled card more often than not;
        # so is an answer without a status word (pyscard's "no valid response", hresult 0): vpcd
        # reports a card that vanished mid-command that way. pcscd's next poll tells which.
        state = self._slot_state(_SETTLE_S)
        if state is SlotState.EMPTY:
            return CardRemoved("読み取り中にカードが取り外されました。カードをもう一度置いてください。")
        if state is SlotState.NO_READER:
            return _reader_unplugged(name)
        if state is SlotState.NO_SERVICE:
            return _pcscd_stopped()
        if hr == scard.SCARD_S_SUCCESS:
            return MalformedCardResponse("カードの応答に状態コードがありません。カードを置き直してください。")
        return TransportError(f"カードとの通信に失敗しました（{_describe(hr)}）。カードを置き直してください。")

    def _slot_state_from_pcscd(self, settle: float) -> SlotState:
        """What pcscd says about our slot once it has polled it (a removal shows within ~0.4 s)."""
        name = self.reader
        if name is None:
            return SlotState.NO_READER
        deadline = time.monotonic() + settle
        try:
            with _context() as ctx:
                slot, raw = _poll_slot(ctx, name, scard.SCARD_STATE_UNAWARE, 0)
                while slot is SlotState.PRESENT and (left := deadline - time.monotonic()) > 0:
                    changed, raw = _poll_slot(ctx, name, raw, int(left * 1000))
                    if changed is None:
                        break  # no change within the settle time: the card is still there
                    slot = changed
                return slot or SlotState.PRESENT
        except PcscUnavailable:
            return SlotState.NO_SERVICE

    def _drop_connection(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            connection.disconnect()
        except Exception:  # the card or pcscd is already gone; nothing left to release
            pass
        release = getattr(connection, "release", None)
        if release is not None and connection is not self._injected:
            try:
                release()
            except Exception:
                pass

    # -- presence ---------------------------------------------------------------------------

    def _wait_for(self, want_present: bool, timeout: float) -> bool:
        name = self._resolve()
        deadline = time.monotonic() + timeout
        with _context() as ctx:
            slot, raw = _poll_slot(ctx, name, scard.SCARD_STATE_UNAWARE, 0)
            while True:
                if slot is SlotState.NO_SERVICE:
                    raise _pcscd_stopped()
                if slot is SlotState.NO_READER:
                    if want_present:
                        raise _reader_unplugged(name)
                    return True  # the reader went away, and the card with it
                if slot is not None and (slot is SlotState.PRESENT) == want_present:
                    return True
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                slot, raw = _poll_slot(ctx, name, raw, int(left * 1000))

    def wait_for_card(self, timeout: float) -> bool:
        return self._wait_for(True, timeout)

    def wait_for_removal(self, timeout: float) -> bool:
        return self._wait_for(False, timeout)

    def watch(self, on_inserted: PresenceCallback, on_removed: PresenceCallback) -> None:
        """Call back, from the watcher thread, on every insertion and removal after this call
        (a card already present is not reported: ask `wait_for_card(0)`). pcscd stopping counts
        as a removal; the watcher keeps trying and reports the card once pcscd is back."""
        _require_pyscard()
        self._on_inserted.append(on_inserted)
        self._on_removed.append(on_removed)
        if self._watcher is None:
            self._stop.clear()
            first_reading = threading.Event()
            self._watcher = threading.Thread(
                target=self._watch_loop, args=(first_reading,), name=f"pcsc-watch:{self.query or ''}", daemon=True
            )
            self._watcher.start()
            # Changes count from here: return once the watcher knows the slot's state.
            first_reading.wait(_POLL_MS / 1000 * 2)

    def _watch_loop(self, first_reading: threading.Event) -> None:
        present: bool | None = None  # None: not known yet, so the first reading fires nothing
        events = 0
        while not self._stop.is_set():
            try:
                with _context() as ctx:
                    self._watch_ctx = ctx
                    # Keep to the reader in use while it is there; otherwise choose again.
                    name = self.reader if self.reader in _reader_names(ctx) else self._resolve()
                    slot, raw = _poll_slot(ctx, name, scard.SCARD_STATE_UNAWARE, 0)
                    while not self._stop.is_set() and slot not in (SlotState.NO_SERVICE, SlotState.NO_READER):
                        if slot is not None:
                            now_present = slot is SlotState.PRESENT
                            now_events = raw >> 16  # pcsc-lite counts card events in the high word
                            # Same state but a new event count: a card was exchanged between two polls.
                            swapped = bool(present and now_present and now_events != events)
                            if present is not None and (present and not now_present or swapped):
                                self._fire(self._on_removed)
                            if present is not None and (now_present and not present or swapped):
                                self._fire(self._on_inserted)
                            present, events = now_present, now_events
                            first_reading.set()
                        slot, raw = _poll_slot(ctx, name, raw, _POLL_MS)
            except ReaderError:
                pass  # pcscd down or no reader: no card for now; look again shortly
            finally:
                self._watch_ctx = None
            if self._stop.is_set():
                return
            if present:
                self._fire(self._on_removed)
            present = False  # pcscd down or no reader: no card (also as the first reading)
            first_reading.set()
            self._stop.wait(_POLL_MS / 1000)

    @staticmethod
    def _fire(callbacks: list[PresenceCallback]) -> None:
        for callback in list(callbacks):
            try:
                callback()
            except Exception:  # a listener's bug must not stop the watching
                import logging

                logging.getLogger(__name__).exception("presence callback failed")

    def close(self) -> None:
        self._stop.set()
        ctx = self._watch_ctx
        if ctx is not None:
            scard.SCardCancel(ctx)
        watcher, self._watcher = self._watcher, None
        if watcher is not None and watcher is not threading.current_thread():
            watcher.join(timeout=2)
        self._on_inserted.clear()
        self._on_removed.clear()
        self._drop_connection()
