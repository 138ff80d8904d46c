"""A complete desk on the simulated world: virtual reader and card, simulated camera and central
system, a journal and a facility config under one directory. Used by `desk` in sim mode (training),
`desk check`, the TUI tests and the benchmarks."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from desk.session import JST, DeskPorts, DeskSession
from sim.card import SimTransport
from sim.fixtures import REFERENCE_DATE, FaultsFixture, load_card_fixture
from sim.world import SimWorld

__all__ = ["SimControls", "make_sim_session", "SIM_VISUAL_PASSWORD", "SIM_INSTITUTION_CODE"]

# The simulated facility's 目視 password, for training only (a real facility sets its own with
# `desk facility set-visual-password`; it is stored only as a scrypt hash).
SIM_VISUAL_PASSWORD = "mokushi-2026"
SIM_INSTITUTION_CODE = "1312345678"


@dataclass
class SimControls:
    """What the training scenario picker and the tests change in the simulated world."""

    world: SimWorld
    transport: SimTransport
    central: object
    camera_scenario: str | None  # None: the desk has no camera
    session: DeskSession

    @property
    def camera(self):
        return self.session.ports.camera

    def place(self, card: str, faults: FaultsFixture | None = None) -> None:
        """Put a fixture card on the reader (the previous one is taken away first)."""
        if self.transport.card is not None:
            self.remove()
        virtual = self.world.card(card)
        if faults is not None:
            virtual.faults = faults
        self.transport.insert(virtual)
        self._point_camera()
        self.session.on_card_inserted()

    def remove(self) -> None:
        self.transport.remove()
        self.session.on_card_removed()

    def set_camera(self, scenario: str) -> None:
        """What stands in front of the camera: the holder (in some light), someone else, nobody…"""
        if self.camera_scenario is not None:
            self.camera_scenario = scenario
            self._point_camera()

    def _point_camera(self) -> None:
        # The simulated camera films the holder of whichever card is on the reader.
        if self.camera_scenario is None:
            return
        from sim.camera import SimCamera

        card = self.transport.card
        holder = card.fixture.holder.photo if card is not None else "astronaut"
        if self.camera is not None:
            self.camera.close()
        self.session.ports.camera = SimCamera(self.camera_scenario, holder)

    def set_central(self, mode: str) -> None:
        self.central.set_mode(mode)

    def reset_card(self, card: str) -> None:
        self.world.reset_card(card)


def _clock(today: dt.date | None):
    if today is None:
        return lambda: dt.datetime.now(JST)

    def clock() -> dt.datetime:
        # The fixed day with the running time of day: ordering and 24-hour consent still work.
        return dt.datetime.combine(today, dt.datetime.now(JST).time(), JST)

    return clock


def make_sim_session(
    card: str | None = "adult",
    *,
    camera_scenario: str = "holder",
    central: str = "ok",
    today: dt.date | None = REFERENCE_DATE,
    base_dir: Path | None = None,
    population: Path | None = None,
    with_camera: bool = True,
) -> tuple[DeskSession, SimControls]:
    from desk.attestation import ReaderAttestor
    from desk.export import ResultExporter
    from desk.facility import FacilityCategory, FacilityConfig, load_config, save_config, with_visual_password
    from desk.journal import Journal
    from sim.central import SimCentralSystem

    world = SimWorld(base_dir)
    directory = world.directory
    attestor = ReaderAttestor(directory / "terminal-key.pem")
    central_system = SimCentralSystem(
        ca=world.ca, terminal_public_key=attestor.public_key, population=population, clock=_clock(today)
    )
    central_system.set_mode(central)
    facility_path = directory / "facility.json"
    if facility_path.exists():
        facility: FacilityConfig = load_config(facility_path)
    else:
        facility = FacilityConfig(
            medical_institution_code=SIM_INSTITUTION_CODE, name="シミュレーション診療所", facility_type=1,
            category=FacilityCategory.MEDICAL_CLINIC, prefecture="東京都",
            res_dir=directory / "res", journal_path=directory / "journal.sqlite3",
        )
        facility = with_visual_password(facility, SIM_VISUAL_PASSWORD)
        save_config(facility, facility_path)
    journal = Journal(facility.journal_path)
    transport = SimTransport(name="sim")
    matcher = None
    if with_camera:
        from reader.face import DlibFaceMatcher

        matcher = DlibFaceMatcher()

    def check_b() -> str | None:
        # A face-auth reader reads 照合番号B off the card front; the simulator knows the printed card.
        return transport.card.fixture.check_b if transport.card is not None else None

    exporter = ResultExporter(facility.res_dir)
    ports = DeskPorts(
        transport=transport, central=central_system, attestor=attestor, journal=journal, facility=facility,
        camera=None, matcher=matcher, check_b=check_b, clock=_clock(today), exporter=exporter.write,
    )
    session = DeskSession(ports)
    controls = SimControls(world, transport, central_system, camera_scenario if with_camera else None, session)
    controls._point_camera()
    if card is not None:
        load_card_fixture(card)  # a clear error for an unknown card before anything starts
        controls.place(card)
    return session, controls
