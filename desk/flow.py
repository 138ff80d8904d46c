"""The reception state machine: from "card on the reader" to a result the receptionist can act on.

Pure: `Reception.handle(event)` updates the state and returns the effects to carry out (read the
card, match a face, ask the central system…). It never calls hardware; `desk.session` runs the
effects and feeds their outcomes back as events. The transition table is checked at import.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from desk.models import (
    FACE_LOCK_AFTER,
    STAFF_ID_MAX,
    AuthMethod,
    CardProof,
    ConsentItem,
    Device,
    EligibilityReply,
    FacilityType,
    FailureName,
    face_locked,
)

__all__ = [
    "GRACE_NO_CONSENT",
    "State",
    "Reception",
    "FlowError",
    "FACE_LOCK_AFTER",
    # events
    "CardInserted",
    "CardRead",
    "CardReadFailed",
    "MethodChosen",
    "PinEntered",
    "PinRejected",
    "FaceAttempted",
    "VisualSubmitted",
    "VisualRejected",
    "Authenticated",
    "ConsentAnswered",
    "CentralReplied",
    "CentralFailed",
    "CardPulled",
    "NextPatient",
    # effects
    "ReadCard",
    "AuthenticateWithPin",
    "MatchFace",
    "ReadPhotoForVisual",
    "SignOnDevice",
    "CheckVisual",
    "QueryCentral",
    "RecordOutcome",
]



GRACE_NO_CONSENT = (
    "電子証明書の有効期限が切れています（3か月の猶予期間中）。猶予期間中は資格の確認だけができ、"
    "薬剤・診療などの医療情報は共有されないため、同意の確認はありません。"
)


class State(str, Enum):
    IDLE = "idle"  # no card
    READING = "reading"  # card present, reading its certificate
    CHOOSING = "choosing"  # 顔認証 / 暗証番号 / 目視確認
    PIN = "pin"  # waiting for the PIN
    FACE = "face"  # camera running
    VISUAL = "visual"  # the single 目視 screen
    AUTHENTICATING = "authenticating"  # card / camera / password check under way
    CONSENT = "consent"  # asking consent to share medical information
    QUERYING = "querying"  # waiting for the central system
    RESULT = "result"  # an OQSCD006 answer is on screen
    FAILED = "failed"  # no answer: the fallback steps are on screen


class FlowError(Exception):
    """An event that makes no sense in the current state: a bug in the caller, not in the card."""

    title = "操作の順序が正しくありません"

    def __init__(self, state: State, event: object) -> None:
        super().__init__(f"Can't handle {type(event).__name__} when in {state.value}")
        self.state = state
        self.event = event


# -- events ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CardInserted:
    pass


@dataclass(frozen=True)
class CardRead:
    certificate_fingerprint: str
    certificate_not_after: object  # datetime.date
    pin_tries_left: int | None  # None: no PIN set
    face_failures: int = 0
    visual_locked: bool = False
    # the certificate has expired and is in its 3-month grace: eligibility only, no medical
    # information is shared, so there is no consent to ask
    in_grace: bool = False
    device: Device = Device.CARD  # a phone: no photo (no face, no 目視); an iPhone needs no PIN


@dataclass(frozen=True)
class CardReadFailed:
    failure: FailureName
    message: str


@dataclass(frozen=True)
class MethodChosen:
    method: AuthMethod


@dataclass(frozen=True)
class PinEntered:
    pin: str = field(repr=False)


@dataclass(frozen=True)
class PinRejected:
    tries_left: int  # 0: now blocked
    message: str


@dataclass(frozen=True)
class FaceAttempted:
    accepted: bool
    failures: int  # consecutive failures for this card after this attempt
    message: str
    distance: float | None = None


@dataclass(frozen=True)
class VisualSubmitted:
    staff_id: str
    password: str = field(repr=False)
    confirmed: bool  # the 目視で本人確認完了 checkbox


@dataclass(frozen=True)
class VisualRejected:
    message: str
    locked: bool


@dataclass(frozen=True)
class Authenticated:
    proof: CardProof
    nonce: bytes = field(repr=False)


@dataclass(frozen=True)
class ConsentAnswered:
    items: frozenset[ConsentItem] = frozenset()
    limit: bool = False  # 限度額情報の提供 (LimitApplicationCertificateRelatedConsFlg): its own question


@dataclass(frozen=True)
class CentralReplied:
    reply: EligibilityReply


@dataclass(frozen=True)
class CentralFailed:
    failure: FailureName  # central_down, cert_beyond_grace, auth_failed
    message: str


@dataclass(frozen=True)
class CardPulled:
    pass


@dataclass(frozen=True)
class NextPatient:
    pass


# -- effects --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReadCard:
    pass


@dataclass(frozen=True)
class AuthenticateWithPin:
    pin: str = field(repr=False)


@dataclass(frozen=True)
class MatchFace:
    pass


@dataclass(frozen=True)
class SignOnDevice:
    """An iPhone opened its key with Face ID on the phone: sign the central system's challenge."""


