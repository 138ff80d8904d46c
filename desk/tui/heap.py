"""When Python's cyclic garbage collector may pause the desk.

Textual, pydantic, cryptography and the session leave well over 100,000 long-lived objects, and a
confirmation allocates tens of thousands more. A full (generation 2) collection walks them all
while holding the GIL: 140-250 ms before anything was frozen, still 40-110 ms in the middle of a
confirmation afterwards, a frozen screen while the receptionist is typing. So while the desk runs,
full collections happen only at quiet moments the screen chooses (ready, between patients, idle),
and the young generations (2-7 ms each) keep running as usual.
"""

from __future__ import annotations

import gc

__all__ = ["FullCollections", "settle_heap"]

# Generation 2 is collected automatically once this many generation-1 collections have happened
# (CPython's default is 10); this many is never reached between two quiet moments.
_NEVER = 1_000_000


def settle_heap() -> None:
    """Collect everything once, then exempt what is alive now from later full collections.

    Frozen objects are still freed by reference counting; only cycles among them wait.
    """
    gc.collect()
    gc.freeze()


class FullCollections:
    """Holds automatic full collections off while the desk runs; `restore` gives them back."""

    def __init__(self) -> None:
        self._saved: tuple[int, int, int] | None = None

    def defer(self) -> None:
        if self._saved is None:
            self._saved = gc.get_threshold()
            young, middle, _ = self._saved
            gc.set_threshold(young, middle, _NEVER)

    def restore(self) -> None:
        if self._saved is not None:
            gc.set_threshold(*self._saved)
            self._saved = None
