"""The composition root: the one module that knows which reader, camera, face matcher, central
system, journal and result folder a desk uses.

    open_desk(DeskConfig())                                   training: everything simulated
    open_desk(DeskConfig(reader=ReaderSpec.parse("pcsc")))    a real desk on the facility config

A **training desk** (`sim` reader, or any reader with `demo`) keeps all its state — virtual cards'
counters, the simulated JPKI CA, its own facility config, journal and result folder — under the
sim folder, on the simulated central system, so nothing of training reaches a facility's journal
or statistics. A **real desk** (`pcsc` reader) runs on the facility set up with
`desk facility init`: its journal, result folder, 目視 password and facility type, and the central
system that config names (today only the simulator exists).

Everything below `desk/` stays free of sim/ and of hardware libraries; only this module imports
both sim and reader.pcsc, lazily, so `desk` starts fast.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from desk.attestation import ReaderAttestor
from desk.export import ResultExporter, tidy_results
from desk.facility import FacilityCategory, FacilityConfig, load_config, save_config, with_visual_password
from desk.journal.settings import SqliteSettings, open_store
from desk.outbox import Outbox
from desk.ports import JST, DeskPorts, japan_now
from desk.results import deliver_owed
from desk.session import DeskSession
from desk.training import TrainingControls
from reader.no_reader import NoCardReader
from reader.staff_facing import UsageError

if TYPE_CHECKING:
    from desk.central import CentralSystem
    from desk.exchange.reqres_central import ReqResCentral
    from reader.camera import Camera
    from reader.face import FaceMatcher
    from reader.face_process import ProcessFaceMatcher
    from reader.transport import Transport
    from sim.training import SimTraining

__all__ = [
    "DEFAULT_SIM_CARD",
    "SIM_INSTITUTION_CODE",
    "SIM_VISUAL_PASSWORD",
    "Desk",
    "DeskConfig",
    "ReaderSpec",
    "UnknownReaderSpec",
    "open_desk",
    "card_front_reader",
    "release_face_lock",
    "check_population",
    "training_config_path",
    "open_transport",
    "training_desk",
]

DEFAULT_SIM_CARD = "adult"
# The simulated facility's 目視 password, for training only (a real facility sets its own with
# `desk facility set-visual-password`; it is stored only as a scrypt hash).
SIM_VISUAL_PASSWORD = "mokushi-2026"
SIM_INSTITUTION_CODE = "1312345678"


class UnknownReaderSpec(UsageError):
    title = "カードリーダーの指定が不正です"


@dataclass(frozen=True)
class ReaderSpec:
    """`sim[:CARD]` (the simulated reader, with that fixture card placed) or `pcsc[:READER NAME]`."""

    kind: Literal["sim", "pcsc", "none"]
    name: str | None = None

    @classmethod
    def parse(cls, text: str | None) -> ReaderSpec:
        kind, _, name = (text or "sim").partition(":")
        if kind == "sim":
            return cls("sim", name or None)
        if kind == "pcsc":
            return cls("pcsc", name or None)
        if kind == "none":  # the facility's desk without a reader: numbers queries and 一括照会 only
            return cls("none")
        raise UnknownReaderSpec(f"--reader は sim[:カード名] または pcsc[:リーダー名] で指定してください（指定値: {text}）。")

    def __str__(self) -> str:
        return f"{self.kind}:{self.name}" if self.name else self.kind


@dataclass(frozen=True)
class DeskConfig:
    reader: ReaderSpec = field(default_factory=lambda: ReaderSpec("sim", DEFAULT_SIM_CARD))
    # sim reader: the camera scenario ("holder", "other" …); pcsc: a webcam index or device path.
    # None: no camera (no 顔認証).
    camera: str | None = "holder"
    # A real reader on the training world: a real card's chip is accepted by the simulated central
    # system as a demo (marked so everywhere).
    demo: bool = False
    sim_dir: Path | None = None  # the training world's folder (default: ~/.local/state/madoguchi/sim)
    facility_config: Path | None = None  # a real desk's config (default: $MADOGUCHI_CONFIG, then ~/.config)
    # The day confirmations are made on, training only: None is the fixtures' reference date on the
    # simulated reader and the real clock in demo mode. A facility desk always runs on the real clock.
    today: dt.date | None = None
    central_mode: str = "ok"
    population: Path | None = None  # the simulated central system's population file
    # Match faces in a child process (the screen: dlib holds the GIL and would freeze it).
    face_in_child_process: bool = False

    @property
    def training(self) -> bool:
        return self.reader.kind == "sim" or self.demo


@dataclass
class Desk:
    """One assembled desk: the session, the training controls (None on a real desk), and the face
    engine running in a child process, if any (the screen starts and stops it)."""

    session: DeskSession
    training: TrainingControls | None = None
    face_engine: ProcessFaceMatcher | None = None
    _closers: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        close_all(self._closers)


def close_all(closers: list[Callable[[], None]]) -> None:
    """Close in the reverse order of opening, once."""
    for close in reversed(closers):
        close()
    closers.clear()


def open_desk(config: DeskConfig) -> Desk:
    """Assemble a desk. Raises StaffFacingError subclasses (FacilityError, FixtureError, …) with a
    Japanese title and message for anything missing or invalid."""
    load_rule_tables()
    return _training_desk(config) if config.training else _facility_desk(config)


def load_rule_tables() -> None:
    """The dated rules (documents, 加算 schemes) loaded and checked before the first patient, so a
    damaged table stops the desk at start rather than in the middle of a reception."""
    from desk.documents import rules
    from desk.kasan import periods

    rules()
    periods()


def training_config_path(sim_dir: Path | None = None) -> Path:
    """The training desk's own facility config (its journal, result folder, 目視 password)."""
    from sim.world import default_sim_dir

    return (sim_dir or default_sim_dir()) / "facility.json"


