"""The reception state machine, event by event: effects out, state checked."""

from __future__ import annotations

import datetime as dt

import pytest

from desk.flow import (
    FACE_LOCK_AFTER,
    Authenticated,
    AuthenticateWithPin,
    CardInserted,
    CardPulled,
    CardRead,
    CardReadFailed,
    CentralFailed,
    CentralReplied,
    CheckVisual,
    ConsentAnswered,
    FaceAttempted,
    FlowError,
    MatchFace,
    MethodChosen,
    NextPatient,
    PinEntered,
    PinRejected,
    QueryCentral,
    ReadCard,
    ReadPhotoForVisual,
    Reception,
    RecordOutcome,
    State,
    VisualRejected,
    VisualSubmitted,
)
from desk.models import AuthMethod, CardProof, EligibilityReply, FacilityType, FailureName, Validity

NOT_AFTER = dt.date(2028, 4, 9)


def read(r: Reception, pin_tries=3, face_failures=0, visual_locked=False):
    assert r.handle(CardInserted()) == [ReadCard()]
    return r.handle(CardRead("fp", NOT_AFTER, pin_tries, face_failures, visual_locked))


def reply(validity=Validity.VALID) -> EligibilityReply:
    now = dt.datetime(2026, 12, 1, 9, 0)
    return EligibilityReply(process_execution_time=now, confirmation_date=now.date(), reference_classification=1, validity=validity)


PROOF = CardProof(method=AuthMethod.PIN, signature=b"s")


def test_pin_happy_path():
    r = Reception()
    assert read(r) == []
    assert r.state is State.CHOOSING
    assert r.available_methods() == [AuthMethod.FACE, AuthMethod.PIN, AuthMethod.VISUAL]
    assert r.handle(MethodChosen(AuthMethod.PIN)) == []
    assert r.handle(PinEntered("1234")) == [AuthenticateWithPin("1234")]
    assert r.handle(Authenticated(PROOF, b"n")) == []
    assert r.state is State.CONSENT
    effects = r.handle(ConsentAnswered(frozenset()))
    assert effects == [QueryCentral(PROOF, b"n", frozenset())]
    effects = r.handle(CentralReplied(reply()))
    assert r.state is State.RESULT
    assert effects == [RecordOutcome(AuthMethod.PIN, reply=reply())]
    assert r.handle(CardPulled()) == []  # taking the card back is the normal end
    assert r.handle(NextPatient()) == [] and r.state is State.IDLE


def test_pin_never_in_repr():
    assert "1234" not in repr(PinEntered("1234")) + repr(AuthenticateWithPin("1234"))
    assert "pw" not in repr(VisualSubmitted("staff", "pw", True)) + repr(CheckVisual("s", "pw"))


def test_wrong_pin_three_times_then_visual():
    r = Reception()
    read(r)
    r.handle(MethodChosen(AuthMethod.PIN))
    for left in (2, 1):
        r.handle(PinEntered("0000"))
        assert r.handle(PinRejected(left, "違います")) == []
        assert r.state is State.PIN
    r.handle(PinEntered("0000"))
    effects = r.handle(PinRejected(0, "ロック"))
    assert effects == [RecordOutcome(AuthMethod.PIN, failure=FailureName.PIN_BLOCKED)]
    assert r.state is State.CHOOSING
    assert AuthMethod.PIN not in r.available_methods()
    assert r.handle(MethodChosen(AuthMethod.PIN)) == [] and "使えません" in r.message
    assert r.handle(MethodChosen(AuthMethod.VISUAL)) == [ReadPhotoForVisual()]


def test_card_without_pin_offers_face_and_visual_only():
    r = Reception()
    read(r, pin_tries=None)
    assert r.available_methods() == [AuthMethod.FACE, AuthMethod.VISUAL]


def test_face_fails_ten_times_then_locked():
    r = Reception()
    read(r, face_failures=FACE_LOCK_AFTER - 2)
    assert r.handle(MethodChosen(AuthMethod.FACE)) == [MatchFace()]
    assert r.handle(FaceAttempted(False, FACE_LOCK_AFTER - 1, "別人")) == [RecordOutcome(AuthMethod.FACE, failure=FailureName.AUTH_FAILED)]
    r.handle(MethodChosen(AuthMethod.FACE))
    effects = r.handle(FaceAttempted(False, FACE_LOCK_AFTER, "別人"))
    assert effects == [RecordOutcome(AuthMethod.FACE, failure=FailureName.FACE_LOCKED)]
    assert r.available_methods() == [AuthMethod.PIN, AuthMethod.VISUAL]


def test_face_locked_and_pin_blocked_leaves_visual():
    r = Reception()
    read(r, pin_tries=0, face_failures=FACE_LOCK_AFTER)
    assert r.available_methods() == [AuthMethod.VISUAL]


def test_nothing_left_fails_with_a_reason():
    r = Reception()
    effects = read(r, pin_tries=0, face_failures=FACE_LOCK_AFTER, visual_locked=True)
    assert r.state is State.FAILED and r.failure is FailureName.PIN_BLOCKED
    assert effects == [RecordOutcome(None, failure=FailureName.PIN_BLOCKED)]


