"""Where a virtual card keeps what a real card keeps in its chip between sessions: PIN counters
and the count of consecutive failed face authentications (docs/face-lock.md)."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from desk.atomicfile import write_bytes_atomic
from sim.fixtures import FixtureError

__all__ = ["CardStateStore"]


class CardStateStore:
    """Retry counters (and the face-failure count) per card, one small JSON file per card, written
    atomically on each change.

    `directory=None` keeps the counters in memory only (for throw-away cards in tests and fuzzing).
    """

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self._memory: dict[str, dict[str, int]] = {}
        self._lock = threading.Lock()

    def _path(self, card_id: str) -> Path:
        assert self.directory is not None
        return self.directory / f"{card_id}.json"

    def load(self, card_id: str) -> dict[str, int]:
        with self._lock:
            if self.directory is None:
                return dict(self._memory.get(card_id, {}))
            path = self._path(card_id)
            try:
                raw = json.loads(path.read_text(encoding="utf-8"))
            except FileNotFoundError:
                return {}  # a card never used: the fixture's counters
            except (OSError, ValueError) as exc:  # unreadable or garbled: never a fresh card's tries
                raise _damaged(path) from exc
            if not isinstance(raw, dict) or not all(isinstance(v, int) and 0 <= v <= 16 for v in raw.values()):
                raise _damaged(path)
            return {str(k): int(v) for k, v in raw.items()}

    def save(self, card_id: str, counters: dict[str, int]) -> None:
        with self._lock:
            if self.directory is None:
                self._memory[card_id] = dict(counters)
                return
            write_bytes_atomic(self._path(card_id), json.dumps(counters).encode("ascii"))

    def reset(self, card_id: str) -> None:
        with self._lock:
            self._memory.pop(card_id, None)
            if self.directory is not None:
                self._path(card_id).unlink(missing_ok=True)


def _damaged(path: Path) -> FixtureError:
    return FixtureError(
        f"仮想カードの暗証番号の残り回数（{path}）が壊れています。回数を増やさないよう、このカードは使えません。"
        "訓練画面（F10）で「暗証番号の残り回数などをテストデータの初期値に戻してから置く」を選んで置き直してください。",
        "仮想カードの状態が壊れています",
    )
