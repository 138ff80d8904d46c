"""Face matching: the live camera frame against the face photo read from the card's 券面AP.

`DlibFaceMatcher` uses face_recognition (dlib's HOG detector and its 128-d ResNet descriptor). It
imports face_recognition, dlib and cv2 lazily, on first use, so `import reader.face` is cheap and
`desk` starts fast. The biometric template lives in memory for one reception only: it is never
logged (its repr hides it) and never persisted.

How one frame is judged (`DlibFaceMatcher.match`)
------------------------------------------------
1. Greyscale. The card photo is monochrome, so the live face is compared in the same modality.
   Measured while designing this (not re-run by the bench): the astronaut's holder frame is 0.23
   from her card in colour and 0.13 in grey, while the other person stays 0.63-0.70 away.
2. Too dark: mean grey level below `dark_level` (30 of 255) -> TOO_DARK, before any detection:
   dlib still "finds" a face in a nearly black frame, and its descriptor there is noise (0.43-0.49
   from the true holder), which would read as a different person.
3. Detect on a copy downscaled to `detect_width` (480 px; HOG, no upsampling): about 17-20 ms,
   against 44 ms at 640x480 and 132 ms with face_recognition's default upsampling. Faces from
   about 96 px are found there. If none is found, one more pass on the full frame with upsampling
   (about 100 ms) finds smaller faces, only to tell "too far away" (FACE_TOO_SMALL) from "nobody
   there" (NO_FACE); such a frame costs no encoding, so it stays within the budget.
4. Faces narrower than `min_face_px` (80 px at 640 wide) are ignored: a small face in the back of
   the waiting room is not the patient. None left -> FACE_TOO_SMALL; two or more -> MULTIPLE_FACES
   (never guess which one is the patient). The face itself too dark (strong backlight) -> TOO_DARK.
5. Encode that one face only, at the box already found (no second detection), and compare.
   Median per 640x480 frame on the 2-core development machine: 146 ms (detect 17, encode 126).

Threshold
---------
`THRESHOLD = 0.45` (Euclidean distance between descriptors; accept when distance <= threshold).
face_recognition's default 0.6 is what dlib's LFW accuracy is quoted at and is known to accept
look-alikes: on the bench data it accepts 11 of the 271 card-vs-probe impostor pairs (LFW faces).
bench/face.py, card photo against probe:

- genuine, every benign variation (8 camera scenarios x 3 frames x 2 people: dim, bright,
  backlight, defocus and motion blur, 70 cm away, roll and turn, a hand at the chin; plus flip,
  JPEG q30, gamma, noise, 320x240 camera, 18 degree roll, light blur): 0.076 - 0.341, the worst
  being heavy blur;
- impostor, the other person in every variation and 100 LFW faces against both card photos:
  0.546 and above.

Any threshold in (0.341, 0.546) separates this data. 0.45 leaves about 0.1 on both sides, and
not less below the genuine side because these genuine pairs all come from one photograph per
person: real patients are compared with a card photo up to 10 years old, through another camera,
with or without glasses, and their distances will be larger than any here. Going lower would
reject elderly patients first; going higher admits look-alikes. Only two full-resolution
identities are available offline, so this is a sanity check of the threshold, not a FAR
measurement (see the bench's output). Degraded frames drift towards an "average face": the
closest impostor pair of all was two heavily blurred frames of different people (0.457), one
more reason not to loosen the threshold to rescue bad images.

Retrying (`verify_face`)
------------------------
Frames are tried until one is accepted or the time/frame budget runs out. Frames that say nothing
about identity (no face, too dark, too small, two faces) are skipped. But the first frame whose
face is encoded and judged a MISMATCH ends the attempt with a rejection: trying more frames of
the same impostor would only fish for a lucky frame, and the false-accept rate of k tries is about
k times that of one. A genuine patient rejected by a bad frame tries again through the reception
flow, where each attempt counts towards the 10-failure lock, so the number of tries an impostor
gets stays bounded by that lock, not by the frame rate.
"""

from __future__ import annotations

import importlib.util
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol, cast, runtime_checkable

from reader.errors import CardPhotoUnusable, FaceEngineUnavailable

if TYPE_CHECKING:
    import numpy as np

    from reader.camera import Camera