@dataclass(frozen=True)
class ReadPhotoForVisual:
    pass


@dataclass(frozen=True)
class CheckVisual:
    staff_id: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class QueryCentral:
    proof: CardProof
    nonce: bytes = field(repr=False)
    consent: frozenset[ConsentItem]
    limit_consent: bool = False


@dataclass(frozen=True)
class RecordOutcome:
    """Journal the confirmation (result or failure); for central_down also queue a re-run."""

    method: AuthMethod | None
    reply: EligibilityReply | None = None
    failure: FailureName | None = None


Effect = (
    ReadCard | AuthenticateWithPin | MatchFace | SignOnDevice | ReadPhotoForVisual | CheckVisual | QueryCentral | RecordOutcome
)

_AUTH_STATES = frozenset({State.PIN, State.FACE, State.VISUAL})
_CARD_STATES = frozenset({State.READING, State.CHOOSING, State.AUTHENTICATING, State.CONSENT, State.QUERYING} | _AUTH_STATES)


@dataclass
class Reception:
    """One reception desk: one card at a time."""

    facility_type: FacilityType = FacilityType.NORMAL
    state: State = State.IDLE
    method: AuthMethod | None = None
    pin_tries_left: int | None = None
    face_failures: int = 0
    visual_locked: bool = False
    in_grace: bool = False
    failure: FailureName | None = None
    message: str = ""
    reply: EligibilityReply | None = None
    certificate_fingerprint: str | None = None
    device: Device = Device.CARD
    _proof: CardProof | None = field(default=None, repr=False)
    _nonce: bytes = field(default=b"", repr=False)

    # -- what the screen may offer ------------------------------------------------------------

    def unavailable_reason(self, method: AuthMethod) -> str:
        """Why `method` cannot be used for this card now ('' when it can). The one place that
        decides it; the screen shows the reason beside the greyed-out method."""
        if method is AuthMethod.DEVICE or method is AuthMethod.NONE:
            return "iPhoneの生体認証はiPhoneをかざしたときだけ使われます" if method is AuthMethod.DEVICE else "選べません"
        if self.device.is_phone:
            phone_reason = _phone_unavailable(self.device, method, self.pin_tries_left)
            if phone_reason is not None:
                return phone_reason
        if method is AuthMethod.FACE and face_locked(self.face_failures):
            return f"{FACE_LOCK_AFTER}回続けて失敗したためロック中（解除は市区町村窓口）"
        if method is AuthMethod.PIN:
            if self.pin_tries_left is None:
                return "暗証番号なしのカード（顔認証マイナンバーカード）"
            if self.pin_tries_left <= 0:
                return "3回間違えたためロック中（解除は市区町村窓口）"
        if method is AuthMethod.VISUAL and self.visual_locked:
            return "パスワード誤りが続いたため一時ロック中（5分後に再試行）"
        return ""

    @property
    def pin_available(self) -> bool:
        return not self.unavailable_reason(AuthMethod.PIN)

    @property
    def face_available(self) -> bool:
        return not self.unavailable_reason(AuthMethod.FACE)

    def available_methods(self) -> list[AuthMethod]:
        return [m for m in (AuthMethod.FACE, AuthMethod.PIN, AuthMethod.VISUAL) if not self.unavailable_reason(m)]

    def _phone_failure(self) -> tuple[FailureName, str]:
        if self.device is Device.ANDROID and self.pin_tries_left == 0:
            return FailureName.SMARTPHONE_PIN_BLOCKED, (
                "スマホ用暗証番号がロックされています（解除はマイナポータルアプリで）。マイナンバーカードか資格確認書で受け付けてください。"
            )
        return FailureName.AUTH_FAILED, "このスマートフォンでは本人確認ができません。マイナンバーカードか資格確認書で受け付けてください。"

    def failure_when_stopped(self, method: AuthMethod) -> FailureName:
        """Why a confirmation through `method` stopped short of an answer (a script gives up there)."""
        if self.failure is not None:
            return self.failure
        if method is AuthMethod.PIN and self.pin_tries_left == 0:
            return FailureName.PIN_BLOCKED
        if method is AuthMethod.FACE and not self.face_available:
            return FailureName.FACE_LOCKED
        if method is AuthMethod.VISUAL and self.visual_locked:
            return FailureName.VISUAL_LOCKED
        return FailureName.AUTH_FAILED

    # -- the table ------------------------------------------------------------------------

    def handle(self, event: object) -> list[Effect]:
        if isinstance(event, CardPulled):
            return self._on_card_pulled()
        handler = _TRANSITIONS.get((self.state, type(event)))
        if handler is None:
            raise FlowError(self.state, event)
        return handler(self, event)

    def _on_card_pulled(self) -> list[Effect]:
        if self.state in (State.IDLE, State.RESULT, State.FAILED):
            return []  # taking the card back after the answer is the normal end
        return self._fail(FailureName.CARD_REMOVED, "カードが取り外されました。もう一度カードを置いてください。")

    def _fail(self, failure: FailureName, message: str) -> list[Effect]:
        self.state = State.FAILED
        self.failure = failure
        self.message = message
        return [RecordOutcome(self.method, failure=failure)]

    def _card_inserted(self, _: CardInserted) -> list[Effect]:
        self._clear()
        self.state = State.READING
        return [ReadCard()]

    def _card_read(self, event: CardRead) -> list[Effect]:
        self.certificate_fingerprint = event.certificate_fingerprint
        self.pin_tries_left = event.pin_tries_left
        self.face_failures = event.face_failures
        self.visual_locked = event.visual_locked
        self.in_grace = event.in_grace
        self.device = event.device
        if self.device is Device.IPHONE:
            # Face ID / Touch ID passed on the phone before the tap: nothing to choose at the desk
            self.method = AuthMethod.DEVICE
            self.state = State.AUTHENTICATING
            return [SignOnDevice()]
        if self.device.is_phone and not self.available_methods():
            return self._fail(*self._phone_failure())
        if not self.available_methods():
            failure = FailureName.PIN_BLOCKED if not self.pin_available else FailureName.FACE_LOCKED
            return self._fail(failure, "本人確認の方法がありません。資格確認書などで確認してください。")
        self.state = State.CHOOSING
        return []

    def _card_read_failed(self, event: CardReadFailed) -> list[Effect]:
        return self._fail(event.failure, event.message)

    def _method_chosen(self, event: MethodChosen) -> list[Effect]:
        method = event.method
        reason = self.unavailable_reason(method)
        if reason:
            others = "・".join(m.label for m in self.available_methods())
            self.message = f"{method.label}は使えません（{reason}）。" + (f"{others}を選んでください。" if others else "")
            return []
        self.method = method
        self.message = ""
        if method is AuthMethod.PIN:
            self.state = State.PIN
            return []
        if method is AuthMethod.FACE:
            self.state = State.FACE
            return [MatchFace()]
        self.state = State.VISUAL
        return [ReadPhotoForVisual()]

    def _back_to_choice(self, _: MethodChosen) -> list[Effect]:
        self.state = State.CHOOSING
        return self._method_chosen(_)

    def _pin_entered(self, event: PinEntered) -> list[Effect]:
        self.state = State.AUTHENTICATING
        return [AuthenticateWithPin(event.pin)]

    def _pin_rejected(self, event: PinRejected) -> list[Effect]:
        self.pin_tries_left = event.tries_left
        self.message = event.message
        if event.tries_left > 0:
            self.state = State.PIN
            return []
        if self.device.is_phone:
            return self._fail(*self._phone_failure())
        if not self.available_methods():
            return self._fail(FailureName.PIN_BLOCKED, event.message)
        # 暗証番号を3回誤入力した場合でも、顔認証や目視モードの対応が可能 (seed)
        self.state = State.CHOOSING
        return [RecordOutcome(AuthMethod.PIN, failure=FailureName.PIN_BLOCKED)]

    def _face_attempted(self, event: FaceAttempted) -> list[Effect]:
        self.face_failures = event.failures
        self.message = event.message
        if event.accepted:
            self.state = State.AUTHENTICATING
            return []  # the session follows with Authenticated once it has the nonce
        self.state = State.CHOOSING
        if not self.face_available:
            self.message = f"顔認証に{FACE_LOCK_AFTER}回続けて失敗したため、このカードの顔認証はロックされました。暗証番号か目視確認で受付してください。"
            if not self.available_methods():
                return self._fail(FailureName.FACE_LOCKED, self.message)
            return [RecordOutcome(AuthMethod.FACE, failure=FailureName.FACE_LOCKED)]
        return [RecordOutcome(AuthMethod.FACE, failure=FailureName.AUTH_FAILED)]

    def _visual_submitted(self, event: VisualSubmitted) -> list[Effect]:
        if not event.confirmed:
            self.message = "「目視で本人確認完了」にチェックを入れてください。"
            return []
        staff_id = event.staff_id.strip()
        if not staff_id:
            self.message = "職員IDを入力してください。"
            return []
        if len(staff_id) > STAFF_ID_MAX or not staff_id.isprintable():
            # checked here, before the password and the central system: the journal takes no more
            self.message = f"職員IDは{STAFF_ID_MAX}文字以内の、制御文字を含まない文字で入力してください。"
            return []
        self.state = State.AUTHENTICATING
        return [CheckVisual(event.staff_id.strip(), event.password)]

    def _visual_rejected(self, event: VisualRejected) -> list[Effect]:
        self.message = event.message
        self.visual_locked = event.locked
        if event.locked:
            self.state = State.CHOOSING
            if not self.available_methods():
                return self._fail(FailureName.VISUAL_LOCKED, event.message)
            return [RecordOutcome(AuthMethod.VISUAL, failure=FailureName.VISUAL_LOCKED)]
        self.state = State.VISUAL
        return []

    def _authenticated(self, event: Authenticated) -> list[Effect]:
        self._proof, self._nonce = event.proof, event.nonce
        self.message = ""
        if self.facility_type is FacilityType.QUALIFICATION_ONLY or self.in_grace:
            # ③ 資格確認限定型, or a certificate in its grace: no medical information, no consent step
            if self.in_grace:
                self.message = GRACE_NO_CONSENT
            self.state = State.QUERYING
            return [QueryCentral(event.proof, event.nonce, frozenset())]
        self.state = State.CONSENT
        return []

    def _consent(self, event: ConsentAnswered) -> list[Effect]:
        assert self._proof is not None
        self.state = State.QUERYING
        return [QueryCentral(self._proof, self._nonce, frozenset(event.items), event.limit)]

    def _central_replied(self, event: CentralReplied) -> list[Effect]:
        self.reply = event.reply
        self.state = State.RESULT
        self._nonce = b""
        return [RecordOutcome(self.method, reply=event.reply)]

    def _central_failed(self, event: CentralFailed) -> list[Effect]:
        return self._fail(event.failure, event.message)

    def _next_patient(self, _: NextPatient) -> list[Effect]:
        self._clear()
        self.state = State.IDLE
        return []

    def _clear(self) -> None:
        self.method = None
        self.pin_tries_left = None
        self.failure = None
        self.message = ""
        self.reply = None
        self.certificate_fingerprint = None
        self.in_grace = False
        self.device = Device.CARD
        self._proof = None
        self._nonce = b""