def check_population(path: Path) -> None:
    """A population file named on the command line, checked before anything runs (UsageError)."""
    from sim.fixtures import FixtureError
    from sim.population import load_population

    try:
        load_population(path)
    except FixtureError as exc:
        raise UsageError(f"--population: {exc}") from exc


def training_desk(
    card: str | None = DEFAULT_SIM_CARD,
    *,
    camera: str | None = "holder",
    central: str = "ok",
    today: dt.date | None = None,
    base_dir: Path | None = None,
    population: Path | None = None,
) -> tuple[DeskSession, SimTraining]:
    """A training desk with `card` placed (None: an empty reader), for tests, benchmarks and scripts."""
    config = DeskConfig(  # today None: the fixtures' reference date (_training_desk)
        reader=ReaderSpec("sim", card), camera=camera, central_mode=central, today=today,
        sim_dir=base_dir, population=population,
    )
    desk = _training_desk(config)
    from sim.training import SimTraining

    assert isinstance(desk.training, SimTraining)
    return desk.session, desk.training


def open_transport(spec: ReaderSpec, sim_dir: Path | None = None) -> Transport:
    """The reader alone (`desk card …`): the simulated one with the spec's card placed, or PC/SC."""
    if spec.kind == "pcsc":
        return _pcsc(spec)
    from sim.card import SimTransport
    from sim.world import SimWorld

    card = SimWorld(sim_dir).card(spec.name) if spec.name else None
    return SimTransport(card, name=str(spec))


def release_face_lock(spec: ReaderSpec, sim_dir: Path | None = None) -> int:
    """Training's municipality window: the virtual card's count of failed face authentications
    back to 0. Returns the count it had. A real card's lock lives on the card and only the
    municipality releases it: refused (UsageError)."""
    if spec.kind != "sim" or not spec.name:
        raise UsageError(
            "顔認証のロック（10回連続の失敗）はカードに記録され、住民票のある市区町村の窓口でしか解除できません。"
            "ここで解除できるのは訓練用の仮想カード（--reader sim:カード名）だけです。"
        )
    from sim.fixtures import load_card_fixture
    from sim.world import SimWorld

    load_card_fixture(spec.name)  # an unknown card: its own clear error
    world = SimWorld(sim_dir)
    before = world.face_failures(spec.name)
    world.release_face_lock(spec.name)
    return before


# -- training -------------------------------------------------------------------------------------


