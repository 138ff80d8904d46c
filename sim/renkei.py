"""The simulated 連携アプリ of a 資格確認端末: it watches `req/` and answers into `res/`.

What the real terminal's application does with the files a レセコン drops into its shared folder
(docs/interface.md): a 個別照会 `OQSsiquc01req_<id>.xml` is answered by `OQSsiquc01res_<id>.xml`;
an 一括照会 `OQSmuquc01req_…` is accepted with a reception number, whose results an
`OQSmuquc02req_…` fetches (処理中 until they are ready); a request it cannot read, or of a kind it
does not know, is put back into `res/` beside `<its base name>.err` holding the reason. Answers are written whole (temporary file,
fsync, rename) in UTF-8 or Shift_JIS as configured, and the request is removed once answered.

The answers come from the simulated central system (sim/central.py), so a query through the
folders and one made in process give the same result. `RenkeiFaults` makes the terminal slow,
silent, sloppy (an answer written in two halves under its final name, or cut short) or
repetitive (every answer written twice), for the adapter's tests (desk/exchange/reqres_central.py).

Run it by hand beside a レセコン: `python -m sim.renkei FOLDER [--shift-jis]`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from desk.atomicfile import private_dir
from desk.central import CentralError, error_reply
from desk.exchange.codec import Encoding
from desk.exchange.folders import ExchangeFolders, hand_over
from desk.exchange.names import Business, error_name, parse_request_name, response_name
from desk.exchange.requests import (
    BulkAccepted,
    BulkResult,
    BulkUnit,
    RequestError,
    bulk_accepted_to_xml,
    bulk_result_to_xml,
    parse_bulk_fetch,
    parse_bulk_upload,
    parse_single_request,
)
from desk.export import ExportError, reply_to_xml
from desk.models import NumbersQuery
from sim.central import SimCentralSystem

__all__ = ["RenkeiFaults", "SimRenkeiApp", "main"]

_log = logging.getLogger("madoguchi.sim.renkei")
_JST = dt.timezone(dt.timedelta(hours=9))


class RenkeiFaults(BaseModel):
    """How the simulated terminal misbehaves. Deterministic."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    silent: bool = Field(default=False, description="takes no request at all (the 連携アプリ is stopped)")
    latency_ms: int = Field(default=0, ge=0, description="before each answer")
    half_written_ms: int = Field(default=0, ge=0, description="the answer is written in two halves under its final name, this long apart")
    truncated: bool = Field(default=False, description="the answer is cut short and stays so")
    duplicate: bool = Field(default=False, description="every answer is written again once the first was taken")
    bulk_ready_after: int = Field(default=0, ge=0, description="a 一括照会's results are 処理中 for this many fetches")


@dataclass
class _Bulk:
    queries: list[NumbersQuery]
    confirmation_date: dt.date
    medical_institution_code: str
    fetches: int = 0
    units: list[BulkUnit] = field(default_factory=list)


