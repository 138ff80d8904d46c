"""The face matcher in a child process: the same verdicts as in-process, on the real photos.

One child for the whole module (starting one and loading dlib's models costs a second or two).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from reader.errors import CardPhotoUnusable, FaceEngineUnavailable
from reader.face import THRESHOLD, DlibFaceMatcher, FaceMatcher, FaceReason, verify_face
from reader.face_process import ProcessFaceMatcher
from sim.camera import SimCamera
from sim.fixtures import load_card_fixture

pytestmark = pytest.mark.face


@pytest.fixture(scope="module")
def child():
    with ProcessFaceMatcher() as matcher:
        assert matcher.prepare(wait=False) is not None  # models load in the background
        yield matcher


@pytest.fixture(scope="module")
def local() -> DlibFaceMatcher:
    return DlibFaceMatcher()


def card_photo(card: str) -> bytes:
    return load_card_fixture(card).photo_path.read_bytes()


def test_is_a_face_matcher_with_the_same_threshold(child):
    assert isinstance(child, FaceMatcher)
    assert child.threshold == THRESHOLD
    assert ProcessFaceMatcher.like(DlibFaceMatcher(0.4, detect_width=320)).threshold == 0.4


def test_same_template_and_verdicts_as_in_process(child, local):
    photo = card_photo("adult")
    there, here = child.enroll(photo), local.enroll(photo)
    assert there.face_box == here.face_box
    assert abs(float(((there.encoding - here.encoding) ** 2).sum())) < 1e-12
    assert not there.encoding.flags.writeable and "hidden" in repr(there)
    for scenario, holder in (("holder", "astronaut"), ("other", "astronaut"), ("no-face", "astronaut")):
        with SimCamera(scenario, holder) as camera:
            frame = camera.read()
        a, b = child.match(there, frame), local.match(here, frame)
        assert (a.reason, a.accepted, a.face_box) == (b.reason, b.accepted, b.face_box)
        assert (a.distance is None) == (b.distance is None)
        if a.distance is not None:
            assert a.distance == pytest.approx(b.distance, abs=1e-9)


def test_verify_face_through_the_child(child):
    template = child.enroll(card_photo("adult"))
    with SimCamera("holder", "astronaut") as camera:
        result = verify_face(camera, child, template)
    assert result.accepted and result.reason is FaceReason.MATCH and result.frames == 1


def test_errors_keep_their_japanese_title_across_the_pipe(child):
    with pytest.raises(CardPhotoUnusable, match="読み取れません") as err:
        child.enroll(b"not a JPEG 2000 file")
    assert err.value.title == "カードの顔写真が使えません"
    assert child.enroll(card_photo("adult")).encoding.shape == (128,)  # the child is still there


def test_closed_matcher_says_so_and_stops_its_child():
    matcher = ProcessFaceMatcher()
    matcher.prepare()
    pool = matcher._pool
    assert pool is not None
    processes = list(pool._processes.values())
    assert processes and all(p.is_alive() for p in processes)
    matcher.close()
    assert not any(p.is_alive() for p in processes)
    with pytest.raises(FaceEngineUnavailable):
        matcher.enroll(card_photo("adult"))


def test_importing_it_loads_no_face_engine():
    code = "import sys, reader.face_process\nprint(sorted({'cv2', 'face_recognition', 'dlib', 'numpy'} & set(sys.modules)))"
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": str(root)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root, env=env)
    assert out.stdout.strip() == "[]"
