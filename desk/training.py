"""What the training screen may change in a simulated world, as a protocol: the screen sees only
this, never the simulator (sim/training.py implements it; desk/wiring.py hands it over)."""

from __future__ import annotations

from typing import Protocol

__all__ = ["TrainingControls"]


class TrainingControls(Protocol):
    @property
    def camera_scenario(self) -> str | None:
        """What the camera sees now; None when this training desk has no camera."""
        ...

    def cards(self) -> list[tuple[str, str]]:
        """The cards a trainer can place: (name, description)."""
        ...

    def camera_scenarios(self) -> list[tuple[str, str]]:
        """What the camera can be made to see: (scenario, description); empty without a camera."""
        ...

    def current_card(self) -> str | None:
        """The card on the simulated reader, if any."""
        ...

    def place(self, card: str) -> None:
        """Put a card on the reader, as a patient would (the previous one is taken away first).
        The reader reports it to the desk like any card."""
        ...

    def remove(self) -> None:
        """Take the card off the reader."""
        ...

    def set_camera(self, scenario: str) -> None: ...

    def set_central(self, mode: str) -> None: ...

    def reset_card(self, card: str) -> None:
        """A fresh card: its PIN counters back to the fixture's values."""
        ...

    def release_face_lock(self, card: str) -> None:
        """The municipality's window: the card's count of failed face authentications back to 0
        (the lock after 10 lives on the card; no desk can release it)."""
        ...
