"""The simulated world in one place: the JPKI CA, the virtual cards' chip state, and (later) the
central system, all rooted in one directory so separate processes agree on them."""

from __future__ import annotations

import os
from pathlib import Path

from sim.card import FACE_FAILURES_KEY, VirtualCard
from sim.card_state import CardStateStore
from sim.fixtures import load_card_fixture
from sim.jpki import SimJpkiCa

__all__ = ["SimWorld", "default_sim_dir"]


def default_sim_dir() -> Path:
    base = os.environ.get("MADOGUCHI_SIM_DIR")
    if base:
        return Path(base)
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "madoguchi" / "sim"


class SimWorld:
    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or default_sim_dir()
        self._ca: SimJpkiCa | None = None
        self.card_state = CardStateStore(self.directory / "cards")

    @property
    def ca(self) -> SimJpkiCa:
        if self._ca is None:  # RSA keys are made on first use, then cached
            self._ca = SimJpkiCa(self.directory / "keys")
        return self._ca

    def card(self, fixture: str) -> VirtualCard:
        return VirtualCard(load_card_fixture(fixture), self.ca, self.card_state)

    def face_failures(self, fixture: str) -> int:
        """The consecutive failed face authentications the card carries now."""
        return self.card(fixture).face_failures()

    def release_face_lock(self, fixture: str) -> None:
        """What the municipality's window does for a card locked by 10 failed face authentications:
        the card's count back to 0 (its PIN counters stay as they are). Never done by a desk."""
        f = load_card_fixture(fixture)
        card_id = f"{f.name}-{f.certificate.serial}"
        counters = self.card_state.load(card_id)
        if counters.pop(FACE_FAILURES_KEY, 0):
            self.card_state.save(card_id, counters)

    def reset_card(self, fixture: str) -> None:
        """Put a card's PIN counters back to its fixture values (training: a fresh card)."""
        f = load_card_fixture(fixture)
        self.card_state.reset(f"{f.name}-{f.certificate.serial}")
