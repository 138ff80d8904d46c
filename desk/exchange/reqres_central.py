"""`ReqResCentral`: the desk's CentralSystem over a 資格確認端末's shared req/res folders.

The same road a レセコン takes to the real terminal: a request file into `req/`, the answer
awaited in `res/` under the request's name with `req` turned into `res` (or `<request>.err`).
It serves the numbers query (照会区分 2) and 一括照会. Card confirmations are the reader's own
business at a real terminal: they are handed to `card_central` when the composition root gives
one, and refused (CentralNotOffered) otherwise.

Faults, each a CentralError with a Japanese message:
- the share is missing or read-only → CentralUnavailable (an outage: the query is queued);
- no answer within `timeout_s` → CentralTimeout; the request is taken back if still unread, so a
  terminal that wakes later does not answer a query nobody waits for;
- `.err` → CentralRequestRefused (never retried: it would be refused again);
- an answer that stays unreadable for `settle_s` (half-written, truncated) → CentralMalformedReply;
- an answer to another request (its ArbitraryFileIdentifier is not ours) → CentralMalformedReply.
Answers are removed once read: they hold patient data, and a duplicate written later is swept
(`sweep`) rather than taken for the answer to a new request, whose name is always new.
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from desk.central import (
    CentralMalformedReply,
    CentralNotOffered,
    CentralRequestRefused,
    CentralSystem,
    CentralTimeout,
    CentralUnavailable,
)
from desk.exchange.codec import Encoding, decode_text
from desk.exchange.folders import ExchangeFolders, Unsettled, hand_over, read_settled, wait_for_any
from desk.exchange.names import Business, error_name, parse_request_name, request_name, response_name
from desk.exchange.requests import (
    BulkAccepted,
    BulkFetch,
    BulkResult,
    BulkUpload,
    RequestError,
    SingleRequest,
    bulk_fetch_to_xml,
    bulk_upload_to_xml,
    parse_bulk_accepted,
    parse_bulk_result,
    single_request_to_xml,
)
from desk.export import reply_from_xml
from desk.models import CardQuery, EligibilityReply, NumbersQuery

__all__ = ["ReqResCentral", "IDENTIFIER_PREFIX"]

T = TypeVar("T")
R = TypeVar("R")
# Our requests' identifiers start with this: the desk only ever sweeps answers to its own requests
# (a レセコン may share the folders).
IDENTIFIER_PREFIX = "MDG"


def _read_error_file(path: Path) -> str:
    data = path.read_bytes()[:2000]
    text = decode_text(data)
    return (text if text is not None else data.decode("utf-8", errors="replace")).strip()


class ReqResCentral:
    def __init__(
        self,
        root: Path,
        *,
        encoding: Encoding = Encoding.UTF8,
        timeout_s: float = 30.0,
        poll_s: float = 0.02,  # a stat() per poll: cheap, and the answer is seen within 20 ms
        settle_s: float = 2.0,
        card_central: CentralSystem | None = None,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.folders = ExchangeFolders(Path(root))
        self.encoding = encoding
        self.timeout_s = timeout_s
        self.poll_s = poll_s
        self.settle_s = settle_s
        self.card_central = card_central
        self._sleep = sleep
        self._monotonic = monotonic

    # -- CentralSystem --------------------------------------------------------------------------

    def _card(self) -> CentralSystem:
        if self.card_central is None:
            raise CentralNotOffered(
                "資格確認端末の共有フォルダ経由では、保険者番号などによる照会と一括照会だけができます。"
                "マイナ保険証は資格確認端末の顔認証付きカードリーダーで確認してください。"
            )
        return self.card_central

    def request_nonce(self) -> bytes:
        return self._card().request_nonce()

    def confirm_card(self, query: CardQuery) -> EligibilityReply:
        return self._card().confirm_card(query)

    def health(self) -> tuple[bool, str]:
        problems = self.folders.problems()
        if problems:
            return False, "資格確認端末の共有フォルダ: " + "、".join(problems)
        return True, f"資格確認端末（{self.folders.root}）"

    def confirm_numbers(
        self, query: NumbersQuery, *, confirmation_date: dt.date, medical_institution_code: str
    ) -> EligibilityReply:
        identifier = self._new_identifier()
        data = self._request(single_request_to_xml, SingleRequest(query, medical_institution_code, identifier, confirmation_date, self.encoding))
        reply = self._exchange(request_name(Business.SINGLE, identifier), data, reply_from_xml)
        if reply.arbitrary_file_identifier not in (None, identifier):
            raise CentralMalformedReply(
                f"別の照会への応答が返されました（{reply.arbitrary_file_identifier}）。照会し直してください。"
            )
        if reply.reference_classification != 2:
            raise CentralMalformedReply(f"照会区分が {reply.reference_classification} の応答です（2 のはずです）。")
        return reply

    # -- 一括照会 --------------------------------------------------------------------------------

    def bulk_upload(self, queries: list[NumbersQuery], *, confirmation_date: dt.date, medical_institution_code: str) -> BulkAccepted:
        """Hand in the list; the terminal answers with a reception number (or refuses the list)."""
        identifier = self._new_identifier()
        data = self._request(bulk_upload_to_xml, BulkUpload(queries, medical_institution_code, identifier, confirmation_date, self.encoding))
        accepted = self._exchange(request_name(Business.BULK_UPLOAD, identifier), data, parse_bulk_accepted)
        if accepted.error:
            raise CentralRequestRefused(accepted.error)
        return accepted

    def bulk_fetch(self, reception_number: str, *, medical_institution_code: str) -> BulkResult:
        """The results of a reception number; `processing` while the terminal is not done."""
        identifier = self._new_identifier()
        data = self._request(bulk_fetch_to_xml, BulkFetch(reception_number, medical_institution_code, identifier, self.encoding))
        result = self._exchange(request_name(Business.BULK_FETCH, identifier), data, parse_bulk_result)
        if result.error:
            raise CentralRequestRefused(result.error)
        return result

    # -- the exchange ---------------------------------------------------------------------------

    @staticmethod
    def _request(build: Callable[[R], bytes], message: R) -> bytes:
        try:
            return build(message)
        except RequestError as exc:  # e.g. a character the request's encoding cannot carry
            raise CentralRequestRefused(f"照会を書けません: {exc}") from None

    def _new_identifier(self) -> str:
        # time first, so the files sort by when they were asked; random, so two desks never collide
        return f"{IDENTIFIER_PREFIX}{dt.datetime.now():%Y%m%d%H%M%S%f}{secrets.token_hex(3)}"

    def _exchange(self, name: str, data: bytes, parse: Callable[[bytes], T]) -> T:
        problems = self.folders.problems()
        if problems:
            raise CentralUnavailable("資格確認端末の共有フォルダを使えません: " + "、".join(problems))
        request = self.folders.req / name
        try:
            hand_over(self.folders.req, name, data)
        except OSError as exc:
            raise CentralUnavailable(f"資格確認端末の共有フォルダ {self.folders.req} に照会を書き込めません: {exc.strerror or exc}") from exc
        answer_path = self.folders.res / response_name(name)
        error_path = self.folders.res / error_name(name)
        found = wait_for_any(
            (answer_path, error_path), timeout_s=self.timeout_s, poll_s=self.poll_s, sleep=self._sleep, monotonic=self._monotonic
        )
        if found is None:
            taken_back = self._take_back(request)
            raise CentralTimeout(
                f"資格確認端末が{self.timeout_s:g}秒たっても応答しません"
                + ("（照会は取り下げました）" if taken_back else "（照会は受け取られています。応答は後で届いても使われません）")
                + "。資格確認端末と連携アプリが動いているか確認してください。"
            )
        try:
            if found == error_path:
                raise CentralRequestRefused(_read_error_file(error_path) or "理由は示されていません")
            try:
                return read_settled(found, parse, settle_s=self.settle_s, poll_s=self.poll_s, sleep=self._sleep, monotonic=self._monotonic)
            except Unsettled as exc:
                reason = exc.last_error
                detail = getattr(reason, "msg", None) or str(reason)
                raise CentralMalformedReply(f"資格確認端末の応答を読み取れませんでした。照会し直してください。（{detail}）") from None
        except OSError as exc:
            raise CentralUnavailable(f"資格確認端末の応答 {found.name} を読めません: {exc.strerror or exc}") from exc
        finally:
            # an .err comes with the request put back into res/: take both
            leftovers = (found, request, self.folders.res / name) if found == error_path else (found, request)
            for path in leftovers:
                try:
                    path.unlink(missing_ok=True)
                except OSError:
                    pass  # swept later

    def _take_back(self, request: Path) -> bool:
        """Whether the request was still unread and is now withdrawn."""
        try:
            request.unlink()
            return True
        except OSError:  # taken by the terminal meanwhile, or not ours to remove
            return False

    def sweep(self, *, older_than_s: float | None = None) -> int:
        """Remove answers to our own requests that nobody waits for any more (late or duplicate
        answers); other software's files are left alone. Only files older than `older_than_s`
        (default: twice the answer timeout, at least a minute), so an answer another desk on the
        same folder is still waiting for is never taken from it. Returns how many were removed."""
        age = max(60.0, 2 * self.timeout_s) if older_than_s is None else older_than_s
        now = time.time()
        removed = 0
        try:
            entries = list(self.folders.res.iterdir())
        except OSError:
            return 0
        for path in entries:
            # answers (…res_ID.xml), refusals (…req_ID.err) and the requests put back beside them
            as_request = path.name.replace("res_", "req_", 1).removesuffix(".err").removesuffix(".xml") + ".xml"
            parsed = parse_request_name(as_request)
            if parsed is None or not parsed[1].startswith(IDENTIFIER_PREFIX):
                continue
            try:
                if now - path.stat().st_mtime < age:
                    continue
                path.unlink()
                removed += 1
            except OSError:
                continue
        return removed


