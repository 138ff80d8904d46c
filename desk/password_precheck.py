"""The 目視 password checked while it is typed, so Enter does not wait for scrypt.

The facility password is kept as a scrypt hash (n=2^14, r=8): one check costs 65–85 ms on 2 cores,
which alone would take the 目視 step past the desk's 100 ms per key. So each change of the
password field asks for a check in the background, the latest value wins, and the submit takes the
finished answer for exactly the submitted text (or waits for the one under way, or computes it).

Only the match is computed ahead. The lockout counts tries when the staff submits
(`desk.facility.check_visual_password`), so a check ahead is never a try, and nothing it finds is
shown: typing reveals nothing a submit would not. The typed text lives here only as long as the
input field holds it (`clear` on submit and for the next patient).
"""

from __future__ import annotations

import hmac
import threading
from collections.abc import Callable

__all__ = ["PasswordPrecheck"]


class PasswordPrecheck:
    def __init__(self, verify: Callable[[str], bool]) -> None:
        self._verify = verify
        self._changed = threading.Condition()
        self._wanted: str | None = None  # the latest text typed, not yet checked
        self._running: str | None = None  # the text being checked now
        self._answer: tuple[str, bool] | None = None  # the last text checked and whether it matched
        self._worker: threading.Thread | None = None
        self._generation = 0  # moved on by `clear`, so a check finishing after it keeps nothing

    def typed(self, candidate: str) -> None:
        """The field now holds `candidate`: check it in the background (an empty field is not checked)."""
        with self._changed:
            self._wanted = candidate or None
            if self._wanted is not None and self._worker is None:
                self._worker = threading.Thread(target=self._work, name="visual-password-precheck", daemon=True)
                self._worker.start()

    def verify(self, candidate: str) -> bool:
        """Whether `candidate` matches: the answer found ahead when it is for this very text."""
        with self._changed:
            while self._running is not None and _same(self._running, candidate):
                self._changed.wait()
            if self._answer is not None and _same(self._answer[0], candidate):
                return self._answer[1]
            if self._wanted is not None and _same(self._wanted, candidate):
                self._wanted = None  # still queued behind an older text: checked here instead, once
        return self._verify(candidate)

    def clear(self) -> None:
        """Forget the typed text and any answer (submitted, or the next patient)."""
        with self._changed:
            self._wanted = None
            self._answer = None
            self._generation += 1

    def _work(self) -> None:
        while True:
            with self._changed:
                candidate = self._wanted
                if candidate is None:
                    self._worker = None
                    return
                self._wanted = None
                self._running = candidate
                generation = self._generation
            try:
                matched: bool | None = self._verify(candidate)
            except Exception:  # a broken stored hash: the submit's own check reports it to the staff
                matched = None
            with self._changed:
                self._running = None
                kept = matched is not None and generation == self._generation
                self._answer = (candidate, bool(matched)) if kept else None
                self._changed.notify_all()


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8", "surrogatepass"), b.encode("utf-8", "surrogatepass"))