__all__ = [
    "THRESHOLD",
    "FaceReason",
    "FaceTemplate",
    "MatchResult",
    "FaceObservation",
    "FaceMatcher",
    "DlibFaceMatcher",
    "verify_face",
]

THRESHOLD = 0.45

Box = tuple[int, int, int, int]  # top, right, bottom, left (face_recognition's order), frame pixels


class FaceReason(StrEnum):
    MATCH = "match"
    MISMATCH = "mismatch"
    NO_FACE = "no_face"
    MULTIPLE_FACES = "multiple_faces"
    TOO_DARK = "too_dark"
    FACE_TOO_SMALL = "face_too_small"
    # the seed's main causes of face-auth errors: the face too close, backlight, outside light
    FACE_TOO_LARGE = "face_too_large"
    BACKLIT = "backlit"
    TOO_BRIGHT = "too_bright"

    @property
    def message(self) -> str:
        return _MESSAGES[self]


_MESSAGES = {
    FaceReason.MATCH: "カードの顔写真と一致しました。",
    FaceReason.MISMATCH: "カードの顔写真と一致しません。",
    FaceReason.NO_FACE: "顔が見つかりません。カメラの正面に顔を向けてください。",
    FaceReason.MULTIPLE_FACES: "複数の顔が写っています。お一人でカメラの前にお立ちください。",
    FaceReason.TOO_DARK: "暗すぎます。照明を明るくするか、窓を背にしない位置でお願いします。",
    FaceReason.FACE_TOO_SMALL: "顔が小さすぎます。もう少しカメラに近づいてください。",
    FaceReason.FACE_TOO_LARGE: "カメラに近すぎます。顔全体が映るよう、少し離れてください。",
    FaceReason.BACKLIT: "逆光で顔が暗く映っています。窓や明るい照明を背にしないよう、立つ位置か向きを変えてください。",
    FaceReason.TOO_BRIGHT: "明るすぎます（外の光や照明が直接当たっています）。直射日光や強い照明を避けてください。",
}


@dataclass(frozen=True, eq=False)
class FaceTemplate:
    """The card holder's face descriptor, made once per card. Biometric data: repr hides it."""

    encoding: np.ndarray = field(repr=False)
    face_box: Box  # where the face is in the card photo

    def __repr__(self) -> str:
        return f"FaceTemplate(face_box={self.face_box}, encoding=<128 floats, hidden>)"


@dataclass(frozen=True)
class MatchResult:
    """The verdict on one frame (or, from verify_face, on one whole attempt)."""

    accepted: bool
    distance: float | None  # None when no face was compared
    reason: FaceReason
    message: str  # Japanese, for the screen
    timings_ms: dict[str, float] = field(default_factory=dict)  # detect, encode, compare (+ total)
    threshold: float | None = None
    face_box: Box | None = None  # the face that was compared, in frame pixels
    frames: int = 1  # frames looked at (verify_face)


@dataclass(frozen=True, eq=False)
class FaceObservation:
    """What one frame shows: the encoded face, or the reason there is none to compare."""

    reason: FaceReason | None  # None when a face was encoded; whether it matches is match()'s call
    face_box: Box | None
    encoding: np.ndarray | None = field(default=None, repr=False)
    timings_ms: dict[str, float] = field(default_factory=dict)


@runtime_checkable
class FaceMatcher(Protocol):
    threshold: float

    def enroll(self, card_photo_jp2: bytes) -> FaceTemplate:
        """Encode the card's face photo; CardPhotoUnusable if it cannot be decoded or has no face."""

    def match(self, template: FaceTemplate, frame: np.ndarray) -> MatchResult:
        """Judge one BGR frame against the template."""


