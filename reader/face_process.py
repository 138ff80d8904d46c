"""Face matching in a child process, behind the same FaceMatcher protocol.

dlib holds the GIL for the whole of a detection or an encoding (about 150 ms a frame, and 1-2 s
to load its models the first time), so a matcher running in one of the TUI's worker threads
still stops the event loop: measured 650-1,200 ms without a redraw or a key during 顔認証.
`ProcessFaceMatcher` runs a `DlibFaceMatcher` in one child process instead, so the terminal keeps
drawing while a face is matched. Same verdicts, same errors (they cross the pipe with their
Japanese title), same threshold.

The child is started with `spawn` (never `fork`: the TUI has threads running) on the first call
or on `prepare(wait=False)`, which also loads the models there so the first patient doesn't wait.
The card's face template and the frames go through a pipe to the child and back, in memory
only, never to disk or a log. Import this module freely: it imports neither dlib nor cv2.
"""

from __future__ import annotations

import multiprocessing
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import resource_tracker
from typing import TYPE_CHECKING, Any

from reader.errors import FaceEngineUnavailable
from reader.face import THRESHOLD, DlibFaceMatcher, FaceTemplate, MatchResult

if TYPE_CHECKING:
    import numpy as np

__all__ = ["ProcessFaceMatcher"]

_SETTINGS = ("detect_width", "min_face_px", "dark_level", "work_width")

_child_matcher: DlibFaceMatcher | None = None  # in the child only


def _child_start(threshold: float, settings: dict[str, Any]) -> None:
    global _child_matcher
    _child_matcher = DlibFaceMatcher(threshold, **settings)


def _child_prepare() -> None:
    assert _child_matcher is not None
    _child_matcher.prepare()


def _child_enroll(card_photo_jp2: bytes) -> FaceTemplate:
    assert _child_matcher is not None
    return _child_matcher.enroll(card_photo_jp2)


def _child_match(template: FaceTemplate, frame: np.ndarray) -> MatchResult:
    assert _child_matcher is not None
    return _child_matcher.match(template, frame)


class ProcessFaceMatcher:
    """A `DlibFaceMatcher` in a child process. `close()` (or `with`) stops the child."""

    def __init__(self, threshold: float = THRESHOLD, **settings: Any) -> None:
        unknown = set(settings) - set(_SETTINGS)
        if unknown:
            raise TypeError(f"unknown DlibFaceMatcher settings: {sorted(unknown)}")
        self.threshold = threshold
        self._settings = settings
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()  # the TUI's worker threads and the app's shutdown share the pool
        self._closed = False
        # The pool's semaphores are watched by multiprocessing's tracker process. Start it now,
        # while sys.stderr is a real file: inside a running Textual app it is not (fileno -1) and
        # starting the tracker there fails. The tracker stays up for later children.
        resource_tracker.ensure_running()

    @classmethod
    def like(cls, matcher: DlibFaceMatcher) -> ProcessFaceMatcher:
        """The same threshold and settings as an in-process matcher."""
        return cls(matcher.threshold, **{name: getattr(matcher, name) for name in _SETTINGS})

    # -- the child ---------------------------------------------------------------------------

    def _executor(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._closed:
                raise FaceEngineUnavailable("顔認証の処理は終了しています（端末の終了中です）。")
            if self._pool is None:
                self._pool = ProcessPoolExecutor(
                    max_workers=1,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_child_start,
                    initargs=(self.threshold, self._settings),
                )
            return self._pool

    def _call(self, fn: Any, *args: Any) -> Any:
        pool = self._executor()
        try:
            return pool.submit(fn, *args).result()
        except BrokenProcessPool as exc:
            with self._lock:
                if self._pool is pool:
                    self._pool = None  # the next attempt starts a fresh child
            raise FaceEngineUnavailable(
                "顔認証の処理が異常終了しました。もう一度お試しください。続く場合は暗証番号か目視確認を選んでください。"
            ) from exc

    def prepare(self, *, wait: bool = True) -> Future[None] | None:
        """Start the child and load the models there; with wait=False, return at once (the
        models load in the background, and a call made meanwhile simply queues behind them)."""
        if wait:
            self._call(_child_prepare)
            return None
        return self._executor().submit(_child_prepare)

    def close(self) -> None:
        """Stop the child (a match under way is finished first). The matcher can't be used after."""
        with self._lock:
            pool, self._pool, self._closed = self._pool, None, True
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> ProcessFaceMatcher:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- FaceMatcher -------------------------------------------------------------------------

    def enroll(self, card_photo_jp2: bytes) -> FaceTemplate:
        template: FaceTemplate = self._call(_child_enroll, card_photo_jp2)
        template.encoding.setflags(write=False)  # unpickled arrays come back writeable
        return template

    def match(self, template: FaceTemplate, frame: np.ndarray) -> MatchResult:
        result: MatchResult = self._call(_child_match, template, frame)
        return result