def _training_desk(config: DeskConfig) -> Desk:
    from sim.camera import CardHolderCamera
    from sim.card import SimTransport
    from sim.central import SimCentralSystem
    from sim.fixtures import REFERENCE_DATE, load_card_fixture
    from sim.training import SimTraining
    from sim.world import SimWorld

    world = SimWorld(config.sim_dir)
    directory = world.directory
    # Training runs on the fixtures' reference date unless told otherwise, so every fixture card
    # shows its case (cert-expired-4m past its grace, cert-expiring-6w with its renewal alert …);
    # a real reader in demo mode runs on today.
    today = config.today if config.today is not None or config.demo else REFERENCE_DATE
    clock = _clock(today)
    attestor = ReaderAttestor(directory / "terminal-key.pem")
    central = SimCentralSystem(
        ca=world.ca, terminal_public_key=attestor.public_key, population=config.population, clock=clock,
        accept_real_cards_as_demo=config.demo,
    )
    central.set_mode(config.central_mode)
    facility = _training_facility(directory)
    transport: Transport
    camera: Camera | None = None
    sim_transport: SimTransport | None = None
    if config.reader.kind == "sim":
        if config.reader.name:
            load_card_fixture(config.reader.name)  # a clear error for an unknown card before anything starts
        transport = sim_transport = SimTransport(name="sim")
        if config.camera is not None:
            camera = CardHolderCamera(sim_transport, config.camera)
    else:
        transport = _pcsc(config.reader)
        camera = _webcam(config.camera)
    desk = _assemble(config, transport, camera, central, attestor, facility, clock, check_b=card_front_reader(sim_transport))
    if sim_transport is not None:
        training = SimTraining(world, sim_transport, central, camera if isinstance(camera, CardHolderCamera) else None)
        desk.training = training
        # Headless until a screen takes over the watch: a placed card is read at once.
        desk.session.watch_cards()
        if config.reader.name:
            training.place(config.reader.name)
    return desk


def _training_facility(directory: Path) -> FacilityConfig:
    path = training_config_path(directory)
    if path.exists():
        return load_config(path)
    facility = FacilityConfig(
        medical_institution_code=SIM_INSTITUTION_CODE, name="シミュレーション診療所", facility_type=1,
        category=FacilityCategory.MEDICAL_CLINIC, prefecture="東京都",
        res_dir=directory / "res", journal=SqliteSettings(path=directory / "journal.sqlite3"),
    )
    facility = with_visual_password(facility, SIM_VISUAL_PASSWORD)
    save_config(facility, path)
    return facility


def card_front_reader(transport: object) -> Callable[[], str | None] | None:
    """What reads 照合番号B off the card front: on the simulated reader the printed card is known
    (as a face-auth reader's camera reads it); None for any other reader (staff type it)."""
    from sim.card import SimTransport

    if not isinstance(transport, SimTransport):
        return None
    sim = transport

    def check_b() -> str | None:
        card = sim.card
        return card.fixture.check_b if card is not None else None

    return check_b


# -- a real desk ----------------------------------------------------------------------------------


def _facility_desk(config: DeskConfig) -> Desk:
    facility = load_config(config.facility_config)
    attestor = ReaderAttestor(facility.desk_dir / "terminal-key.pem")
    central = facility_central(facility, attestor.public_key)
    transport: Transport = NoCardReader() if config.reader.kind == "none" else _pcsc(config.reader)
    return _assemble(config, transport, _webcam(config.camera), central, attestor, facility, japan_now, check_b=None)


def facility_central(facility: FacilityConfig, terminal_public_key: object = None) -> CentralSystem:
    """The central system the facility config names: the simulator, or a 資格確認端末's shared
    folders (numbers queries and 一括照会; card confirmations stay with the reader)."""
    settings = facility.central
    if settings.kind == "reqres":
        from desk.exchange.reqres_central import ReqResCentral

        assert settings.folder is not None  # the config's validator
        central = ReqResCentral(settings.folder, encoding=settings.encoding, timeout_s=settings.timeout_s)
        central.sweep()  # late or duplicate answers to this desk's earlier requests
        return central
    from sim.central import SimCentralSystem
    from sim.jpki import SimJpkiCa

    central_dir = settings.sim_dir or facility.desk_dir / "central-sim"
    return SimCentralSystem(
        ca=SimJpkiCa(central_dir / "keys"), terminal_public_key=terminal_public_key, population=None,  # type: ignore[arg-type]
        clock=japan_now, accept_real_cards_as_demo=settings.demo,
    )


def _pcsc(spec: ReaderSpec) -> Transport:
    from reader.pcsc import PcscTransport

    return PcscTransport(spec.name)


def _webcam(camera: str | None) -> Camera | None:
    if camera is None:
        return None
    from reader.camera import OpenCvCamera

    return OpenCvCamera(camera)  # opened by the session on first use


# -- both -----------------------------------------------------------------------------------------


