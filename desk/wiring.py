"""The composition root: the one module that knows which reader, camera, face matcher, central
system, journal and result folder a desk uses.

    open_desk(DeskConfig())                                   training: everything simulated
    open_desk(DeskConfig(reader=ReaderSpec.parse("pcsc")))    a real desk on the facility config
    open_desk(DeskConfig(reader=…, more_readers=(…,)))        several readers: one lane each (desk/lanes.py)

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
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from desk.attestation import ReaderAttestor
from desk.export import ResultExporter, tidy_results
from desk.facility import FacilityCategory, FacilityConfig, load_config, save_config, with_visual_password
from desk.journal.settings import SqliteSettings, open_store
from desk.journal.store import JournalStore
from desk.lanes import Lane, Lanes
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


# A comma starts the next reader only where a kind follows it: a PC/SC reader's name may hold commas.
_NEXT_SPEC = re.compile(r",(?=(?:sim|pcsc|none)(?::|,|$))")
ALL_PCSC_READERS = "*"  # pcsc:* — every reader pcscd knows when the desk starts


@dataclass(frozen=True)
class ReaderSpec:
    """`sim[:CARD]` (the simulated reader, with that fixture card placed), `pcsc[:READER NAME]`, or
    `pcsc:*` (every PC/SC reader, one lane each)."""

    kind: Literal["sim", "pcsc", "none"]
    name: str | None = None

    @classmethod
    def parse_many(cls, texts: list[str] | str | None) -> list[ReaderSpec]:
        """Several readers: `--reader` given more than once, each value possibly a comma-separated
        list (`sim:adult,sim:child-5`). All of one kind: lanes share one world, training or real."""
        if texts is None or isinstance(texts, str):
            texts = [texts or "sim"]
        specs = [cls.parse(part) for text in texts for part in _NEXT_SPEC.split(text or "sim")]
        kinds = {spec.kind for spec in specs}
        if len(kinds) > 1:
            raise UnknownReaderSpec(
                "--reader に sim と pcsc（または none）を混ぜることはできません。訓練用のリーダーか実機のリーダーの"
                f"どちらかに揃えてください（指定値: {', '.join(map(str, specs))}）。"
            )
        if len(specs) > 1 and kinds == {"none"}:
            raise UnknownReaderSpec("--reader none は1つだけ指定できます。")
        if len(specs) > 1 and any(spec.name == ALL_PCSC_READERS for spec in specs):
            raise UnknownReaderSpec("--reader pcsc:* はすべてのリーダーを使います。ほかのリーダーと一緒には指定できません。")
        return specs

    @classmethod
    def parse(cls, text: str | None) -> ReaderSpec:
        kind, _, name = (text or "sim").partition(":")
        if kind == "sim" and name == ALL_PCSC_READERS:
            raise UnknownReaderSpec("sim:* は使えません。訓練用のリーダーは sim:カード名 を並べて指定してください（例: sim:adult,sim:child-5）。")
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
    # Further readers, one lane each after the first (`reader`); of the same kind as `reader`.
    more_readers: tuple[ReaderSpec, ...] = ()
    # Their cameras, in the same order; a lane without one has no 顔認証. Missing: a simulated
    # lane films its card's holder like the first; a PC/SC lane has none (one webcam, one lane).
    more_cameras: tuple[str | None, ...] = ()

    @property
    def training(self) -> bool:
        return self.reader.kind == "sim" or self.demo

    @property
    def readers(self) -> tuple[ReaderSpec, ...]:
        return (self.reader, *self.more_readers)

    def camera_of(self, lane: int) -> str | None:
        if lane == 0:
            return self.camera
        if lane - 1 < len(self.more_cameras):
            return self.more_cameras[lane - 1]
        return self.camera if self.reader.kind == "sim" else None


@dataclass
class Desk:
    """One assembled desk: the first lane's session and training controls (None on a real desk),
    every lane (one per reader; desk/lanes.py), and the face engine running in a child process,
    if any (the screen starts and stops it; the lanes share it)."""

    session: DeskSession
    training: TrainingControls | None = None
    face_engine: ProcessFaceMatcher | None = None
    _closers: list[Callable[[], None]] = field(default_factory=list)
    lanes: Lanes | None = None  # set by the assembly; None only for a Desk built by hand

    def all_lanes(self) -> Lanes:
        return self.lanes if self.lanes is not None else Lanes([Lane(0, "1", self.session, self.training)])

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
    readers: list[_LaneDevices] = []
    if config.reader.kind == "sim":
        for index, spec in enumerate(config.readers):
            if spec.name:
                load_card_fixture(spec.name)  # a clear error for an unknown card before anything starts
            # the first simulated reader keeps its name "sim" (screens and records have always said so)
            sim_transport = SimTransport(name="sim" if index == 0 else f"sim-{index + 1}")
            scenario = config.camera_of(index)
            camera = CardHolderCamera(sim_transport, scenario) if scenario is not None else None
            readers.append(_LaneDevices(sim_transport, camera, card_front_reader(sim_transport), spec.name))
    else:
        readers = [_LaneDevices(_pcsc(spec), _webcam(config.camera_of(i))) for i, spec in enumerate(_pcsc_specs(config))]
    desk = _assemble(config, readers, central, attestor, facility, clock)
    if config.reader.kind == "sim":
        lanes = []
        for lane, devices in zip(desk.all_lanes(), readers, strict=True):
            assert isinstance(devices.transport, SimTransport)
            holder = devices.camera if isinstance(devices.camera, CardHolderCamera) else None
            training = SimTraining(world, devices.transport, central, holder)
            lanes.append(Lane(lane.index, lane.label, lane.session, training))
            # Headless until a screen takes over the watch: a placed card is read at once.
            lane.session.watch_cards()
            if devices.card:
                training.place(devices.card)
        desk.lanes = Lanes(lanes)
        desk.training = lanes[0].training
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
    if config.reader.kind == "none":
        readers = [_LaneDevices(NoCardReader(), _webcam(config.camera))]
    else:
        readers = [_LaneDevices(_pcsc(spec), _webcam(config.camera_of(i))) for i, spec in enumerate(_pcsc_specs(config))]
    return _assemble(config, readers, central, attestor, facility, japan_now)


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


def _pcsc_specs(config: DeskConfig) -> tuple[ReaderSpec, ...]:
    """The PC/SC readers of the lanes: `pcsc:*` is every reader pcscd knows now, by its full name."""
    if config.reader.name != ALL_PCSC_READERS:
        return config.readers
    from reader.errors import NoReader
    from reader.pcsc import list_readers

    names = [status.name for status in list_readers()]  # PcscUnavailable: no pcscd, said as such
    if not names:
        raise NoReader("カードリーダーが接続されていません。USBケーブルを確認して、リーダーを挿し直してください。")
    return tuple(ReaderSpec("pcsc", name) for name in names)


def _webcam(camera: str | None) -> Camera | None:
    if camera is None:
        return None
    from reader.camera import OpenCvCamera

    return OpenCvCamera(camera)  # opened by the session on first use


# -- both -----------------------------------------------------------------------------------------


@dataclass
class _LaneDevices:
    """What one lane has of its own: its reader, its camera, what reads its card front, and the
    fixture card placed at start (simulated readers)."""

    transport: Transport
    camera: Camera | None = None
    check_b: Callable[[], str | None] | None = None
    card: str | None = None


def _assemble(
    config: DeskConfig,
    readers: list[_LaneDevices],
    central: CentralSystem,
    attestor: ReaderAttestor,
    facility: FacilityConfig,
    clock: Callable[[], dt.datetime],
) -> Desk:
    """One session per reader. Shared by the lanes: the facility config, the central system (the
    simulator locks only its nonce tables, never across a query), the terminal key, the result
    folder, the outbox (its own lock, and a file lock across processes) and the face engine: one
    child process, because two would only fight for the 2 cores of a desk PC and hold dlib's models
    twice — a lane's face match waits while another lane's runs (bench/lanes.py measures it), and
    nothing else does. Each lane opens its own journal connection: the journal serialises its
    callers with a lock held across a write's busy wait (up to 5 s on a locked SQLite file), which
    must not hold the other lane's card read."""
    face_engine: ProcessFaceMatcher | None = None
    if config.face_in_child_process and any(devices.camera is not None for devices in readers):
        from reader.face_process import ProcessFaceMatcher

        face_engine = ProcessFaceMatcher()
    # with a 資格確認端末's folders, card confirmations also go to its face/ as the reader's would
    exchange = facility.central.folder if facility.central.kind == "reqres" else None
    results = ResultExporter(facility.res_dir, face_dir=exchange / "face" if exchange is not None else None)
    outbox = Outbox(facility.outbox_path)  # local to the desk, whichever journal it waits for
    desk: Desk | None = None
    closers: list[Callable[[], None]] = []
    lanes: list[Lane] = []
    try:
        for index, devices in enumerate(readers):
            journal = open_store(facility.journal)  # this desk's SQLite file, or the facility's PostgreSQL
            closers.append(journal.close)
            matcher: FaceMatcher | None = None
            if devices.camera is not None:
                if face_engine is not None:
                    matcher = face_engine
                else:
                    from reader.face import DlibFaceMatcher

                    matcher = DlibFaceMatcher()
            ports = DeskPorts(
                transport=devices.transport, central=central, attestor=attestor, journal=journal,
                facility=facility, camera=devices.camera, matcher=matcher, clock=clock,
                results=results, outbox=outbox,
            )
            if devices.check_b is not None:
                ports.check_b = devices.check_b
            if config.training:
                # the count the virtual card carries, on whichever reader it lies (a real card in demo
                # mode has none: the journal's mirror counts for it, as on a facility's desk)
                from reader.face_counter import CardFaceCounter

                ports.face_lock = CardFaceCounter(_transport_of(ports))
            session = DeskSession(ports)
            if index == 0:
                _start_up(session, journal, results, facility)
            # staff know a PC/SC reader by its name ("Virtual PCD 00 01"), the kind is the same for all
            lanes.append(Lane(index, devices.transport.name.removeprefix("pcsc:"), session))
        desk = Desk(lanes[0].session, face_engine=face_engine, lanes=Lanes(lanes))
    except BaseException:
        close_all(closers)  # a desk that cannot start holds nothing open
        raise
    for devices in readers:
        desk._closers.append(devices.transport.close)
    desk._closers += closers
    for devices in readers:
        if devices.camera is not None:
            desk._closers.append(devices.camera.close)
    return desk


def _transport_of(ports: DeskPorts) -> Callable[[], Transport]:
    """The lane's transport as it is when asked (a test or a tracer may swap it)."""
    return lambda: ports.transport


def _start_up(session: DeskSession, journal: JournalStore, results: ResultExporter, facility: FacilityConfig) -> None:
    """Put right what an earlier run left, once per desk (on its first lane's session)."""
    ports = session.ports
    # writes a previous run had to keep in the outbox go to the journal before anything new
    waiting = len(ports.outbox.pending()) if ports.outbox is not None else 0
    session.recorder.flush()
    session.started.outbox_written = waiting - session.recorder.waiting
    session.started.tidied = tidy_results(facility.res_dir, keep_days=facility.res_retention_days)
    # answers recorded by an earlier run whose files never reached the folder (a crash, a full disk)
    session.started.owed_files_written = deliver_owed(journal, results)


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