def _phone_unavailable(device: Device, method: AuthMethod, pin_tries_left: int | None) -> str | None:
    """Why `method` cannot be used with a phone, or None to judge it as for a card."""
    if method in (AuthMethod.FACE, AuthMethod.VISUAL):
        return "スマートフォンには顔写真がありません（顔認証・目視確認はマイナンバーカードで）"
    if method is AuthMethod.PIN and device is Device.IPHONE:
        return "iPhoneは本人確認をiPhoneの生体認証で済ませます"
    if method is AuthMethod.PIN and pin_tries_left == 0:
        return "スマホ用暗証番号を3回間違えたためロック中（解除はマイナポータルアプリで）"
    return None


_T = Reception
# Each handler takes its own event type, hence Any for the event in the common signature.
_TRANSITIONS: dict[tuple[State, type[object]], Callable[[Reception, Any], list[Effect]]] = {
    (State.IDLE, CardInserted): _T._card_inserted,
    (State.RESULT, CardInserted): _T._card_inserted,
    (State.FAILED, CardInserted): _T._card_inserted,
    (State.READING, CardRead): _T._card_read,
    (State.READING, CardReadFailed): _T._card_read_failed,
    (State.CHOOSING, MethodChosen): _T._method_chosen,
    (State.PIN, MethodChosen): _T._back_to_choice,
    (State.FACE, MethodChosen): _T._back_to_choice,
    (State.VISUAL, MethodChosen): _T._back_to_choice,
    (State.PIN, PinEntered): _T._pin_entered,
    (State.AUTHENTICATING, PinRejected): _T._pin_rejected,
    (State.FACE, FaceAttempted): _T._face_attempted,
    (State.VISUAL, VisualSubmitted): _T._visual_submitted,
    (State.AUTHENTICATING, VisualRejected): _T._visual_rejected,
    (State.AUTHENTICATING, Authenticated): _T._authenticated,
    (State.AUTHENTICATING, CardReadFailed): _T._card_read_failed,
    (State.AUTHENTICATING, CentralFailed): _T._central_failed,
    (State.CONSENT, ConsentAnswered): _T._consent,
    (State.QUERYING, CentralReplied): _T._central_replied,
    (State.QUERYING, CentralFailed): _T._central_failed,
    (State.RESULT, NextPatient): _T._next_patient,
    (State.FAILED, NextPatient): _T._next_patient,
    (State.CHOOSING, NextPatient): _T._next_patient,
}