class SimRenkeiApp:
    def __init__(
        self,
        root: Path,
        central: SimCentralSystem,
        *,
        encoding: Encoding = Encoding.UTF8,
        poll_s: float = 0.02,
        faults: RenkeiFaults | None = None,
        today: Callable[[], dt.date] | None = None,
    ) -> None:
        self.folders = ExchangeFolders(Path(root))
        for folder in (self.folders.req, self.folders.res, self.folders.face):
            private_dir(folder)
        self.central = central
        self.encoding = encoding
        self.poll_s = poll_s
        self.faults = faults or RenkeiFaults()
        self._today = today or (lambda: dt.datetime.now(_JST).date())
        self._bulks: dict[str, _Bulk] = {}
        self._sequence = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._duplicates: list[tuple[str, bytes]] = []
        self.answered = 0  # requests answered (res or .err), for tests and the bench

    # -- running ----------------------------------------------------------------------------------

    def start(self) -> SimRenkeiApp:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="sim-renkei", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> SimRenkeiApp:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # noqa: BLE001 - the watcher must outlive any one bad file
                _log.exception("renkei: a request could not be handled")
            self._stop.wait(self.poll_s)

    def run_once(self) -> int:
        """Answer every request now in `req/`, oldest name first; how many were answered."""
        self._write_duplicates()
        if self.faults.silent:
            return 0
        try:
            names = sorted(p.name for p in self.folders.req.iterdir())
        except FileNotFoundError:
            return 0
        handled = 0
        for name in names:
            if name.startswith(".") or parse_request_name(name) is None:
                continue  # a file still being written (dot-name), or not a request
            path = self.folders.req / name
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                continue  # the requester took it back
            self._answer(name, data)
            handled += 1
        return handled

    # -- answering --------------------------------------------------------------------------------

    def _answer(self, name: str, data: bytes) -> None:
        parsed = parse_request_name(name)
        assert parsed is not None
        business = parsed[0]
        if self.faults.latency_ms:
            time.sleep(self.faults.latency_ms / 1000)
        try:
            if business == Business.SINGLE.value:
                payload = self._single(data)
            elif business == Business.BULK_UPLOAD.value:
                payload = self._bulk_upload(data)
            elif business == Business.BULK_FETCH.value:
                payload = self._bulk_fetch(data)
            else:
                raise RequestError(f"この資格確認端末（模擬）は {business} の照会に対応していません")
        except (RequestError, ExportError) as exc:
            # as the SmartKarte bridge expects it: the request back in res/, its reason beside it
            os.replace(self.folders.req / name, self.folders.res / name)
            self._write(error_name(name), f"{exc}\n".encode(self.encoding.codec, errors="replace"))
            return
        (self.folders.req / name).unlink(missing_ok=True)
        self._write(response_name(name), payload)

    def _now(self) -> dt.datetime:
        return dt.datetime.now(_JST).replace(tzinfo=None, microsecond=0)

    def _single(self, data: bytes) -> bytes:
        request = parse_single_request(data, today=self._today())
        try:
            reply = self.central.confirm_numbers(
                request.query, confirmation_date=request.confirmation_date, medical_institution_code=request.medical_institution_code
            )
        except CentralError as exc:
            reply = error_reply(
                exc, reference_classification=2, confirmation_date=request.confirmation_date, at=self._now(),
                medical_institution_code=request.medical_institution_code,
            )
        # the answer carries the requester's identifier back (their key to match it)
        reply = reply.model_copy(update={"arbitrary_file_identifier": request.identifier or reply.arbitrary_file_identifier})
        return reply_to_xml(reply, self.encoding)

    def _bulk_upload(self, data: bytes) -> bytes:
        upload = parse_bulk_upload(data, today=self._today())
        self._sequence += 1
        number = f"{self._now():%Y%m%d%H%M%S}{self._sequence:04d}"  # unique across restarts
        bulk = _Bulk(upload.queries, upload.confirmation_date, upload.medical_institution_code)
        bulk.units = [self._unit(i, q, bulk) for i, q in enumerate(upload.queries, 1)]
        self._bulks[number] = bulk
        accepted = BulkAccepted(reception_number=number, identifier=upload.identifier)
        return bulk_accepted_to_xml(accepted, at=self._now(), encoding=self.encoding, mic=upload.medical_institution_code)

    def _unit(self, index: int, query: NumbersQuery, bulk: _Bulk) -> BulkUnit:
        try:
            reply = self.central.confirm_numbers(
                query, confirmation_date=bulk.confirmation_date, medical_institution_code=bulk.medical_institution_code
            )
        except CentralError as exc:
            return BulkUnit(index, query, None, f"{exc.title}: {exc.msg}")
        return BulkUnit(index, query, reply)

    def _bulk_fetch(self, data: bytes) -> bytes:
        fetch = parse_bulk_fetch(data)
        bulk = self._bulks.get(fetch.reception_number)
        if bulk is None:
            result = BulkResult(fetch.reception_number, fetch.identifier, False, error=f"受付番号 {fetch.reception_number} の一括照会はありません")
        elif bulk.medical_institution_code != fetch.medical_institution_code:
            result = BulkResult(fetch.reception_number, fetch.identifier, False, error="別の医療機関の受付番号です")
        else:
            bulk.fetches += 1
            ready = bulk.fetches > self.faults.bulk_ready_after
            result = BulkResult(fetch.reception_number, fetch.identifier, not ready, bulk.units if ready else [])
        return bulk_result_to_xml(
            result, at=self._now(), encoding=self.encoding, mic=fetch.medical_institution_code,
            day=bulk.confirmation_date if bulk is not None else None,
        )

    # -- writing ----------------------------------------------------------------------------------

    def _write(self, name: str, payload: bytes) -> None:
        target = self.folders.res / name
        if self.faults.truncated:
            payload = payload[: len(payload) // 2]
        if self.faults.half_written_ms:
            # as a careless writer does: the final name at once, the content in two goes
            half = len(payload) // 2
            with open(target, "wb") as handle:
                os.fchmod(handle.fileno(), 0o600)
                handle.write(payload[:half])
                handle.flush()
                time.sleep(self.faults.half_written_ms / 1000)
                handle.write(payload[half:])
        else:
            hand_over(self.folders.res, name, payload)
        self.answered += 1
        if self.faults.duplicate:
            self._duplicates.append((name, payload))

    def _write_duplicates(self) -> None:
        """The second copy of each answer, once the requester has taken the first."""
        for name, payload in list(self._duplicates):
            if not (self.folders.res / name).exists():
                hand_over(self.folders.res, name, payload)
                self._duplicates.remove((name, payload))


def main(argv: list[str] | None = None) -> int:
    """Serve a folder pair by hand: `python -m sim.renkei FOLDER [--shift-jis]` (Ctrl+C stops)."""
    parser = argparse.ArgumentParser(prog="python -m sim.renkei", description="模擬の資格確認端末（連携アプリ）: req/ の照会に res/ で応答します")
    parser.add_argument("folder", type=Path, help="共有フォルダ（req/ res/ face/ を作ります）")
    parser.add_argument("--shift-jis", action="store_true", help="応答を Shift_JIS で書く（既定 UTF-8）")
    args = parser.parse_args(argv)
    central = SimCentralSystem.from_fixtures()
    app = SimRenkeiApp(args.folder, central, encoding=Encoding.SHIFT_JIS if args.shift_jis else Encoding.UTF8)
    print(f"{args.folder} の req/ を監視しています（Ctrl+C で終了）", file=sys.stderr)
    try:
        app._loop()
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
