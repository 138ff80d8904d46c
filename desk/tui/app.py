"""The desk app: one reception screen plus the screens it opens. `make_app` is the one factory the
CLI, the training mode and the tests use."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable
from typing import Any

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from desk.tui.runtime import DeskRuntime, settle_heap
from desk.tui.screens.history import HistoryScreen
from desk.tui.screens.numbers import NumbersScreen
from desk.tui.screens.reception import ReceptionScreen
from desk.tui.screens.training import TrainingChoice, TrainingScreen
from desk.tui.view import DeskView

__all__ = ["DeskApp", "make_app"]


class DeskApp(App):
    CSS_PATH = "desk.tcss"
    TITLE = "madoguchi 受付"
    COMMAND_PALETTE_BINDING = "ctrl+p"
    BINDINGS = [Binding("ctrl+q", "quit", "終了", priority=True)]

    def __init__(
        self,
        session: Any,
        controls: Any = None,
        *,
        picture_mode: str = "auto",
        watch_reader: bool = False,
        cursor_blink: bool = True,
        live_frames: float | None = None,
        face_process: bool = False,
    ) -> None:
        """`session`: a desk.session.DeskSession. `controls`: sim.session.SimControls in training mode.

        `picture_mode`: "auto" (Sixel / kitty / half-blocks, whatever the terminal has) or
        "halfcell" (always half-blocks: deterministic, for tests and screenshots).
        `watch_reader`: follow card insertion/removal reported by the reader (real hardware);
        in training mode the scenario picker places and removes cards instead.
        `cursor_blink`: False for tests and screenshots (steady renders).
        `live_frames`: seconds between camera frames on the 目視 screen (None: only on request).
        `face_process`: match faces in a child process (reader.face_process), started and its
        models loaded when the app mounts, stopped when it exits. dlib holds the GIL, so matching
        in a worker thread freezes the screen for as long as it runs; the CLI turns this on, tests
        keep the in-process matcher (no child per test).
        """
        super().__init__()
        self.session = session
        self.controls = controls
        self.picture_mode = picture_mode
        self.watch_reader = watch_reader
        self.cursor_blink = cursor_blink
        self.live_frames = live_frames
        self.last_view = DeskView()
        self.last_numbers_outcome: Any = None
        self._central_mode = "ok"
        self._camera_scenario: str | None = getattr(controls, "camera_scenario", None)
        self._face_child: Any = None
        self._runtime = DeskRuntime()
        ports = getattr(session, "ports", None)
        if face_process and getattr(ports, "matcher", None) is not None:
            from reader.face_process import ProcessFaceMatcher

            if not isinstance(ports.matcher, ProcessFaceMatcher):
                ports.matcher = ProcessFaceMatcher.like(ports.matcher)
            self._face_child = ports.matcher

    @property
    def training(self) -> bool:
        return self.controls is not None

    def on_mount(self) -> None:
        self._runtime.start()
        if self._face_child is not None:
            self.run_worker(self._start_face_child, thread=True, group="face-engine")

    def _start_face_child(self) -> None:
        # Loads dlib's models in the child meanwhile; a face match asked for sooner waits behind it.
        self._face_child.prepare(wait=False)

    def on_ready(self) -> None:
        settle_heap()

    def on_unmount(self) -> None:
        self._runtime.stop()
        if self._face_child is not None:
            self._face_child.close()

    def get_default_screen(self) -> Screen:
        return ReceptionScreen()

    @property
    def reception(self) -> ReceptionScreen:
        return next(s for s in self.screen_stack if isinstance(s, ReceptionScreen))

    # -- opening screens -------------------------------------------------------------------

    def _from_reception(self) -> bool:
        return isinstance(self.screen, ReceptionScreen)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "open_training":
            return self.training
        if action == "open_stats":
            return _have("desk.stats") and _have("desk.tui.screens.stats")
        if action == "open_moushitate":
            return _have("desk.moushitate") and _have("desk.tui.screens.moushitate")
        return True

    def action_open_numbers(self) -> None:
        if self._from_reception():
            self.push_screen(NumbersScreen())

    def action_open_history(self) -> None:
        if self._from_reception():
            self.push_screen(HistoryScreen())

    def action_open_stats(self) -> None:
        if self._from_reception() and self.check_action("open_stats", ()):
            from desk.tui.screens.stats import StatsScreen

            self.push_screen(StatsScreen())

    def action_open_moushitate(self) -> None:
        if self._from_reception() and self.check_action("open_moushitate", ()):
            from desk.tui.screens.moushitate import MoushitateScreen

            self.push_screen(MoushitateScreen())

    def action_open_training(self) -> None:
        if not (self.training and self._from_reception()):
            return
        self.push_screen(
            TrainingScreen(
                _card_choices(),
                _camera_choices() if self._camera_scenario is not None else [],
                card=_current_card(self.controls),
                camera=self._camera_scenario,
                central=self._central_mode,
            ),
            self._apply_training,
        )

    def action_pull_card(self) -> None:
        """Training: take the card off the simulated reader, whatever is happening."""
        if self.training:
            self._apply_training(TrainingChoice("remove", None, self._camera_scenario, self._central_mode))

    def _apply_training(self, choice: TrainingChoice | None) -> None:
        if choice is None:
            return
        self._central_mode = choice.central
        if choice.camera:
            self._camera_scenario = choice.camera
        controls = self.controls

        def apply() -> None:
            controls.set_central(choice.central)
            if choice.camera:
                controls.set_camera(choice.camera)
            if choice.action == "remove":
                controls.remove()
            elif choice.action == "place" and choice.card:
                if choice.reset_card:
                    controls.reset_card(choice.card)
                controls.place(choice.card)

        label = {"place": "カードを読み取っています…", "remove": "カードを取り外しています…"}.get(choice.action, "設定を変えています…")
        self.reception.run_call(label, apply)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("番号で照会", "資格確認書・保険証の番号で照会（照会区分2）", self.action_open_numbers)
        yield SystemCommand("履歴", "受付の履歴・目視確認・障害時の再照会待ち", self.action_open_history)
        if self.check_action("open_stats", ()):
            yield SystemCommand("統計", "マイナ保険証の利用率と医療DX推進体制整備加算", self.action_open_stats)
        if self.check_action("open_moushitate", ()):
            yield SystemCommand("申立書", "被保険者資格申立書を作る", self.action_open_moushitate)
        if self.training:
            yield SystemCommand("訓練シナリオ", "カードを置く・カメラ・システムの状態を選ぶ", self.action_open_training)
            yield SystemCommand("カードを取り外す（訓練）", "シミュレータのカードを今すぐ取り外す", self.action_pull_card)


def _have(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def _card_choices() -> list[tuple[str, str]]:
    from sim.fixtures import FixtureError, list_card_fixtures, load_card_fixture

    out = []
    for name in list_card_fixtures():
        try:
            out.append((name, load_card_fixture(name).description))
        except FixtureError as exc:
            out.append((name, f"（読めません: {exc.title}）"))
    return out


def _camera_choices() -> list[tuple[str, str]]:
    try:
        from sim.camera import SCENARIOS
    except ImportError:
        return []
    return list(SCENARIOS.items())


def _current_card(controls: Any) -> str | None:
    card = getattr(getattr(controls, "transport", None), "card", None)
    return getattr(getattr(card, "fixture", None), "name", None)


def make_app(session: Any, controls: Any = None, **options: Any) -> DeskApp:
    return DeskApp(session, controls, **options)
