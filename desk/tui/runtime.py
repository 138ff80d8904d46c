"""Process-wide interpreter settings the desk changes while it runs, so the screen stays responsive.

Garbage collection: Textual, pydantic, cryptography and the session leave well over 100,000
long-lived objects, and a confirmation allocates tens of thousands more. A full (generation 2)
collection walks them all while holding the GIL: 140-250 ms before anything was frozen, still
40-110 ms in the middle of a confirmation afterwards, a frozen screen while the receptionist is
typing. So while the desk runs, full collections happen only at quiet moments the screen chooses
(`settle_heap`: ready, between patients, idle). The youngest generation is collected after
10,000 net allocations instead of 700: drawing one frame allocates tens of thousands of short-lived
objects that reference counting frees anyway, and the collector ran 10-20 times per frame, with a
2-5 ms middle-generation pass in most frames; the longest stalls fell by 5-10 ms.

Thread switching: card I/O, the central query and the journal run in worker threads, and while
one runs Python the UI thread waits for the GIL up to the switch interval at every wake-up
(5 ms by default; a busy worker stretched a 5 ms event-loop tick to 15 ms). At 1 ms the UI
thread gets it back within about a millisecond.
"""

from __future__ import annotations

import gc
import sys

__all__ = ["DeskRuntime", "settle_heap"]

# Generation 2 is collected automatically once this many generation-1 collections have happened
# (CPython's default is 10); this many is never reached between two quiet moments.
_NEVER = 1_000_000
_YOUNG = 10_000  # CPython's default is 700
_SWITCH_INTERVAL = 0.001  # seconds


def settle_heap() -> None:
    """Collect everything once, then exempt what is alive now from later full collections.

    Frozen objects are still freed by reference counting; only cycles among them wait.
    """
    gc.collect()
    gc.freeze()


class DeskRuntime:
    """`start` applies the settings while the app runs; `stop` puts back what was there before."""

    def __init__(self) -> None:
        self._saved: tuple[tuple[int, int, int], float] | None = None

    def start(self) -> None:
        if self._saved is None:
            self._saved = (gc.get_threshold(), sys.getswitchinterval())
            _, middle, _ = self._saved[0]
            gc.set_threshold(_YOUNG, middle, _NEVER)
            sys.setswitchinterval(_SWITCH_INTERVAL)

    def stop(self) -> None:
        if self._saved is not None:
            thresholds, interval = self._saved
            gc.set_threshold(*thresholds)
            sys.setswitchinterval(interval)
            self._saved = None
