"""A simulated camera that plays fixture frames in a loop, like a webcam pointed at a scene.

The frames are 640x480 JPEGs made by fixtures/make_camera_frames.py from real photos (see that
script). A scenario names what the camera sees, relative to the card holder:

    SimCamera("holder-dim", holder="astronaut")     # the card holder in a dim room
    SimCamera("other", holder="astronaut")          # somebody else (grace_hopper)

`holder` is the card photo's stem, as in a card fixture's `holder.photo`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reader.errors import CameraUnavailable
from sim.fixtures import FACES_DIR, FixtureError, UnknownFixture

if TYPE_CHECKING:
    import numpy as np

    from sim.card import SimTransport

__all__ = ["SimCamera", "CardHolderCamera", "SCENARIOS", "CAMERA_DIR"]

CAMERA_DIR = FACES_DIR / "camera"
_NOBODY_ON_THE_READER = "astronaut"  # whose frames play while no card lies on the reader
_SCENE = "scene"
_clock, _sleep = time.monotonic, time.sleep  # module-level so a test can stand in for them  # frames that are the same whoever holds the card

# scenario -> what the camera sees (Japanese, for the CLI and the TUI's picker)
SCENARIOS: dict[str, str] = {
    "holder": "本人（明るさ良好）",
    "holder-dim": "本人（薄暗い）",
    "holder-bright": "本人（明るすぎる照明）",
    "holder-backlit": "本人（逆光）",
    "holder-blur": "本人（ピンぼけ・動き）",
    "holder-small": "本人（少し離れて立っている）",
    "holder-far": "本人（離れすぎ）",
    "holder-close": "本人（カメラに近すぎる）",
    "holder-washed-out": "本人（外の光が強すぎる）",
    "holder-backlit-strong": "本人（強い逆光・窓を背にしている）",
    "holder-pose": "本人（顔が傾いている・少し横向き）",
    "holder-occluded": "本人（手で顔の一部が隠れている）",
    "other": "別人",
    "no-face": "誰も写っていない",
    "two-faces": "二人写っている",
    "dark": "真っ暗",
}


class SimCamera:
    """Plays the frames of one scenario in a loop; `read` never runs dry."""

    def __init__(
        self, scenario: str, holder: str, *, fps: float | None = None, root: Path = CAMERA_DIR
    ) -> None:
        """`fps` paces `read` like a real webcam (None: frames come at once, as tests want)."""
        if scenario not in SCENARIOS:
            raise UnknownFixture(
                f"カメラのシナリオ「{scenario}」はありません（あるもの: {', '.join(SimCamera.scenarios())}）"
            )
        people = _people(root)
        if holder not in people:
            raise FixtureError(f"顔写真「{holder}」のカメラ映像がありません（あるもの: {', '.join(people)}）")
        self.scenario = scenario
        self.holder = holder
        self.name = f"sim:{holder}/{scenario}"
        self._paths = _frame_paths(root, scenario, holder, people)
        self._interval = 1.0 / fps if fps else 0.0
        self._frames: list[Any] = []
        self._next = 0
        self._last_read = 0.0

    @staticmethod
    def scenarios() -> list[str]:
        return list(SCENARIOS)

    @staticmethod
    def describe(scenario: str) -> str:
        return SCENARIOS[scenario]

    def __enter__(self) -> SimCamera:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> None:
        if self._frames:
            return
        import cv2  # lazy, as in reader.camera

        frames = [cv2.imread(str(p), cv2.IMREAD_COLOR) for p in self._paths]
        if any(f is None for f in frames):
            raise CameraUnavailable(f"カメラのテスト映像を読めません: {self.name}")
        self._frames = frames
        self._next = 0

    def read(self) -> np.ndarray:
        if not self._frames:
            raise CameraUnavailable(f"カメラ（{self.name}）がまだ開かれていません。")
        if self._interval:
            wait = self._last_read + self._interval - _clock()
            if wait > 0:
                _sleep(wait)
            self._last_read = _clock()
        frame = self._frames[self._next % len(self._frames)]
        self._next += 1
        return frame.copy()  # callers may draw on it

    def close(self) -> None:
        self._frames = []


def _people(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.is_dir() and p.name != _SCENE) if root.is_dir() else []


def _frame_paths(root: Path, scenario: str, holder: str, people: list[str]) -> list[Path]:
    if scenario == "other":
        others = [p for p in people if p != holder]
        if not others:
            raise FixtureError(f"「{holder}」以外の人のカメラ映像がありません")
        folder, stem = root / others[0], "holder"
    elif (root / _SCENE / f"{scenario}-0.jpg").exists():
        folder, stem = root / _SCENE, scenario
    else:
        folder, stem = root / holder, scenario
    paths = sorted(folder.glob(f"{stem}-[0-9]*.jpg"))
    if not paths:
        raise FixtureError(
            f"カメラのテスト映像 {folder.name}/{stem}-*.jpg がありません。"
            "fixtures/make_camera_frames.py で作り直してください。"
        )
    return paths


class CardHolderCamera:
    """The desk's simulated camera: films the holder of whichever card lies on `transport`, in the
    scenario training picks (`scenario` may change at any time; the next `open` follows it)."""

    def __init__(self, transport: SimTransport, scenario: str = "holder", *, fps: float | None = None) -> None:
        if scenario not in SCENARIOS:
            raise UnknownFixture(f"カメラのシナリオ「{scenario}」はありません（あるもの: {', '.join(SCENARIOS)}）")
        self.transport = transport
        self.scenario = scenario
        self._fps = fps
        self._camera: SimCamera | None = None

    @property
    def name(self) -> str:
        return f"sim:{self._holder()}/{self.scenario}"

    def _holder(self) -> str:
        card = self.transport.card
        return card.fixture.holder.photo if card is not None else _NOBODY_ON_THE_READER

    def open(self) -> None:
        holder = self._holder()
        current = self._camera
        if current is None or current.holder != holder or current.scenario != self.scenario:
            if current is not None:
                current.close()
            try:
                self._camera = SimCamera(self.scenario, holder, fps=self._fps)
            except FixtureError as exc:  # no frames for this holder: to the desk, a camera problem
                raise CameraUnavailable(f"{exc.title}: {exc}") from exc
        self._camera.open()

    def read(self) -> np.ndarray:
        if self._camera is None:
            raise CameraUnavailable(f"カメラ（{self.name}）がまだ開かれていません。")
        return self._camera.read()

    def close(self) -> None:
        if self._camera is not None:
            self._camera.close()