class DlibFaceMatcher:
    """face_recognition (dlib) behind the FaceMatcher protocol. See the module docstring for the policy."""

    def __init__(
        self,
        threshold: float = THRESHOLD,
        *,
        detect_width: int = 480,
        min_face_px: int = 80,
        max_face_fraction: float = 0.45,
        dark_level: float = 30.0,
        bright_level: float = 208.0,
        face_bright_level: float = 228.0,
        work_width: int = 640,
    ) -> None:
        self.threshold = threshold
        self.detect_width = detect_width
        self.min_face_px = min_face_px
        # A face wider than this share of the frame is too close: the real readers refuse it, and
        # the seed names it among the main causes of errors (measured: 165-199 px at the counter,
        # 344 px leaning in, of 640)
        self.max_face_fraction = max_face_fraction
        self.dark_level = dark_level
        # Washed out by outside light: the whole frame (benign bright light: 171-199 mean grey;
        # sun on the lens: 212-231) or the face itself (benign: up to 225; washed out: 231-240)
        self.bright_level = bright_level
        self.face_bright_level = face_bright_level
        # Frames wider than this (a 1280x720 webcam) are shrunk first, so min_face_px and the
        # timings mean the same thing whatever the camera delivers.
        self.work_width = work_width
        self._fr: Any = None
        self._cv2: Any = None
        self._np: Any = None

    # -- engine ----------------------------------------------------------------------------------

    def prepare(self) -> None:
        """Import face_recognition and load its models now (about 1-2 s) instead of on first use."""
        if self._fr is not None:
            return
        for module, package in (("dlib", "dlib-bin"), ("face_recognition_models", "face_recognition_models"),
                                ("face_recognition", "face_recognition")):
            if importlib.util.find_spec(module) is None:
                raise FaceEngineUnavailable(_install_hint(f"{package} がインストールされていません。"))
        try:
            # face_recognition_models imports pkg_resources (setuptools < 81), which warns on import.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                import face_recognition
                import face_recognition_models  # noqa: F401  imported first: face_recognition quit()s if it fails
        except ImportError as exc:
            hint = "setuptools<81 が必要です（pkg_resources がありません）。" if "pkg_resources" in str(exc) else f"{exc}"
            raise FaceEngineUnavailable(_install_hint(hint)) from exc
        import cv2
        import numpy

        self._fr, self._cv2, self._np = face_recognition, cv2, numpy

    # -- enrolment -------------------------------------------------------------------------------

    def enroll(self, card_photo_jp2: bytes) -> FaceTemplate:
        self.prepare()
        cv2, np, fr = self._cv2, self._np, self._fr
        photo = cv2.imdecode(np.frombuffer(card_photo_jp2, np.uint8), cv2.IMREAD_GRAYSCALE) if card_photo_jp2 else None
        if photo is None:
            raise CardPhotoUnusable("カードの顔写真を画像として読み取れません。顔認証は使えないため、目視で本人確認してください。")
        # The card photo is small (about 190x250) and decoded once: upsample freely to find the face.
        boxes = fr.face_locations(photo, number_of_times_to_upsample=1) or fr.face_locations(photo, 2)
        if not boxes:
            raise CardPhotoUnusable("カードの顔写真から顔を検出できません。顔認証は使えないため、目視で本人確認してください。")
        box = max(boxes, key=_width)  # a portrait: the largest face is the holder
        encoding = fr.face_encodings(cv2.cvtColor(photo, cv2.COLOR_GRAY2RGB), [box])[0]
        encoding.setflags(write=False)
        return FaceTemplate(encoding=encoding, face_box=cast(Box, tuple(int(v) for v in box)))

    # -- one frame -------------------------------------------------------------------------------

    def match(self, template: FaceTemplate, frame: np.ndarray) -> MatchResult:
        seen = self.observe(frame)
        timings = dict(seen.timings_ms)
        if seen.encoding is None:
            assert seen.reason is not None
            reason, distance = seen.reason, None
        else:
            t = time.perf_counter()
            distance = float(self._np.linalg.norm(seen.encoding - template.encoding))
            timings["compare"] = _ms(t)
            reason = FaceReason.MATCH if distance <= self.threshold else FaceReason.MISMATCH
        return MatchResult(
            accepted=reason is FaceReason.MATCH,
            distance=distance,
            reason=reason,
            message=reason.message,
            timings_ms=timings,
            threshold=self.threshold,
            face_box=seen.face_box,
        )

    def observe(self, frame: np.ndarray) -> FaceObservation:
        """Find the one usable face in a BGR frame and encode it, or say why there is none."""
        self.prepare()
        cv2, fr = self._cv2, self._fr
        timings: dict[str, float] = {}
        t0 = time.perf_counter()

        grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame
        to_frame = 1.0  # work pixels -> frame pixels
        if grey.shape[1] > self.work_width:
            to_frame = grey.shape[1] / self.work_width
            grey = cv2.resize(grey, None, fx=1 / to_frame, fy=1 / to_frame, interpolation=cv2.INTER_AREA)

        def seen(reason: FaceReason | None, box: Box | None = None, encoding: Any = None) -> FaceObservation:
            timings.setdefault("detect", _ms(t0))
            frame_box = cast(Box, tuple(int(round(v * to_frame)) for v in box)) if box else None
            return FaceObservation(reason=reason, face_box=frame_box, encoding=encoding, timings_ms=timings)

        overall = float(grey.mean())
        if overall < self.dark_level:
            return seen(FaceReason.TOO_DARK)
        if overall > self.bright_level:
            return seen(FaceReason.TOO_BRIGHT)
        boxes = self._detect(grey)
        if not boxes:
            return seen(FaceReason.NO_FACE)
        large = [b for b in boxes if _width(b) >= self.min_face_px]
        if not large:
            return seen(FaceReason.FACE_TOO_SMALL, max(boxes, key=_width))
        if len(large) > 1:
            return seen(FaceReason.MULTIPLE_FACES)
        box = large[0]
        top, right, bottom, left = box
        if _width(box) > self.max_face_fraction * grey.shape[1]:
            return seen(FaceReason.FACE_TOO_LARGE, box)
        face_level = float(grey[top:bottom, left:right].mean())
        if face_level < self.dark_level:
            # a dark face in a lit room is backlight (a window behind): turning helps, lamps do not
            return seen(FaceReason.BACKLIT if overall >= 3 * self.dark_level else FaceReason.TOO_DARK, box)
        if face_level > self.face_bright_level:
            return seen(FaceReason.TOO_BRIGHT, box)
        timings["detect"] = _ms(t0)

        t1 = time.perf_counter()
        encoding = fr.face_encodings(cv2.cvtColor(grey, cv2.COLOR_GRAY2RGB), [box])[0]
        encoding.setflags(write=False)
        timings["encode"] = _ms(t1)
        return seen(None, box, encoding)

    def _detect(self, grey: np.ndarray) -> list[Box]:
        cv2, fr = self._cv2, self._fr
        height, width = grey.shape[:2]
        scale = min(1.0, self.detect_width / width)
        small = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else grey
        boxes = fr.face_locations(small, number_of_times_to_upsample=0)
        if boxes:
            return [_clip(cast(Box, tuple(int(round(v / scale)) for v in b)), width, height) for b in boxes]
        # Nothing at the fast scale: look once more for faces too small for it, so that a patient
        # standing back hears "come closer" rather than "no face".
        return [_clip(b, width, height) for b in fr.face_locations(grey, number_of_times_to_upsample=1)]


