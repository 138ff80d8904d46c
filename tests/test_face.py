"""The real matcher (dlib via face_recognition) on the real photos: card JP2 against camera frames.

Which holder variations must be accepted is what bench/face.py measured (all 8 benign scenarios,
every frame, with at least 0.1 of margin below the threshold).
"""

from __future__ import annotations

import itertools

import cv2
import numpy as np
import pytest

from reader.errors import CameraUnavailable, CardPhotoUnusable
from reader.face import THRESHOLD, DlibFaceMatcher, FaceMatcher, FaceReason, MatchResult, verify_face
from sim.camera import SimCamera
from sim.fixtures import load_card_fixture

pytestmark = pytest.mark.face

HOLDERS = ["astronaut", "grace_hopper"]
BENIGN = [
    "holder", "holder-dim", "holder-bright", "holder-backlit", "holder-blur",
    "holder-small", "holder-pose", "holder-occluded",
]  # fmt: skip


@pytest.fixture(scope="session")
def matcher() -> DlibFaceMatcher:
    return DlibFaceMatcher()


@pytest.fixture(scope="session")
def templates(matcher):
    """One template per card photo, read the way the desk gets it: a card fixture's photo bytes."""
    cards = {"astronaut": "adult", "grace_hopper": "elder-80"}
    out = {}
    for holder, card in cards.items():
        fixture = load_card_fixture(card)
        assert fixture.holder.photo == holder
        out[holder] = matcher.enroll(fixture.photo_path.read_bytes())
    return out


def frames(scenario: str, holder: str) -> list[np.ndarray]:
    with SimCamera(scenario, holder) as camera:
        return [camera.read() for _ in range(3)]


def test_matcher_is_a_face_matcher_with_a_stricter_threshold_than_the_library(matcher):
    assert isinstance(matcher, FaceMatcher)
    assert matcher.threshold == THRESHOLD < 0.6


@pytest.mark.parametrize(("holder", "scenario"), list(itertools.product(HOLDERS, BENIGN)))
def test_holder_accepted_in_every_benign_variation(matcher, templates, holder, scenario):
    for frame in frames(scenario, holder):
        result = matcher.match(templates[holder], frame)
        assert result.reason is FaceReason.MATCH, (result.reason, result.distance)
        assert result.accepted and result.distance is not None and result.distance <= THRESHOLD
        assert result.message == "カードの顔写真と一致しました。"
        assert set(result.timings_ms) == {"detect", "encode", "compare"}
        top, right, bottom, left = result.face_box
        assert right - left >= matcher.min_face_px and 0 <= top < bottom <= 480


@pytest.mark.parametrize("holder", HOLDERS)
def test_other_person_rejected(matcher, templates, holder):
    for frame in frames("other", holder):
        result = matcher.match(templates[holder], frame)
        assert result.reason is FaceReason.MISMATCH and not result.accepted
        assert result.distance > THRESHOLD
        assert "一致しません" in result.message


@pytest.mark.parametrize(
    ("scenario", "reason", "message"),
    [
        ("no-face", FaceReason.NO_FACE, "顔が見つかりません"),
        ("two-faces", FaceReason.MULTIPLE_FACES, "複数の顔が写っています"),
        ("dark", FaceReason.TOO_DARK, "暗すぎます"),
        ("holder-far", FaceReason.FACE_TOO_SMALL, "顔が小さすぎます"),
        # the seed's main causes of face-auth errors, each with its own hint
        ("holder-close", FaceReason.FACE_TOO_LARGE, "カメラに近すぎます"),
        ("holder-washed-out", FaceReason.TOO_BRIGHT, "明るすぎます"),
        ("holder-backlit-strong", FaceReason.BACKLIT, "逆光"),
    ],
)
@pytest.mark.parametrize("holder", HOLDERS)
def test_frames_without_one_usable_face_give_their_reason(matcher, templates, scenario, reason, message, holder):
    for frame in frames(scenario, holder):
        result = matcher.match(templates[holder], frame)
        assert result.reason is reason and not result.accepted
        assert result.distance is None and "encode" not in result.timings_ms  # nothing was compared
        assert result.message.startswith(message)


def test_face_too_small_reports_where_the_face_is(matcher, templates):
    result = matcher.match(templates["astronaut"], frames("holder-far", "astronaut")[0])
    top, right, bottom, left = result.face_box
    assert right - left < matcher.min_face_px