def _check_table() -> None:
    """Every state is reachable from IDLE and can get back to IDLE (no dead ends)."""
    edges: dict[State, set[State]] = {s: set() for s in State}
    targets = {
        CardInserted: {State.READING},
        CardRead: {State.CHOOSING, State.FAILED},
        CardReadFailed: {State.FAILED},
        MethodChosen: {State.PIN, State.FACE, State.VISUAL, State.CHOOSING},
        PinEntered: {State.AUTHENTICATING},
        PinRejected: {State.PIN, State.CHOOSING, State.FAILED},
        FaceAttempted: {State.AUTHENTICATING, State.CHOOSING, State.FAILED},
        VisualSubmitted: {State.AUTHENTICATING, State.VISUAL},
        VisualRejected: {State.VISUAL, State.CHOOSING, State.FAILED},
        Authenticated: {State.CONSENT, State.QUERYING},
        ConsentAnswered: {State.QUERYING},
        CentralReplied: {State.RESULT},
        CentralFailed: {State.FAILED},
        NextPatient: {State.IDLE},
    }
    for (state, event), _ in _TRANSITIONS.items():
        edges[state] |= targets[event]
    for state in _CARD_STATES:
        edges[state].add(State.FAILED)  # CardPulled, handled before the table

    def reach(start: State) -> set[State]:
        seen, todo = {start}, [start]
        while todo:
            for nxt in edges[todo.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    unreachable = set(State) - reach(State.IDLE)
    if unreachable:
        raise AssertionError(f"unreachable states: {sorted(s.value for s in unreachable)}")
    stuck = [s for s in State if State.IDLE not in reach(s)]
    if stuck:
        raise AssertionError(f"states with no way back to idle: {[s.value for s in stuck]}")


_check_table()
