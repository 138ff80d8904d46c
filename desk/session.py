"""One reception desk at work: runs the effects the state machine asks for against its ports.

`DeskSession` is what the TUI and `desk check` drive. Every public method blocks until the flow
has nothing left to do (the TUI calls them from worker threads) and never raises for the things
that happen at a desk every day (wrong PIN, pulled card, central system down): those end up in
`reception.state`, `reception.message` and `outcome`.

Card presence takes one road: the reader's transport reports a card placed or taken away to the
session (`watch_cards`), and the session tells the screen. The numbers query (desk/numbers.py),
the outage re-runs (desk/outage.py) and the journal's retry queue (desk/recorder.py) live in
modules of their own; the session only hands them its ports.

Library imports (cv2, face_recognition, smartcard) stay behind the ports, so this module is as
importable as the rest of desk/.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from desk import flow
from desk.central import CentralError, make_consent
from desk.certificate_grace import CertificateStatus, certificate_status
from desk.confirmation_log import ConfirmationLog
from desk.documents import Document
from desk.export import Tidied
from desk.facility import FacilityConfig, FacilityError, check_visual_password, verify_visual_password
from desk.flow import Reception, State
from desk.journal import JournalError
from desk.models import (
    AuthMethod,
    CardProof,
    CardQuery,
    ConsentItem,
    Device,
    FailureName,
    NumbersQuery,
)
from desk.numbers import query_numbers
from desk.outage import retry_outage_queue
from desk.outcome import Outcome, build_outcome
from desk.password_precheck import PasswordPrecheck
from desk.ports import DeskPorts, FaceLockStore, JournalPort
from desk.recorder import Recorder
from reader.card import MynaCard, normalize_check_b
from reader.errors import (
    CameraError,
    CardRemoved,
    FaceError,
    InvalidInput,
    NoCard,
    NoReader,
    NotMyNumberCard,
    PhoneNotUnlocked,
    PinBlocked,
    ReaderError,
    ReaderGone,
    SecurityStatusNotSatisfied,
    WrongPin,
)
from reader.face import verify_face
from reader.models import BasicFour, CardInfo
from reader.staff_facing import StaffFacingError

if TYPE_CHECKING:
    from reader.face import FaceTemplate, MatchResult


__all__ = ["CardListener", "DeskPorts", "DeskSession", "DeskStatus", "StartupReport"]

# Told True when a card is placed on the reader, False when it is taken away (any thread).
CardListener = Callable[[bool], None]


@dataclass(frozen=True)
class DeskStatus:
    reader: str
    reader_ok: bool  # False after the reader or pcscd went away, until a card is read again
    camera: str
    camera_ok: bool
    central: str
    central_ok: bool
    waiting_records: int = 0  # journal writes kept in the outbox until the journal takes them


@dataclass
class StartupReport:
    """What a desk put right when it started: records an earlier run kept in the outbox, result
    files it owed the folder, and old or half-written files it removed."""

    outbox_written: int = 0
    owed_files_written: int = 0
    tidied: Tidied | None = None

    def notice(self) -> str | None:
        """For staff, in one line; None when there was nothing to put right."""
        parts = []
        if self.outbox_written:
            parts.append(f"一時保存していた書き込み {self.outbox_written}件を受付記録に反映しました")
        if self.owed_files_written:
            parts.append(f"書き出せていなかった結果ファイル {self.owed_files_written}件を書き出しました")
        if self.tidied is not None and self.tidied.removed_old:
            parts.append(f"保存期間を過ぎた結果ファイル・申立書 {self.tidied.removed_old}件を削除しました")
        if self.tidied is not None and self.tidied.removed_partial:
            parts.append(f"書きかけの一時ファイル {self.tidied.removed_partial}件を削除しました")
        return "起動時の確認: " + "。".join(parts) + "。" if parts else None


class DeskSession:
    def __init__(self, ports: DeskPorts) -> None:
        self.ports = ports
        self.reception = Reception(facility_type=ports.facility.facility_type)
        self.recorder = Recorder(lambda: self.ports.journal, ports.outbox)
        self.log = ConfirmationLog(ports, self.recorder)  # the records of this patient, and where they are
        # What of the machine (not the patient) stopped the last step: 目視 without a journal, a
        # damaged facility config. `desk check` exits 1 for it; the screen shows the message.
        self.blocked_by: StaffFacingError | None = None
        self.started = StartupReport()  # what the desk put right when it started
        self.photo: bytes | None = None
        self.last_frame: Any = None
        self.last_face: MatchResult | None = None
        self.outcome: Outcome | None = None
        self.info: CardInfo | None = None
        # The card's basic four items for the 申立書, read only when staff ask with the patient's
        # 券面事項入力補助用暗証番号 (never the My Number); forgotten with the next card or patient.
        self.basic_four: BasicFour | None = None
        # 照合番号B typed by staff from the card front, where the reader does not read it itself
        self.typed_check_b: str | None = None
        self._card: MynaCard | None = None
        self._template: FaceTemplate | None = None
        self._last_proof: CardProof | None = None
        self._listener: CardListener | None = None
        self._watching = False
        self._dispatching: int | None = None  # the thread inside _dispatch, if any
        self._reported: list[bool] = []  # presence reported while a flow step ran on that thread
        self.reader_problem: str | None = None  # the last reader failure (gone, no pcscd), for the status line
        self._lock = threading.RLock()  # one flow step at a time, whatever thread calls
        self.visual_precheck = PasswordPrecheck(lambda candidate: verify_visual_password(self.facility, candidate))

    @property
    def journal(self) -> JournalPort:  # a property: the port may be swapped (tests, a reopened journal)
        return self.ports.journal

    @property
    def facility(self) -> FacilityConfig:
        return self.ports.facility

    # -- the reader's road -----------------------------------------------------------------

    def watch_cards(self, listener: CardListener | None = None) -> None:
        """Follow the reader: the transport reports to the session, the session to `listener`.

        Without a listener (headless: `desk check`, tests, benchmarks) the session reads a card
        on the thread that reported it. With one (the screen), the session only tells it, and the
        listener calls `on_card_inserted` / `on_card_removed` where it likes (a worker thread).
        Calling again replaces the listener. A card already lying on the reader when the watch
        starts is reported at once (readers report changes only).
        """
        self._listener = listener
        if self._watching:
            return
        try:
            self.ports.transport.watch(lambda: self._presence(True), lambda: self._presence(False))
        except ReaderError as exc:
            self.reader_problem = exc.title
            raise
        self._watching = True
        self.reader_problem = None
        if self.ports.transport.wait_for_card(0):
            self._presence(True)

    def _presence(self, present: bool) -> None:
        listener = self._listener
        if listener is not None:
            listener(present)
        elif self._dispatching == threading.get_ident():
            # Reported from inside a flow step on this thread (the card went mid-APDU): the step
            # in progress sees the card gone itself; the report is handled once it has finished.
            self._reported.append(present)
        elif present:
            self.on_card_inserted()
        else:
            self.on_card_removed()

    # -- what the screen calls -------------------------------------------------------------

    def on_card_inserted(self) -> None:
        with self._lock:
            self.photo = self.last_frame = self.last_face = self.outcome = None
            self.info = self._card = self._template = self._last_proof = self.typed_check_b = None
            self.basic_four = self.blocked_by = None
            self.log.new_patient()
            self._dispatch(flow.CardInserted())

    def on_card_removed(self) -> None:
        with self._lock:
            self._dispatch(flow.CardPulled())

    @property
    def needs_check_b(self) -> bool:
        """The face photo can only be read once staff type 照合番号B from the card front."""
        return self.info is not None and self.photo is None and not self.typed_check_b and not self.ports.check_b()

    def enter_check_b(self, typed: str) -> None:
        """照合番号B as printed on the card front: birth date YYMMDD + expiry year YYYY + security code."""
        value = normalize_check_b(typed)
        with self._lock:
            self.typed_check_b = value

    def method_reasons(self) -> list[tuple[AuthMethod, str]]:
        """Each method with why it cannot be used now ('' when it can): the card's counters (the
        flow decides those) and then this desk's devices."""
        out = []
        for method in (AuthMethod.FACE, AuthMethod.PIN, AuthMethod.VISUAL):
            reason = self.reception.unavailable_reason(method)
            if not reason and method is AuthMethod.FACE:
                if self.ports.camera is None or self.ports.matcher is None:
                    reason = "カメラが使えません"
                elif self.needs_check_b:
                    reason = "カード券面の照合番号Bを入力すると使えます"
            out.append((method, reason))
        return out

    def choose(self, method: AuthMethod) -> None:
        with self._lock:
            self._dispatch(flow.MethodChosen(method))

    def enter_pin(self, pin: str) -> None:
        with self._lock:
            self._dispatch(flow.PinEntered(pin))

    def visual_password_typed(self, candidate: str) -> None:
        """The 目視 password field changed: its scrypt check starts now, not on Enter."""
        if self.facility.visual_password is not None:
            self.visual_precheck.typed(candidate)

    def submit_visual(self, staff_id: str, password: str, confirmed: bool) -> None:
        with self._lock:
            try:
                self._dispatch(flow.VisualSubmitted(staff_id, password, confirmed))
            finally:
                self.visual_precheck.clear()  # the field is emptied too: each try is typed again

    def answer_consent(self, items: frozenset[ConsentItem], *, limit: bool = False) -> None:
        with self._lock:
            self._dispatch(flow.ConsentAnswered(frozenset(items), limit))

    def confirm_unattended(
        self,
        method: AuthMethod,
        *,
        pin: str | None = None,
        staff_id: str = "",
        visual_password: str | None = None,
        consent: frozenset[ConsentItem] = frozenset(),
        limit_consent: bool = False,
    ) -> Outcome:
        """Take a card that was just read through one method to the end, answering every question
        the screen would ask with these values (`desk check`, benchmarks, tests). Returns the
        outcome, or why it stopped short when authentication did not succeed."""
        r = self.reception

        def now_in(state: State) -> bool:  # each call below moves the flow on
            return r.state is state

        if now_in(State.CHOOSING):
            self.choose(method)
            if now_in(State.PIN) and pin is not None:
                self.enter_pin(pin)
            elif now_in(State.VISUAL) and visual_password is not None:
                self.submit_visual(staff_id, visual_password, True)
            if now_in(State.CONSENT):
                self.answer_consent(consent, limit=limit_consent)
        elif now_in(State.CONSENT):  # an iPhone: authenticated on the phone, nothing to choose
            self.answer_consent(consent, limit=limit_consent)
        if self.outcome is not None:
            return self.outcome
        return build_outcome(
            failure=r.failure_when_stopped(method), message=r.message, method=method,
            today=self.ports.clock().date(),
        )

    def next_patient(self) -> None:
        with self._lock:
            if self.reception.state is not State.IDLE:
                self._dispatch(flow.NextPatient())
            self.photo = self.last_frame = self.last_face = self.outcome = None
            self.basic_four = None
            self.visual_precheck.clear()

    def read_basic_four(self, pin: str) -> BasicFour:
        """氏名・住所・生年月日・性別 from the card on the reader, for the 被保険者資格申立書, with the
        4-digit 券面事項入力補助用暗証番号 the patient types. Raises WrongPin (tries left),
        PinBlocked, InvalidInput or NoCard: the screen shows them."""
        with self._lock:
            card = self._card
            if card is None or not self.ports.transport.wait_for_card(0):
                raise NoCard("カードを置いて読み取ってから、基本4情報を読んでください。")
            self.basic_four = card.read_basic_four(pin)
            return self.basic_four

    def capture_frame(self) -> Any:
        camera = self.ports.camera
        if camera is None:
            return None
        try:
            camera.open()
            self.last_frame = camera.read()
        except CameraError:
            return None
        return self.last_frame

    def status(self) -> DeskStatus:
        camera = self.ports.camera
        camera_text = camera.name if camera is not None else "カメラなし（顔認証は使えません）"
        central_ok, central = self._central_status()
        reader = self.ports.transport.name + (f"（{self.reader_problem}）" if self.reader_problem else "")
        return DeskStatus(reader, self.reader_problem is None, camera_text, camera is not None, central, central_ok, self.recorder.waiting)

    def _central_status(self) -> tuple[bool, str]:
        try:
            return self.ports.central.health()
        except Exception as exc:  # a status probe must never break the screen
            return False, f"状態不明（{exc}）"

    # -- 照会区分 2 and the outage queue -------------------------------------------------------

    def query_numbers(self, query: NumbersQuery, *, document: Document | None = None, with_card: bool = False) -> Outcome:
        return query_numbers(self.ports, self.log, query, document=document, with_card=with_card)

    def retry_outage_queue(self) -> list[Outcome]:
        return retry_outage_queue(self.ports, self.recorder)

    # -- the effect loop ---------------------------------------------------------------------

    def _dispatch(self, event: object) -> None:
        outer, self._dispatching = self._dispatching, threading.get_ident()
        try:
            pending = [event]
            while pending:
                effects = self.reception.handle(pending.pop(0))
                for effect in effects:
                    pending.extend(self._run(effect))
            if self.reception.state in (State.RESULT, State.FAILED) and self.outcome is None:
                self._build_outcome()
        finally:
            self._dispatching = outer
        if outer is None:
            while self._reported:
                self._presence(self._reported.pop(0))

    def _run(self, effect: object) -> list[object]:
        handlers: dict[type, Callable[[Any], list[object]]] = {
            flow.ReadCard: self._read_card,
            flow.AuthenticateWithPin: self._authenticate_with_pin,
            flow.MatchFace: self._match_face,
            flow.SignOnDevice: self._sign_on_device,
            flow.ReadPhotoForVisual: self._read_photo_for_visual,
            flow.CheckVisual: self._check_visual,
            flow.QueryCentral: self._query_central,
            flow.RecordOutcome: self._record_outcome,
        }
        handler = handlers[type(effect)]
        try:
            return handler(effect)
        except (CardRemoved, NoCard):
            return [flow.CardPulled()]

    def _read_card(self, _: flow.ReadCard) -> list[object]:
        try:
            self.ports.transport.connect()
            self._card = MynaCard(self.ports.transport)
            info = self._card.read_info()
        except PhoneNotUnlocked as exc:
            return [flow.CardReadFailed(FailureName.SMARTPHONE_NOT_UNLOCKED, str(exc))]
        except NotMyNumberCard as exc:
            return [flow.CardReadFailed(FailureName.NOT_MY_NUMBER_CARD, str(exc))]
        except (CardRemoved, NoCard):
            raise
        except (NoReader, ReaderGone) as exc:
            self.reader_problem = exc.title
            return [flow.CardReadFailed(FailureName.CARD_ERROR, f"{exc.title}: {exc}")]
        except ReaderError as exc:
            return [flow.CardReadFailed(FailureName.CARD_ERROR, f"{exc.title}: {exc}")]
        self.reader_problem = None
        self.info = info
        certificate = info.certificate
        if certificate is None:  # an Android phone: its certificate opens after its PIN
            return [flow.CardRead(certificate_fingerprint="", certificate_not_after=None,
                                  pin_tries_left=info.pin_tries_left, device=info.device)]
        if info.device.is_phone and self._phone_expired(certificate.expiry_date):
            return [self._phone_expired_failure(certificate.expiry_date)]
        fingerprint = certificate.fingerprint_sha256
        return [
            flow.CardRead(
                certificate_fingerprint=fingerprint,
                certificate_not_after=certificate.expiry_date,
                pin_tries_left=info.pin_tries_left,
                in_grace=certificate_status(certificate.expiry_date, self.ports.clock().date()) is CertificateStatus.GRACE,
                face_failures=0 if info.device.is_phone else self._face_failures(fingerprint),
                visual_locked=self._visual_locked(),
                device=info.device,
            )
        ]

    # A phone's certificate has no 3-month grace (MHLW KB0012286, docs/smartphone.md §0): expired
    # is refused at the desk, before a PIN is spent or the central system asked.
    def _phone_expired(self, not_after: dt.date) -> bool:
        return certificate_status(not_after, self.ports.clock().date()).expired

    def _phone_expired_failure(self, not_after: dt.date) -> flow.CardReadFailed:
        return flow.CardReadFailed(
            FailureName.SMARTPHONE_CERT_EXPIRED,
            f"スマートフォンの電子証明書は{not_after:%Y年%m月%d日}で有効期限が切れています（スマートフォンには猶予期間がありません）。",
        )

    # The count the card carries, where the card can be asked (training's virtual card); else the
    # journal's mirror. While the journal cannot be read (its database gone), the card is still
    # read and PIN works: the mirror's count is taken as none so far (each result waits in the
    # outbox and counts when written), and 目視 asks the journal again when used, failing closed.
    def _face_failures(self, fingerprint: str) -> int:
        on_card = self._card_face_count(lambda store: store.consecutive_failures(fingerprint))
        if on_card is not None:
            return on_card
        try:
            return self.journal.face_state(fingerprint).consecutive_failures
        except JournalError as exc:
            self.recorder.error = exc
            return 0

    def _card_face_count(self, ask: Callable[[FaceLockStore], int | None]) -> int | None:
        store = self.ports.face_lock
        if store is None:
            return None
        try:
            return ask(store)
        except (CardRemoved, NoCard):
            raise
        except ReaderError:
            # the card answered nonsense about its count: the journal's mirror still counts
            return None

    def _visual_locked(self) -> bool:
        try:
            code = self.facility.medical_institution_code
            return self.journal.visual_lock_state(code, now=self.ports.wall_clock()).locked
        except JournalError as exc:
            self.recorder.error = exc
            return False

    def _nonce(self) -> bytes | flow.CentralFailed:
        try:
            return self.ports.central.request_nonce()
        except CentralError as exc:
            return flow.CentralFailed(exc.failure_name, str(exc))

    def _authenticate_with_pin(self, effect: flow.AuthenticateWithPin) -> list[object]:
        assert self._card is not None and self.info is not None
        phone = self.info.certificate is None  # an Android phone: the PIN opens its certificate
        try:
            if phone:
                # PIN first, then the challenge: with the certificate in hand, a central system that
                # cannot be reached leaves a 障害時 record to re-run, as for a card
                opened = self._card.unlock_phone(effect.pin)
                self.info = self.info.model_copy(update={"certificate": opened})
                self.reception.certificate_fingerprint = opened.fingerprint_sha256
                if self._phone_expired(opened.expiry_date):
                    return [self._phone_expired_failure(opened.expiry_date)]
            nonce = self._nonce()
            if isinstance(nonce, flow.CentralFailed):
                return [nonce]
            signature = self._card.sign(nonce) if phone else self._card.authenticate(effect.pin, nonce)
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

    def _sign_on_device(self, _: flow.SignOnDevice) -> list[object]:
        assert self._card is not None
        nonce = self._nonce()
        if isinstance(nonce, flow.CentralFailed):
            return [nonce]
        try:
            signature = self._card.sign_unlocked(nonce)
        except (CardRemoved, NoCard):
            raise
        except SecurityStatusNotSatisfied:  # locked again on the phone between the read and the signature
            return [flow.CardReadFailed(FailureName.SMARTPHONE_NOT_UNLOCKED, str(PhoneNotUnlocked("iPhone")))]
        except ReaderError as exc:
            return [flow.CardReadFailed(FailureName.CARD_ERROR, f"{exc.title}: {exc}")]
        return [flow.Authenticated(CardProof(method=AuthMethod.DEVICE, signature=signature), nonce)]

    def _card_photo(self) -> bytes | None:
        if self.photo is None and self._card is not None:
            if not self.ports.transport.wait_for_card(0):
                raise CardRemoved("カードが取り外されました。もう一度カードを置いてください。")
            check_b = self.ports.check_b() or self.typed_check_b
            if check_b:
                try:
                    self.photo = self._card.read_face_photo(check_b)
                except WrongPin as exc:
                    typed, self.typed_check_b = self.typed_check_b, None
                    if not typed:
                        raise
                    raise InvalidInput(
                        f"照合番号Bがカードと合いません（残り{exc.tries_left}回）。券面の生年月日・有効期限の年・"
                        "セキュリティコードを確かめて入力し直してください。"
                    ) from exc
        return self.photo

    def _match_face(self, _: flow.MatchFace) -> list[object]:
        fingerprint = self.reception.certificate_fingerprint or ""
        failures = self._face_failures(fingerprint)
        camera, matcher = self.ports.camera, self.ports.matcher
        if camera is None or matcher is None:
            return [flow.FaceAttempted(False, failures, "カメラが接続されていないため顔認証は使えません。暗証番号か目視確認を選んでください。")]
        try:
            photo = self._card_photo()
            if photo is None:
                return [flow.FaceAttempted(False, failures, "カード券面（照合番号B）を読み取れないため顔写真を取得できません。暗証番号か目視確認を選んでください。")]
            if self._template is None:
                self._template = matcher.enroll(photo)
            camera.open()
            result = verify_face(camera, matcher, self._template)
        except (CardRemoved, NoCard):
            raise
        except (ReaderError, CameraError, FaceError) as exc:
            # the camera, the card photo or the engine failed, not the patient's face: the count stays
            return [flow.FaceAttempted(False, failures, f"{exc.title}: {exc}")]
        self.last_face = result
        self.capture_frame()
        # on the card first: a card taken away now has counted nothing, and nothing is journalled
        on_card = self._card_face_count(lambda store: store.record(fingerprint, result.accepted))
        # the journal records every result: the history, and the mirror for a card that keeps no count
        state = self.log.face_result(fingerprint, result.accepted)
        if on_card is not None:
            failures = on_card
        elif state is not None:
            failures = state.consecutive_failures
        else:  # waiting in the outbox: counted as the journal will count it
            failures = 0 if result.accepted else failures + 1
        if not result.accepted:
            return [flow.FaceAttempted(False, failures, result.message, result.distance)]
        accepted = flow.FaceAttempted(True, failures, result.message, result.distance)
        nonce = self._nonce()
        if isinstance(nonce, flow.CentralFailed):
            return [accepted, nonce]
        proof = CardProof(method=AuthMethod.FACE, attestation=self._attest(nonce, AuthMethod.FACE, None))
        return [accepted, flow.Authenticated(proof, nonce)]

    def _attest(self, nonce: bytes, method: AuthMethod, staff_id: str | None) -> bytes:
        assert self.info is not None and self.info.certificate is not None  # face and 目視: cards only
        return self.ports.attestor.attest(nonce, self.info.certificate.der, method, staff_id)

    def _read_photo_for_visual(self, _: flow.ReadPhotoForVisual) -> list[object]:
        try:
            self._card_photo()
        except (CardRemoved, NoCard):
            raise
        except (ReaderError, FaceError) as exc:
            self.reception.message = f"顔写真を読み取れませんでした（{exc.title}）。カード券面の写真で確認してください。"
        self.capture_frame()
        return []

    def _check_visual(self, effect: flow.CheckVisual) -> list[object]:
        now = self.ports.clock()
        self.blocked_by = None
        try:
            # the lockout runs on the real clock, never on a scenario day (`desk check --today`)
            check = check_visual_password(
                self.facility, self.journal, effect.password, now=self.ports.wall_clock(),
                verify=lambda _config, candidate: self.visual_precheck.verify(candidate),
            )
        except FacilityError as exc:
            self.blocked_by = exc
            return [flow.VisualRejected(f"{exc.title}: {exc}", locked=False)]
        except JournalError as exc:
            # The lockout and each 目視 use must be on record: without the journal, 目視 waits.
            self.recorder.error = exc
            return self._visual_waits_for_records(exc)
        if not check.accepted:
            if check.locked:
                until = f"{check.locked_until:%H:%M}まで" if check.locked_until else "5分間"
                return [flow.VisualRejected(f"目視モードのパスワードを5回続けて間違えたため、{until}目視確認をロックしています。", locked=True)]
            return [flow.VisualRejected(
                f"目視モードのパスワードが違います（あと{check.tries_left}回でロック）。カードの暗証番号ではなく、施設の目視モード用パスワードです。",
                locked=False,
            )]
        problem = self.log.visual_use(effect.staff_id, self.reception.certificate_fingerprint, now)
        if problem is not None:  # each 目視 use is on record before it counts
            return self._visual_waits_for_records(problem)
        nonce = self._nonce()
        if isinstance(nonce, flow.CentralFailed):
            return [nonce]
        proof = CardProof(method=AuthMethod.VISUAL, attestation=self._attest(nonce, AuthMethod.VISUAL, effect.staff_id), staff_id=effect.staff_id)
        return [flow.Authenticated(proof, nonce)]

    def _visual_waits_for_records(self, problem: StaffFacingError) -> list[object]:
        self.blocked_by = problem
        return [flow.VisualRejected(
            f"{problem.title}: {problem} 目視確認は記録が必要なため、記録できるようになってから行ってください。"
            "急ぐときは暗証番号か顔認証を選んでください。",
            locked=False,
        )]

    def _query_central(self, effect: flow.QueryCentral) -> list[object]:
        assert self.info is not None and self.info.certificate is not None  # read by now, a phone's too
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
            limit_consent=effect.limit_consent,
        )
        try:
            reply = self.ports.central.confirm_card(query)
        except CentralError as exc:
            return [flow.CentralFailed(exc.failure_name, str(exc))]
        return [flow.CentralReplied(reply)]

    def _record_outcome(self, effect: flow.RecordOutcome) -> list[object]:
        now = self.ports.clock()
        method = effect.method or AuthMethod.NONE
        fingerprint = self.reception.certificate_fingerprint
        device = self.info.device if self.info is not None else Device.CARD
        if effect.failure is FailureName.CENTRAL_DOWN and self.info is not None and self.info.certificate is not None:
            self.log.outage(method, fingerprint, self.info.certificate.der, now, device=device)
            return []
        reply = effect.reply
        if reply is not None and device.is_phone:
            reply = reply.model_copy(update={"device": device})  # into the result JSON, not the XML
        staff = self._last_proof.staff_id if reply is not None and self._last_proof is not None else None
        self.log.answer(
            now, method, reply=reply, failure=effect.failure, staff_id=staff, fingerprint=fingerprint or None, device=device,
        )
        return []

    def _build_outcome(self) -> None:
        r = self.reception
        today = self.ports.clock().date()
        if r.state is State.RESULT and r.reply is not None:
            self.outcome = build_outcome(reply=r.reply, method=r.method, today=today, message=r.message)
        else:
            self.outcome = build_outcome(
                failure=r.failure, message=r.message, method=r.method, today=today,
                certificate_not_after=self.info.certificate.expiry_date if self.info and self.info.certificate else None,
            )
        if self.info is not None and self.info.device.is_phone:
            self.outcome = self.outcome.model_copy(update={"device": self.info.device})