def _assemble(
    config: DeskConfig,
    transport: Transport,
    camera: Camera | None,
    central: CentralSystem,
    attestor: ReaderAttestor,
    facility: FacilityConfig,
    clock: Callable[[], dt.datetime],
    *,
    check_b: Callable[[], str | None] | None,
) -> Desk:
    matcher: FaceMatcher | None = None
    face_engine: ProcessFaceMatcher | None = None
    if camera is not None:
        if config.face_in_child_process:
            from reader.face_process import ProcessFaceMatcher

            matcher = face_engine = ProcessFaceMatcher()
        else:
            from reader.face import DlibFaceMatcher

            matcher = DlibFaceMatcher()
    journal = open_store(facility.journal)  # this desk's SQLite file, or the facility's PostgreSQL
    # with a 資格確認端末's folders, card confirmations also go to its face/ as the reader's would
    exchange = facility.central.folder if facility.central.kind == "reqres" else None
    results = ResultExporter(facility.res_dir, face_dir=exchange / "face" if exchange is not None else None)
    ports = DeskPorts(
        transport=transport, central=central, attestor=attestor, journal=journal,
        facility=facility, camera=camera, matcher=matcher, clock=clock,
        results=results,
        outbox=Outbox(facility.outbox_path),  # local to the desk, whichever journal it waits for
    )
    if check_b is not None:
        ports.check_b = check_b
    if config.training:
        # the count the virtual card carries, on whichever reader it lies (a real card in demo
        # mode has none: the journal's mirror counts for it, as on a facility's desk)
        from reader.face_counter import CardFaceCounter

        ports.face_lock = CardFaceCounter(lambda: ports.transport)
    session = DeskSession(ports)
    try:
        # writes a previous run had to keep in the outbox go to the journal before anything new
        waiting = len(ports.outbox.pending()) if ports.outbox is not None else 0
        session.recorder.flush()
        session.started.outbox_written = waiting - session.recorder.waiting
        session.started.tidied = tidy_results(facility.res_dir, keep_days=facility.res_retention_days)
        # answers recorded by an earlier run whose files never reached the folder (a crash, a full disk)
        session.started.owed_files_written = deliver_owed(journal, results)
    except BaseException:
        journal.close()  # a desk that cannot start holds nothing open
        raise
    desk = Desk(session, face_engine=face_engine)
    desk._closers += [transport.close, journal.close]
    if camera is not None:
        desk._closers.append(camera.close)
    return desk


def _clock(today: dt.date | None) -> Callable[[], dt.datetime]:
    if today is None:
        return japan_now

    def clock() -> dt.datetime:
        # The fixed day with the running time of day: ordering and 24-hour consent still work.
        return dt.datetime.combine(today, japan_now().time(), JST)

    return clock


# -- 一括照会 --------------------------------------------------------------------------------------


@dataclass
class BulkDesk:
    """What `desk bulk` needs: the terminal's folders to ask through, who asks, and today."""

    central: ReqResCentral
    facility: FacilityConfig
    today: dt.date
    _closers: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        close_all(self._closers)


def open_bulk(config: DeskConfig) -> BulkDesk:
    """The 一括照会 road. A facility whose config names a 資格確認端末's shared folder asks through
    it; otherwise (training, or a facility on the simulator) the simulated terminal serves a
    folder pair of its own, so the same files cross the same code either way."""
    from desk.exchange.reqres_central import ReqResCentral

    if not config.training:
        facility = load_config(config.facility_config)
        if facility.central.kind == "reqres":
            central = facility_central(facility)
            assert isinstance(central, ReqResCentral)
            return BulkDesk(central, facility, japan_now().date())
        return _simulated_terminal(facility, facility.desk_dir / "exchange-sim", japan_now().date(), None)
    from sim.fixtures import REFERENCE_DATE
    from sim.world import SimWorld

    world = SimWorld(config.sim_dir)
    today = config.today or REFERENCE_DATE
    return _simulated_terminal(_training_facility(world.directory), world.directory / "exchange", today, config)


def _simulated_terminal(facility: FacilityConfig, folder: Path, today: dt.date, config: DeskConfig | None) -> BulkDesk:
    from desk.exchange.reqres_central import ReqResCentral
    from sim.central import SimCentralSystem
    from sim.renkei import SimRenkeiApp

    central = SimCentralSystem.from_fixtures(population_path=config.population if config else None)
    if config is not None:
        central.set_mode(config.central_mode)
    app = SimRenkeiApp(folder, central, poll_s=0.005, today=lambda: today).start()
    desk = BulkDesk(ReqResCentral(folder, poll_s=0.005, timeout_s=30.0), facility, today)
    desk._closers.append(app.stop)
    return desk
