"""Several readers on one desk: one lane per reader, each with its own flow.

A lane is one reader's patient: its `DeskSession` (the flow, the card, its own transport, camera
and journal connection) and, on a training desk, the controls of its simulated reader. The lanes
of a desk share what is the facility's — its config, the central system, the terminal key, the
result folder and the outbox — and the face engine (desk/wiring.py says why it is shared).

Nothing here is a screen: the reception screen (desk/tui/screens/reception.py) runs each lane's
calls on a worker chain of its own, so one patient's PIN pad or 目視 form never holds another
lane's card read, face match or central query.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from desk.session import DeskSession
from desk.training import TrainingControls

__all__ = ["Lane", "LaneListener", "Lanes"]

# Told (lane index, card present) from whichever thread the lane's reader reports on.
LaneListener = Callable[[int, bool], None]


@dataclass(frozen=True)
class Lane:
    index: int  # 0-based; staff see index + 1
    label: str  # the reader as staff know it: "sim", "sim-2", "Virtual PCD 00 01"
    session: DeskSession
    training: TrainingControls | None = None  # the simulated reader's controls (training desks)


class Lanes(Sequence[Lane]):
    """The lanes of one desk, in the order their readers were given (the first is lane 1)."""

    def __init__(self, lanes: Sequence[Lane]) -> None:
        if not lanes:
            raise ValueError("a desk has at least one lane")
        self._lanes = tuple(lanes)

    def __len__(self) -> int:
        return len(self._lanes)

    def __iter__(self) -> Iterator[Lane]:
        return iter(self._lanes)

    def __getitem__(self, index: int) -> Lane:  # type: ignore[override]
        return self._lanes[index]

    @property
    def several(self) -> bool:
        return len(self._lanes) > 1

    def watch_cards(self, listener: LaneListener | None = None) -> list[tuple[int, Exception]]:
        """Follow every lane's reader (DeskSession.watch_cards). A reader that cannot be watched
        does not stop the others: its lane and the error are returned for the screen to say."""
        problems: list[tuple[int, Exception]] = []
        for lane in self._lanes:
            try:
                if listener is None:
                    lane.session.watch_cards()
                else:
                    lane.session.watch_cards(_for_lane(listener, lane.index))
            except Exception as exc:  # no pcscd, a reader gone: that lane says so, the rest work
                problems.append((lane.index, exc))
        return problems


def _for_lane(listener: LaneListener, index: int) -> Callable[[bool], None]:
    def presence(present: bool) -> None:
        listener(index, present)

    return presence
