"""The camera a face check reads from: frames in, nothing else.

`Camera` is the protocol; `OpenCvCamera` is the only implementation that touches hardware (a USB
webcam by index, or a video file/URL by path) and the only module here that imports cv2, lazily, so
`import reader.camera` costs nothing. `sim.camera.SimCamera` plays fixture frames instead.

Frames are numpy arrays, BGR, uint8, shape (H, W, 3): what OpenCV delivers, so no conversion on
the hot path.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from reader.errors import CameraUnavailable

if TYPE_CHECKING:
    import cv2
    import numpy as np

__all__ = ["Camera", "OpenCvCamera"]


@runtime_checkable
class Camera(Protocol):
    """One camera. `read` raises `CameraUnavailable`, never a library error or a None frame."""

    @property
    def name(self) -> str: ...

    def open(self) -> None:
        """Start capturing; CameraUnavailable if there is no such camera."""

    def read(self) -> np.ndarray:
        """The next frame, BGR uint8 (H, W, 3)."""

    def close(self) -> None:
        """Stop capturing. Safe to call twice."""


class OpenCvCamera:
    """A camera through cv2.VideoCapture: an index (0 = first webcam) or a path to a device or file."""

    def __init__(self, source: int | str, width: int = 640, height: int = 480, warmup_frames: int = 3) -> None:
        # "0" from a command line means the first webcam, not a file called 0.
        self.source: int | str = int(source) if isinstance(source, str) and source.isdigit() else source
        self.width = width
        self.height = height
        self.warmup_frames = warmup_frames
        self.name = f"camera:{self.source}"
        self._capture: cv2.VideoCapture | None = None

    def __enter__(self) -> OpenCvCamera:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> None:
        if self._capture is not None:
            return
        cv2 = _import_cv2()
        # VideoCapture never raises for a missing camera: it prints warnings and reports
        # isOpened() False. Silence the warnings (our error says it better) and check.
        previous = cv2.utils.logging.getLogLevel()
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
        try:
            capture = cv2.VideoCapture(self.source)
            opened = capture.isOpened()
        finally:
            cv2.utils.logging.setLogLevel(previous)
        if not opened:
            capture.release()
            raise CameraUnavailable(self._missing_message())
        if isinstance(self.source, int):  # a file has its own size; only ask a webcam for ours
            capture.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
            capture.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
        self._capture = capture
        try:
            # The first frames of a webcam are often black or mis-exposed while it adjusts.
            for _ in range(self.warmup_frames):
                self.read()
        except CameraUnavailable:
            self.close()
            raise

    def read(self) -> np.ndarray:
        if self._capture is None:
            raise CameraUnavailable(f"カメラ（{self.source}）がまだ開かれていません。")
        ok, frame = self._capture.read()
        if not ok or frame is None:
            raise CameraUnavailable(
                f"カメラ（{self.source}）から映像を取得できません。ケーブルを挿し直すか、"
                "他のアプリがカメラを使っていないか確認してください。"
            )
        if frame.ndim == 2:  # some USB cameras deliver greyscale
            cv2 = _import_cv2()
            frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
        return frame

    def close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None

    def _missing_message(self) -> str:
        if isinstance(self.source, int):
            return (
                f"カメラ {self.source} 番が見つかりません。USBケーブルの接続と、"
                "他のアプリがカメラを使っていないかを確認してください。"
            )
        return f"カメラまたは映像ファイル「{self.source}」を開けません。パスを確認してください。"


def _import_cv2() -> Any:
    # Set before cv2 is first imported: OpenCV reads it once. open() also silences around
    # VideoCapture, for when another module imported cv2 first.
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
    try:
        import cv2
    except ImportError as exc:
        raise CameraUnavailable(
            "カメラ用の部品（opencv-python-headless）がインストールされていません。", title="カメラが使えません"
        ) from exc
    return cv2