def verify_face(
    camera: Camera,
    matcher: FaceMatcher,
    template: FaceTemplate,
    *,
    budget_s: float = 6.0,
    max_frames: int = 8,
    clock: Callable[[], float] = time.monotonic,
) -> MatchResult:
    """Read frames from an open camera until one is accepted, one is rejected, or the budget ends.

    Returns the deciding result (MATCH or MISMATCH) or, when no frame could be judged, the last
    one, with `frames` set and timings summed over the attempt plus `capture` and `total`. A
    MISMATCH ends the attempt at once (see the module docstring). At least one frame is read.
    """
    start = clock()
    sums: dict[str, float] = {}
    result: MatchResult | None = None
    frames = 0
    while frames < max_frames and (frames == 0 or clock() - start < budget_s):
        t = time.perf_counter()
        frame = camera.read()
        sums["capture"] = sums.get("capture", 0.0) + _ms(t)
        result = matcher.match(template, frame)
        frames += 1
        for stage, ms in result.timings_ms.items():
            sums[stage] = sums.get(stage, 0.0) + ms
        if result.reason in (FaceReason.MATCH, FaceReason.MISMATCH):
            break
    assert result is not None
    sums["total"] = (clock() - start) * 1000.0
    return replace(result, timings_ms=sums, frames=frames)


def _width(box: Box) -> int:
    return box[1] - box[3]


def _clip(box: Box, width: int, height: int) -> Box:
    top, right, bottom, left = box
    return max(top, 0), min(right, width), min(bottom, height), max(left, 0)


def _ms(since: float) -> float:
    return (time.perf_counter() - since) * 1000.0


def _install_hint(what: str) -> str:
    return (
        f"顔認証を使うための部品が不足しています: {what}"
        " 導入手順は README の「顔認証」を参照してください（pip install \"setuptools<81\" dlib-bin "
        "face_recognition_models のあと pip install --no-deps face_recognition）。"
    )
