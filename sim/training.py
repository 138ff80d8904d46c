"""The simulated world a training desk runs in, and the controls the training screen uses.

sim/ supplies devices and the simulated central system; desk/wiring.py puts the desk together.
`SimTraining` implements desk.training.TrainingControls: a card is placed by inserting it into
the simulated reader, which reports it to the desk exactly as a real reader would.
"""

from __future__ import annotations

from sim.camera import SCENARIOS, CardHolderCamera
from sim.card import SimTransport
from sim.central import SimCentralSystem
from sim.fixtures import FaultsFixture, FixtureError, UnknownFixture, list_card_fixtures, load_card_fixture
from sim.world import SimWorld

__all__ = ["SimTraining"]


class SimTraining:
    def __init__(
        self, world: SimWorld, transport: SimTransport, central: SimCentralSystem, camera: CardHolderCamera | None
    ) -> None:
        self.world = world
        self.transport = transport
        self.central = central
        self.camera = camera

    @property
    def camera_scenario(self) -> str | None:
        return self.camera.scenario if self.camera is not None else None

    def cards(self) -> list[tuple[str, str]]:
        out = []
        for name in list_card_fixtures():
            try:
                out.append((name, load_card_fixture(name).description))
            except FixtureError as exc:
                out.append((name, f"（読めません: {exc.title}）"))
        return out

    def camera_scenarios(self) -> list[tuple[str, str]]:
        return list(SCENARIOS.items()) if self.camera is not None else []

    def current_card(self) -> str | None:
        card = self.transport.card
        return card.fixture.name if card is not None else None

    def place(self, card: str, faults: FaultsFixture | None = None) -> None:
        """Put a fixture card on the reader (the previous one is taken away first)."""
        virtual = self.world.card(card)  # an unknown card fails before the one on the reader moves
        if faults is not None:
            virtual.faults = faults
        if self.transport.card is not None:
            self.transport.remove()
        self.transport.insert(virtual)

    def remove(self) -> None:
        self.transport.remove()

    def set_camera(self, scenario: str) -> None:
        """What stands in front of the camera: the holder (in some light), someone else, nobody…"""
        if self.camera is not None:
            if scenario not in SCENARIOS:
                raise UnknownFixture(f"カメラのシナリオ「{scenario}」はありません（あるもの: {', '.join(SCENARIOS)}）")
            self.camera.scenario = scenario

    def set_central(self, mode: str) -> None:
        self.central.set_mode(mode)

    def reset_card(self, card: str) -> None:
        self.world.reset_card(card)

    def release_face_lock(self, card: str) -> None:
        self.world.release_face_lock(card)
