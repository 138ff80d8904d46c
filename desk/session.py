"""One reception desk at work: runs the effects the state machine asks for against real ports.

`DeskSession` is what the TUI and `desk check` drive. Every public method blocks until the flow
has nothing left to do (the TUI calls them from worker threads) and never raises for the things
that happen at a desk every day (wrong PIN, pulled card, central system down): those end up in
`reception.state`, `reception.message` and `outcome`.

Library imports (cv2, face_recognition, smartcard) stay behind the ports, so this module is as
importable as the rest of desk/.
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from desk import flow
from desk.flow import Reception, State
from desk.models import AuthMethod, CardProof, CardQuery, Channel, ConsentItem, FailureName, NumbersQuery
from desk.outcome import Outcome, build_outcome
from reader.card import MynaCard
from reader.errors import (
    CameraUnavailable,
    CardRemoved,
    InvalidInput,
    NoCard,
    NotMyNumberCard,
    PinBlocked,
    ReaderError,
    WrongPin,
)
from reader.models import CardInfo
from reader.transport import Transport

__all__ = ["DeskPorts", "DeskSession", "DeskStatus"]

_log = logging.getLogger("madoguchi.desk")
JST = dt.timezone(dt.timedelta(hours=9))
RERUN_STAFF_ID = "outage-requery"  # who re-ran a queued confirmation: the terminal itself


@dataclass
class DeskPorts:
    """Everything a desk talks to. Any of camera/matcher may be None (no face authentication)."""

    transport: Transport
    central: Any  # desk.central.CentralSystem
    attestor: Any  # desk.attestation.ReaderAttestor
    journal: Any  # desk.journal.Journal
    facility: Any  # desk.facility.FacilityConfig
    camera: Any = None  # reader.camera.Camera
    matcher: Any = None  # reader.face.FaceMatcher
    # 照合番号B from the card front (a face-auth reader reads it; sim: the fixture; else typed by staff)
    check_b: Callable[[], str | None] = lambda: None
    clock: Callable[[], dt.datetime] = field(default=lambda: dt.datetime.now(JST))
    exporter: Callable[[Any], Any] | None = None  # writes each reply to the res/ folder


@dataclass(frozen=True)
class DeskStatus:
    reader: str
    reader_ok: bool
    camera: str
    camera_ok: bool
    central: str
    central_ok: bool


class DeskSession:
    def __init__(self, ports: DeskPorts) -> None:
        self.ports = ports
        self.journal = ports.journal
        self.facility = ports.facility
        self.reception = Reception(facility_type=ports.facility.facility_type)
        self.photo: bytes | None = None
        self.last_frame: Any = None
        self.last_face: Any = None
        self.outcome: Outcome | None = None
        self.info: CardInfo | None = None
        # 照合番号B typed by staff from the card front, where no reader camera reads it (real PC/SC)
        self.card_front: str | None = None
        self._card: MynaCard | None = None
        self._template: Any = None
        self._last_proof: CardProof | None = None
        # Journal writes that failed (database locked, read-only disk): kept in order and written
        # before the next record, so a busy disk never loses a confirmation already made.
        self._unrecorded: list[Callable[[], Any]] = []
        self.journal_error: Exception | None = None
        self._lock = threading.RLock()  # one flow step at a time, whatever thread calls

    # -- what the screen calls -------------------------------------------------------------

    def on_card_inserted(self) -> None:
        with self._lock:
            self.photo = self.last_frame = self.last_face = self.outcome = None
            self.info = self._card = self._template = self._last_proof = self.card_front = None
            self._dispatch(flow.CardInserted())

    def on_card_removed(self) -> None:
        with self._lock:
            self._dispatch(flow.CardPulled())

    @property
    def needs_card_front(self) -> bool:
        """The face photo can only be read once staff type 照合番号B from the card front."""
        return self.info is not None and self.photo is None and not self.card_front and not self.ports.check_b()

    def set_card_front(self, check_b: str) -> None:
        """照合番号B as printed on the card front: birth date YYMMDD + expiry year YYYY + security code."""
        value = "".join(check_b.split())
        if len(value) != 14 or not value.isdigit():
            raise InvalidInput(
                "照合番号Bは数字14桁です：券面の生年月日（西暦の下2桁・月・日の6桁）、有効期限の年（4桁）、"
                "セキュリティコード（4桁）の順に入力してください。"
            )
        with self._lock:
            self.card_front = value

    def choose(self, method: AuthMethod) -> None:
        with self._lock:
            self._dispatch(flow.MethodChosen(method))

    def enter_pin(self, pin: str) -> None:
        with self._lock:
            self._dispatch(flow.PinEntered(pin))

    def submit_visual(self, staff_id: str, password: str, confirmed: bool) -> None:
        with self._lock:
            self._dispatch(flow.VisualSubmitted(staff_id, password, confirmed))

    def answer_consent(self, items: frozenset[ConsentItem]) -> None:
        with self._lock:
            self._dispatch(flow.ConsentAnswered(frozenset(items)))

    def confirm_unattended(
        self,
        method: AuthMethod,
        *,
        pin: str | None = None,
        staff_id: str = "",
        visual_password: str | None = None,
        consent: frozenset[ConsentItem] = frozenset(),
    ) -> None:
        """Take a card that was just read through one method to the end, answering every question
        the screen would ask with these values (`desk check`, benchmarks, tests)."""
        r = self.reception
        if r.state is not State.CHOOSING:
            return
        self.choose(method)
        if r.state is State.PIN and pin is not None:
            self.enter_pin(pin)
        elif r.state is State.VISUAL and visual_password is not None:
            self.submit_visual(staff_id, visual_password, True)
        if r.state is State.CONSENT:
            self.answer_consent(consent)

    def next_patient(self) -> None:
        with self._lock:
            if self.reception.state is not State.IDLE:
                self._dispatch(flow.NextPatient())
            self.photo = self.last_frame = self.last_face = self.outcome = None

    def capture_frame(self) -> Any:
        camera = self.ports.camera
        if camera is None:
            return None
        try:
            camera.open()
            self.last_frame = camera.read()
        except CameraUnavailable:
            return None
        return self.last_frame

    def status(self) -> DeskStatus:
        transport = self.ports.transport
        reader_ok, reader = True, f"{transport.name}"
        camera_ok = self.ports.camera is not None
        camera = getattr(self.ports.camera, "name", "なし") if camera_ok else "カメラなし（顔認証は使えません）"
        central_ok, central = self._central_status()
        return DeskStatus(reader, reader_ok, camera, camera_ok, central, central_ok)

    @property
    def unrecorded_count(self) -> int:
        return len(self._unrecorded)

    def _record(self, write: Callable[[], Any]) -> Any:
        """Run one journal write; on JournalError keep it for later and tell the staff."""
        from desk.journal import JournalError

        self._unrecorded.append(write)
        result = None
        try:
            while self._unrecorded:
                result = self._unrecorded[0]()
                self._unrecorded.pop(0)
        except JournalError as exc:
            self.journal_error = exc
            _log.warning("journal write deferred: %s", exc.title)
            return None
        self.journal_error = None
        return result

    def flush_journal(self) -> bool:
        """Retry deferred journal writes; True when nothing is left."""
        if self._unrecorded:
            self._record(self._unrecorded.pop())  # _record puts it back at the end of the queue
        return not self._unrecorded

    def _central_status(self) -> tuple[bool, str]:
        probe = getattr(self.ports.central, "health", None)
        if probe is None:
            return True, "接続先あり"
        try:
            ok, text = probe()
        except Exception as exc:  # a status probe must never break the screen
            return False, f"状態不明（{exc}）"
        return ok, text

    # -- 照会区分 2 and the outage queue -------------------------------------------------------

    def query_numbers(self, query: NumbersQuery) -> Outcome:
        from desk.central import CentralError

        now = self.ports.clock()
        try:
            reply = self.ports.central.confirm_numbers(
                query, confirmation_date=now.date(), medical_institution_code=self.facility.medical_institution_code
            )
        except CentralError as exc:
            if exc.failure_name is FailureName.CENTRAL_DOWN:
                payload = {"numbers": query.model_dump(mode="json")}
                self._record(lambda: self.journal.enqueue_outage(
                    channel=Channel.NUMBERS, method=AuthMethod.NONE, facility_type=self.facility.facility_type,
                    payload=payload, at=now,
                ))
            else:
                self._journal(now, Channel.NUMBERS, AuthMethod.NONE, failure=exc.failure_name)
            return build_outcome(failure=exc.failure_name, message=str(exc), method=AuthMethod.NONE, today=now.date(), numbers=query)
        self._journal(now, Channel.NUMBERS, AuthMethod.NONE, validity=reply.validity, failure=None if reply.validity else FailureName.CENTRAL_DOWN)
        self._export(reply)
        return build_outcome(reply=reply, method=AuthMethod.NONE, today=now.date(), numbers=query)

    def retry_outage_queue(self) -> list[Outcome]:
        """Re-run the confirmations queued while the central system was down (事後確認).

        The patient has gone home: a PIN signature can't be made again, so the terminal attests the
        check it did at the desk, and the method stays on record as it was.
        """
        from desk.central import CentralError

        outcomes = []
        for item in self.journal.pending_outages():
            now = self.ports.clock()
            try:
                reply = self._rerun(item)
            except CentralError as exc:
                if exc.failure_name is FailureName.CENTRAL_DOWN:
                    break  # still down: keep the rest queued
                self._record(partial(self._complete_outage, item.id, exc.failure_name, now))
                outcomes.append(build_outcome(failure=exc.failure_name, message=str(exc), method=item.method, today=now.date()))
                continue
            result = reply.validity if reply.validity is not None else FailureName.CENTRAL_DOWN
            self._record(partial(self._complete_outage, item.id, result, now))
            self._export(reply)
            outcomes.append(build_outcome(reply=reply, method=item.method, today=now.date()))
        return outcomes

    def _complete_outage(self, item_id: int, result: Any, at: dt.datetime) -> Any:
        return self.journal.complete_outage(item_id, result, staff_id=RERUN_STAFF_ID, at=at)

    def _rerun(self, item: Any) -> Any:
        central = self.ports.central
        if item.channel is Channel.NUMBERS:
            query = NumbersQuery.model_validate(item.payload["numbers"])
            return central.confirm_numbers(
                query, confirmation_date=item.enqueued_at.date(),
                medical_institution_code=self.facility.medical_institution_code,
            )
        certificate_der = base64.b64decode(item.payload["certificate_der"])
        nonce = central.request_nonce()
        attestation = self.ports.attestor.attest(nonce, certificate_der, item.method, RERUN_STAFF_ID)
        proof = CardProof(method=item.method, attestation=attestation, staff_id=RERUN_STAFF_ID)
        return central.confirm_card(
            CardQuery(
                certificate_der=certificate_der, nonce=nonce, proof=proof,
                confirmation_date=dt.date.fromisoformat(item.payload["confirmation_date"]),
                medical_institution_code=self.facility.medical_institution_code,
                facility_type=self.facility.facility_type,
            )
        )

    def _journal(self, at: dt.datetime, channel: Channel, method: AuthMethod, *, validity=None, failure=None, staff_id=None) -> None:
        from desk.journal import ConfirmationRecord

        record = ConfirmationRecord(
            at=at, channel=channel, method=method, validity=validity, failure=failure,
            facility_type=self.facility.facility_type, cert_fingerprint=self.reception.certificate_fingerprint,
            staff_id=staff_id,
        )
        self._record(lambda: self.journal.record_confirmation(record))

    # -- the effect loop ---------------------------------------------------------------------

    def _dispatch(self, event: object) -> None:
        pending = [event]
        while pending:
            effects = self.reception.handle(pending.pop(0))
            for effect in effects:
                pending.extend(self._run(effect))
        if self.reception.state in (State.RESULT, State.FAILED) and self.outcome is None:
            self._build_outcome()

    def _run(self, effect: object) -> list[object]:
        handler = {
            flow.ReadCard: self._read_card,
            flow.AuthenticateWithPin: self._authenticate_with_pin,
            flow.MatchFace: self._match_face,
            flow.ReadPhotoForVisual: self._read_photo_for_visual,
            flow.CheckVisual: self._check_visual,
            flow.QueryCentral: self._query_central,
            flow.RecordOutcome: self._record_outcome,
        }[type(effect)]
        try:
            return handler(effect)
        except (CardRemoved, NoCard):
            return [flow.CardPulled()]

    def _read_card(self, _: flow.ReadCard) -> list[object]:
        try:
            self.ports.transport.connect()
            self._card = MynaCard(self.ports.transport)
            info = self._card.read_info()
        except NotMyNumberCard as exc:
            return [flow.CardReadFailed(FailureName.NOT_MY_NUMBER_CARD, str(exc))]
        except (CardRemoved, NoCard):
            raise
        except ReaderError as exc:
            return [flow.CardReadFailed(FailureName.CARD_ERROR, f"{exc.title}: {exc}")]
        self.info = info
        fingerprint = info.certificate.fingerprint_sha256
        now = self.ports.clock()
        return [
            flow.CardRead(
                certificate_fingerprint=fingerprint,
                certificate_not_after=info.certificate.expiry_date,
                pin_tries_left=info.pin_tries_left,
                face_failures=self.journal.face_state(fingerprint).consecutive_failures,
                visual_locked=self.journal.visual_lock_state(self.facility.medical_institution_code, now=now).locked,
            )
        ]

    def _nonce(self) -> bytes | flow.CentralFailed:
        from desk.central import CentralError

        try:
            return self.ports.central.request_nonce()
        except CentralError as exc:
            return flow.CentralFailed(exc.failure_name, str(exc))

    def _authenticate_with_pin(self, effect: flow.AuthenticateWithPin) -> list[object]:
        assert self._card is not None
        nonce = self._nonce()
        if isinstance(nonce, flow.CentralFailed):
            return [nonce]
        try:
            signature = self._card.authenticate(effect.pin, nonce)
        except WrongPin as exc:
            return [flow.PinRejected(exc.tries_left, str(exc))]
        except PinBlocked as exc:
            return [flow.PinRejected(0, str(exc))]
        except InvalidInput as exc:
            # a mistyped PIN (not 4 digits) is caught before the card sees it: the count is unchanged
            return [flow.PinRejected(self.reception.pin_tries_left or 0, str(exc))]
        except (CardRemoved, NoCard):
            raise
        except ReaderError as exc:  # the reader or pcscd went away, or the card answered nonsense
            return [flow.CardReadFailed(FailureName.CARD_ERROR, f"{exc.title}: {exc}")]
        self.reception.pin_tries_left = 3  # a successful VERIFY resets the card's counter
        return [flow.Authenticated(CardProof(method=AuthMethod.PIN, signature=signature), nonce)]

    def _card_photo(self) -> bytes | None:
        if self.photo is None and self._card is not None:
            if not self.ports.transport.wait_for_card(0):
                raise CardRemoved("カードが取り外されました。もう一度カードを置いてください。")
            check_b = self.ports.check_b() or self.card_front
            if check_b:
                try:
                    self.photo = self._card.read_face_photo(check_b)
                except WrongPin as exc:
                    typed, self.card_front = self.card_front, None
                    if not typed:
                        raise
                    raise InvalidInput(
                        f"照合番号Bがカードと合いません（残り{exc.tries_left}回）。券面の生年月日・有効期限の年・"
                        "セキュリティコードを確かめて入力し直してください。"
                    ) from exc
        return self.photo

    def _match_face(self, _: flow.MatchFace) -> list[object]:
        fingerprint = self.reception.certificate_fingerprint or ""
        failures = self.journal.face_state(fingerprint).consecutive_failures
        camera, matcher = self.ports.camera, self.ports.matcher
        if camera is None or matcher is None:
            return [flow.FaceAttempted(False, failures, "カメラが接続されていないため顔認証は使えません。暗証番号か目視確認を選んでください。")]
        try:
            photo = self._card_photo()
            if photo is None:
                return [flow.FaceAttempted(False, failures, "カード券面（照合番号B）を読み取れないため顔写真を取得できません。暗証番号か目視確認を選んでください。")]
            if self._template is None:
                self._template = matcher.enroll(photo)
            from reader.face import verify_face

            camera.open()
            result = verify_face(camera, matcher, self._template)
        except (CardRemoved, NoCard):
            raise
        except ReaderError as exc:
            # the camera or the card photo failed, not the patient's face: the count stays
            return [flow.FaceAttempted(False, failures, f"{exc.title}: {exc}")]
        self.last_face = result
        self.capture_frame()
        count = "record_face_success" if result.accepted else "record_face_failure"
        state = self._record(lambda: getattr(self.journal, count)(fingerprint))
        failures = state.consecutive_failures if state is not None else (0 if result.accepted else failures + 1)
        if not result.accepted:
            return [flow.FaceAttempted(False, failures, result.message, result.distance)]
        accepted = flow.FaceAttempted(True, failures, result.message, result.distance)
        nonce = self._nonce()
        if isinstance(nonce, flow.CentralFailed):
            return [accepted, nonce]
        proof = CardProof(method=AuthMethod.FACE, attestation=self._attest(nonce, AuthMethod.FACE, None))
        return [accepted, flow.Authenticated(proof, nonce)]

    def _attest(self, nonce: bytes, method: AuthMethod, staff_id: str | None) -> bytes:
        assert self.info is not None
        return self.ports.attestor.attest(nonce, self.info.certificate.der, method, staff_id)

    def _read_photo_for_visual(self, _: flow.ReadPhotoForVisual) -> list[object]:
        try:
            self._card_photo()
        except (CardRemoved, NoCard):
            raise
        except ReaderError as exc:
            self.reception.message = f"顔写真を読み取れませんでした（{exc.title}）。カード券面の写真で確認してください。"
        self.capture_frame()
        return []

    def _check_visual(self, effect: flow.CheckVisual) -> list[object]:
        from desk.facility import FacilityError, check_visual_password
        from desk.journal import JournalError

        now = self.ports.clock()
        try:
            check = check_visual_password(self.facility, self.journal, effect.password, now=now)
        except FacilityError as exc:
            return [flow.VisualRejected(f"{exc.title}: {exc}", locked=False)]
        except JournalError as exc:
            # The lockout and each 目視 use must be on record: without the journal, 目視 waits.
            self.journal_error = exc
            return [flow.VisualRejected(
                f"{exc.title}: {exc} 目視確認は記録が必要なため、記録できるようになってから行ってください。"
                "急ぐときは暗証番号か顔認証を選んでください。",
                locked=False,
            )]
        if not check.accepted:
            if check.locked:
                until = f"{check.locked_until:%H:%M}まで" if check.locked_until else "5分間"
                return [flow.VisualRejected(f"目視モードのパスワードを5回続けて間違えたため、{until}目視確認をロックしています。", locked=True)]
            return [flow.VisualRejected(
                f"目視モードのパスワードが違います（あと{check.tries_left}回でロック）。カードの暗証番号ではなく、施設の目視モード用パスワードです。",
                locked=False,
            )]
        fingerprint = self.reception.certificate_fingerprint
        self._record(lambda: self.journal.record_visual_use(effect.staff_id, cert_fingerprint=fingerprint, at=now))
        nonce = self._nonce()
        if isinstance(nonce, flow.CentralFailed):
            return [nonce]
        proof = CardProof(method=AuthMethod.VISUAL, attestation=self._attest(nonce, AuthMethod.VISUAL, effect.staff_id), staff_id=effect.staff_id)
        return [flow.Authenticated(proof, nonce)]

    def _query_central(self, effect: flow.QueryCentral) -> list[object]:
        from desk.central import CentralError, make_consent

        assert self.info is not None
        now = self.ports.clock()
        consent = make_consent(effect.consent, now) if effect.consent else None
        self._last_proof = effect.proof
        query = CardQuery(
            certificate_der=self.info.certificate.der,
            nonce=effect.nonce,
            proof=effect.proof,
            confirmation_date=now.date(),
            medical_institution_code=self.facility.medical_institution_code,
            consent=consent,
            facility_type=self.facility.facility_type,
        )
        try:
            reply = self.ports.central.confirm_card(query)
        except CentralError as exc:
            return [flow.CentralFailed(exc.failure_name, str(exc))]
        return [flow.CentralReplied(reply)]

    def _record_outcome(self, effect: flow.RecordOutcome) -> list[object]:
        now = self.ports.clock()
        reply, failure = effect.reply, effect.failure
        method = effect.method or AuthMethod.NONE
        if failure is FailureName.CENTRAL_DOWN and self.info is not None:
            # journals the 障害時 confirmation and queues its re-run in one transaction
            fingerprint = self.reception.certificate_fingerprint
            payload = {
                "certificate_der": base64.b64encode(self.info.certificate.der).decode("ascii"),
                "confirmation_date": now.date().isoformat(),
            }
            self._record(lambda: self.journal.enqueue_outage(
                channel=Channel.MYNA, method=method, facility_type=self.facility.facility_type,
                cert_fingerprint=fingerprint, at=now, payload=payload,
            ))
            return []
        staff = self._last_proof.staff_id if reply is not None and self._last_proof is not None else None
        if reply is not None and reply.validity is None:
            failure = FailureName.CENTRAL_DOWN
        self._journal(now, Channel.MYNA, method, validity=reply.validity if reply else None, failure=failure, staff_id=staff)
        if reply is not None:
            self._export(reply)
        return []

    def _export(self, reply: Any) -> None:
        if self.ports.exporter is not None:
            self.ports.exporter(reply)

    def _build_outcome(self) -> None:
        r = self.reception
        today = self.ports.clock().date()
        basic = None
        if r.state is State.RESULT and r.reply is not None:
            self.outcome = build_outcome(reply=r.reply, method=r.method, today=today)
        else:
            self.outcome = build_outcome(
                failure=r.failure, message=r.message, method=r.method, today=today, basic_four=basic,
                certificate_not_after=self.info.certificate.expiry_date if self.info else None,
            )