def test_visual_needs_the_checkbox_and_staff_id():
    r = Reception()
    read(r)
    r.handle(MethodChosen(AuthMethod.VISUAL))
    assert r.handle(VisualSubmitted("S01", "pw", confirmed=False)) == [] and "チェック" in r.message
    assert r.handle(VisualSubmitted("  ", "pw", confirmed=True)) == [] and "職員ID" in r.message
    # refused where it is typed, before the password is checked or anything is written
    assert r.handle(VisualSubmitted("S" * 65, "pw", confirmed=True)) == [] and "64文字" in r.message
    assert r.handle(VisualSubmitted("S\x1b[2J", "pw", confirmed=True)) == [] and "制御文字" in r.message
    assert r.handle(VisualSubmitted(" S01 ", "pw", confirmed=True)) == [CheckVisual("S01", "pw")]
    assert r.handle(VisualRejected("パスワードが違います", locked=False)) == []
    assert r.state is State.VISUAL


def test_visual_lock_returns_to_choice():
    r = Reception()
    read(r)
    r.handle(MethodChosen(AuthMethod.VISUAL))
    r.handle(VisualSubmitted("S01", "pw", True))
    effects = r.handle(VisualRejected("ロック", locked=True))
    assert effects == [RecordOutcome(AuthMethod.VISUAL, failure=FailureName.VISUAL_LOCKED)]
    assert AuthMethod.VISUAL not in r.available_methods()


def test_qualification_only_facility_skips_consent():
    r = Reception(facility_type=FacilityType.QUALIFICATION_ONLY)
    read(r)
    r.handle(MethodChosen(AuthMethod.PIN))
    r.handle(PinEntered("1234"))
    assert r.handle(Authenticated(PROOF, b"n")) == [QueryCentral(PROOF, b"n", frozenset())]
    assert r.state is State.QUERYING


@pytest.mark.parametrize("state_setup", ["reading", "choosing", "pin", "authenticating", "consent", "querying"])
def test_card_pulled_mid_flow(state_setup):
    r = Reception()
    r.handle(CardInserted())
    steps = {
        "choosing": [CardRead("fp", NOT_AFTER, 3)],
        "pin": [CardRead("fp", NOT_AFTER, 3), MethodChosen(AuthMethod.PIN)],
        "authenticating": [CardRead("fp", NOT_AFTER, 3), MethodChosen(AuthMethod.PIN), PinEntered("1234")],
        "consent": [CardRead("fp", NOT_AFTER, 3), MethodChosen(AuthMethod.PIN), PinEntered("1234"), Authenticated(PROOF, b"n")],
        "querying": [
            CardRead("fp", NOT_AFTER, 3),
            MethodChosen(AuthMethod.PIN),
            PinEntered("1234"),
            Authenticated(PROOF, b"n"),
            ConsentAnswered(),
        ],
    }.get(state_setup, [])
    for event in steps:
        r.handle(event)
    assert r.state.value == state_setup
    effects = r.handle(CardPulled())
    assert r.state is State.FAILED and r.failure is FailureName.CARD_REMOVED
    assert "取り外され" in r.message
    assert effects[0].failure is FailureName.CARD_REMOVED
    assert r.handle(CardInserted()) == [ReadCard()]  # a clear state: the next card starts afresh


def test_central_down_is_a_failure_with_a_record():
    r = Reception()
    read(r)
    r.handle(MethodChosen(AuthMethod.PIN))
    r.handle(PinEntered("1234"))
    r.handle(Authenticated(PROOF, b"n"))
    r.handle(ConsentAnswered())
    effects = r.handle(CentralFailed(FailureName.CENTRAL_DOWN, "接続できません"))
    assert r.state is State.FAILED
    assert effects == [RecordOutcome(AuthMethod.PIN, failure=FailureName.CENTRAL_DOWN)]


def test_not_my_number_card():
    r = Reception()
    r.handle(CardInserted())
    r.handle(CardReadFailed(FailureName.NOT_MY_NUMBER_CARD, "違うカード"))
    assert r.state is State.FAILED and r.failure is FailureName.NOT_MY_NUMBER_CARD


def test_out_of_order_event_is_a_flow_error():
    r = Reception()
    with pytest.raises(FlowError) as err:
        r.handle(PinEntered("1234"))
    assert "Can't handle PinEntered when in idle" in str(err.value)


def test_a_certificate_in_its_grace_skips_the_consent_and_says_why():
    from desk.flow import GRACE_NO_CONSENT

    r = Reception()
    r.handle(CardInserted())
    r.handle(CardRead("fp", NOT_AFTER, 3, in_grace=True))
    r.handle(MethodChosen(AuthMethod.PIN))
    r.handle(PinEntered("1234"))
    effects = r.handle(Authenticated(PROOF, b"n"))
    assert r.state is State.QUERYING and effects == [QueryCentral(PROOF, b"n", frozenset())]
    assert r.message == GRACE_NO_CONSENT and "猶予期間" in r.message
    r2 = Reception()
    read(r2)
    r2.handle(MethodChosen(AuthMethod.PIN))
    r2.handle(PinEntered("1234"))
    assert r2.handle(Authenticated(PROOF, b"n")) == [] and r2.state is State.CONSENT  # outside the grace: asked