def test_large_frame_is_shrunk_and_the_box_is_in_its_pixels(matcher, templates):
    frame = cv2.resize(frames("holder", "astronaut")[0], (1280, 960), interpolation=cv2.INTER_LINEAR)
    result = matcher.match(templates["astronaut"], frame)
    assert result.accepted
    top, right, bottom, left = result.face_box
    assert right - left > 250  # about twice the ~165 px box in the 640x480 frame


def test_greyscale_frame_is_accepted_too(matcher, templates):
    grey = cv2.cvtColor(frames("holder", "grace_hopper")[0], cv2.COLOR_BGR2GRAY)
    assert matcher.match(templates["grace_hopper"], grey).accepted


# -- enrolment -------------------------------------------------------------------------------------


def test_template_hides_the_biometric_data(templates):
    text = repr(templates["astronaut"])
    assert "hidden" in text and "0." not in text
    assert templates["astronaut"].encoding.shape == (128,)
    assert not templates["astronaut"].encoding.flags.writeable


@pytest.mark.parametrize("photo", [b"", b"not a JPEG 2000 file"])
def test_undecodable_card_photo_is_a_clear_error(matcher, photo):
    with pytest.raises(CardPhotoUnusable, match="読み取れません") as err:
        matcher.enroll(photo)
    assert err.value.title == "カードの顔写真が使えません"


def test_card_photo_without_a_face_is_a_clear_error(matcher):
    blank = np.full((256, 192), 128, np.uint8)
    cv2.circle(blank, (96, 128), 40, 200, -1)  # a light disc is not a face
    ok, jp2 = cv2.imencode(".jp2", blank)
    assert ok
    with pytest.raises(CardPhotoUnusable, match="顔を検出できません"):
        matcher.enroll(jp2.tobytes())


# -- verify_face: retries within a budget ------------------------------------------------------------


def test_verify_accepts_the_holder_on_the_first_good_frame(matcher, templates):
    with SimCamera("holder-backlit", "grace_hopper") as camera:
        result = verify_face(camera, matcher, templates["grace_hopper"])
    assert result.accepted and result.frames == 1
    assert {"capture", "detect", "encode", "compare", "total"} <= set(result.timings_ms)


def test_verify_stops_at_the_first_mismatch(matcher, templates):
    with SimCamera("other", "astronaut") as camera:
        result = verify_face(camera, matcher, templates["astronaut"], max_frames=8)
    assert result.reason is FaceReason.MISMATCH and not result.accepted
    assert result.frames == 1  # no fishing for a lucky frame of an impostor


class Mixed:
    """A camera that first sees nobody, then the given scenario."""

    name = "mixed"

    def __init__(self, holder: str, then: str, blank: int) -> None:
        self.frames = frames("no-face", holder)[:1] * blank + frames(then, holder)
        self.reads = 0

    def open(self) -> None: ...

    def close(self) -> None: ...

    def read(self) -> np.ndarray:
        self.reads += 1
        return self.frames[min(self.reads - 1, len(self.frames) - 1)]


def test_verify_skips_frames_that_say_nothing_about_identity(matcher, templates):
    camera = Mixed("astronaut", "holder", blank=2)
    result = verify_face(camera, matcher, templates["astronaut"])
    assert result.accepted and result.frames == 3 == camera.reads


def test_verify_gives_up_after_max_frames_with_the_last_reason(matcher, templates):
    with SimCamera("dark", "astronaut") as camera:
        result = verify_face(camera, matcher, templates["astronaut"], max_frames=5)
    assert result.reason is FaceReason.TOO_DARK and not result.accepted and result.frames == 5


def test_verify_gives_up_when_the_time_budget_is_spent(matcher, templates):
    ticks = itertools.count()
    with SimCamera("two-faces", "astronaut") as camera:
        result = verify_face(camera, matcher, templates["astronaut"], budget_s=3.0, clock=lambda: float(next(ticks)))
    # clock: 0 at start, then 1, 2, 3 before frames 2, 3, 4: the budget of 3 s allows 3 frames
    assert result.reason is FaceReason.MULTIPLE_FACES and result.frames == 3


def test_verify_passes_camera_failure_through(matcher, templates):
    camera = SimCamera("holder", "astronaut")  # never opened
    with pytest.raises(CameraUnavailable):
        verify_face(camera, matcher, templates["astronaut"])


def test_match_result_is_immutable(matcher, templates):
    result = matcher.match(templates["astronaut"], frames("dark", "astronaut")[0])
    assert isinstance(result, MatchResult)
    with pytest.raises(AttributeError):
        result.accepted = True
