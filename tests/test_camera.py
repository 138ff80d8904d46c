"""Cameras: OpenCvCamera against missing devices and a real video file, SimCamera's fixture frames."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from reader.camera import Camera, OpenCvCamera
from reader.errors import CameraError, CameraUnavailable, ReaderError
from sim.camera import CAMERA_DIR, SCENARIOS, SimCamera
from sim.fixtures import FIXTURES_DIR, FixtureError

HOLDERS = ["astronaut", "grace_hopper"]
REQUIRED = {
    "holder", "holder-dim", "holder-bright", "holder-backlit", "holder-blur", "holder-small",
    "holder-pose", "holder-occluded", "other", "no-face", "two-faces", "dark",
}  # fmt: skip


# -- OpenCvCamera ----------------------------------------------------------------------------------


def test_missing_camera_index_is_a_clear_error_without_opencv_noise(capfd):
    camera = OpenCvCamera(99)
    with pytest.raises(CameraUnavailable) as err:
        camera.open()
    assert "99" in str(err.value) and "見つかりません" in str(err.value)
    assert err.value.title == "カメラが使えません"
    assert isinstance(err.value, CameraError) and not isinstance(err.value, ReaderError)
    assert capfd.readouterr().err == ""  # OpenCV's own [ WARN ] lines are silenced


def test_missing_video_path_is_a_clear_error(tmp_path):
    missing = tmp_path / "no-such-camera.avi"
    with pytest.raises(CameraUnavailable, match="開けません"):
        OpenCvCamera(str(missing)).open()


def test_read_before_open_is_a_clear_error():
    with pytest.raises(CameraUnavailable, match="開かれていません"):
        OpenCvCamera(0).read()


def test_digit_string_means_webcam_index():
    assert OpenCvCamera("0").source == 0
    assert OpenCvCamera("/dev/video0").source == "/dev/video0"


@pytest.fixture
def video_file(tmp_path):
    """Five 640x480 frames in an MJPG AVI, each a different shade, written with OpenCV itself."""
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (640, 480))
    assert writer.isOpened()
    for shade in (10, 60, 110, 160, 210):
        writer.write(np.full((480, 640, 3), shade, np.uint8))
    writer.release()
    return path


def test_video_file_plays_after_warmup_then_reports_the_end(video_file):
    with OpenCvCamera(str(video_file), warmup_frames=3) as camera:
        assert isinstance(camera, Camera)
        frame = camera.read()
        assert frame.shape == (480, 640, 3) and frame.dtype == np.uint8
        assert abs(float(frame.mean()) - 160) < 8  # the 3 warm-up frames were skipped
        camera.read()
        with pytest.raises(CameraUnavailable, match="映像を取得できません"):
            camera.read()
    camera.close()  # closing twice is harmless


def test_too_short_video_fails_during_warmup(video_file):
    camera = OpenCvCamera(str(video_file), warmup_frames=6)
    with pytest.raises(CameraUnavailable):
        camera.open()
    with pytest.raises(CameraUnavailable, match="開かれていません"):
        camera.read()  # a failed open leaves nothing half-open


# -- SimCamera -------------------------------------------------------------------------------------


def test_scenarios_cover_what_the_cli_and_tui_name():
    assert REQUIRED <= set(SimCamera.scenarios())
    assert all(SimCamera.describe(s) for s in SimCamera.scenarios())


def test_unknown_scenario_lists_the_known_ones():
    with pytest.raises(FixtureError) as err:
        SimCamera("holder-sideways", "astronaut")
    assert "holder-sideways" in str(err.value) and "holder-dim" in str(err.value)


def test_unknown_holder_is_a_clear_error():
    with pytest.raises(FixtureError, match="nobody"):
        SimCamera("holder", "nobody")


@pytest.mark.parametrize("holder", HOLDERS)
@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_every_scenario_plays_640x480_bgr_frames(scenario, holder):
    with SimCamera(scenario, holder) as camera:
        assert isinstance(camera, Camera)
        frames = [camera.read() for _ in range(4)]
    assert all(f.shape == (480, 640, 3) and f.dtype == np.uint8 for f in frames)
    assert not np.array_equal(frames[0], frames[1])  # consecutive frames differ, like a webcam's
    assert np.array_equal(frames[0], frames[3])  # three frames, played in a loop


def test_other_is_the_other_card_holder():
    with SimCamera("other", "astronaut") as other, SimCamera("holder", "grace_hopper") as hopper:
        assert np.array_equal(other.read(), hopper.read())
    with SimCamera("other", "grace_hopper") as other, SimCamera("holder", "astronaut") as astronaut:
        assert np.array_equal(other.read(), astronaut.read())


def test_frames_are_copies():
    with SimCamera("holder", "astronaut") as camera:
        first = camera.read()
        first[:] = 0
        camera.read(), camera.read()
        assert camera.read().any()


def test_fps_paces_reads_like_a_webcam(monkeypatch):
    now, slept = [100.0], []
    monkeypatch.setattr("sim.camera._clock", lambda: now[0])
    monkeypatch.setattr("sim.camera._sleep", slept.append)
    with SimCamera("holder", "astronaut", fps=10) as camera:
        camera.read()
        camera.read()
        now[0] += 0.5  # the caller took longer than a frame: no wait
        camera.read()
    assert slept == [pytest.approx(0.1)]


def test_read_before_open_and_after_close_is_an_error():
    camera = SimCamera("holder", "astronaut")
    with pytest.raises(CameraUnavailable):
        camera.read()
    camera.open()
    camera.close()
    with pytest.raises(CameraUnavailable):
        camera.read()


def test_every_card_photo_has_camera_frames():
    photos = {p.stem for p in (FIXTURES_DIR / "faces" / "card").glob("*.jp2")}
    assert photos == {p.name for p in CAMERA_DIR.iterdir() if p.is_dir() and p.name != "scene"}


def test_generator_makes_exactly_the_scenarios_simcamera_plays():
    spec = importlib.util.spec_from_file_location("make_camera_frames", FIXTURES_DIR / "make_camera_frames.py")
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    made = set(generator.PERSON_SCENARIOS) | set(generator.SCENE_SCENARIOS)
    assert made | {"other"} == set(SCENARIOS)
    assert set(generator.SOURCES) == set(HOLDERS)


def test_camera_modules_import_without_cv2_or_dlib():
    code = (
        "import sys, reader.camera, reader.face, sim.camera\n"
        "heavy = {'cv2', 'face_recognition', 'dlib', 'numpy'} & set(sys.modules)\n"
        "print(sorted(heavy))"
    )
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": str(root)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root, env=env)
    assert out.stdout.strip() == "[]"
