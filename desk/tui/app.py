"""The desk app: one reception screen plus the screens it opens. `make_app` is the one factory the
CLI, the training mode and the tests use; desk/wiring.py assembles what it is given."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any, Protocol

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from desk.flow import State
from desk.lanes import Lane, Lanes
from desk.session import DeskSession
from desk.training import TrainingControls
from desk.tui.runtime import DeskRuntime, settle_heap
from desk.tui.screens.history import HistoryScreen
from desk.tui.screens.moushitate import MoushitateScreen
from desk.tui.screens.numbers import NumbersScreen
from desk.tui.screens.reception import ReceptionScreen
from desk.tui.screens.stats import StatsScreen
from desk.tui.screens.training import TrainingChoice, TrainingScreen
from desk.tui.view import DeskView

__all__ = ["DeskApp", "FaceEngine", "make_app"]


class FaceEngine(Protocol):
    """Face matching in a child process (reader.face_process): started when the app mounts, stopped
    when it exits. dlib holds the GIL, so matching in a worker thread would freeze the screen."""

    def prepare(self, *, wait: bool = True) -> object: ...

    def close(self) -> None: ...


# States in which a patient is being confirmed: keys that leave the reception screen are hidden.
_IN_CONFIRMATION = frozenset({State.PIN, State.FACE, State.VISUAL, State.AUTHENTICATING, State.CONSENT, State.QUERYING})


class DeskApp(App):
    CSS_PATH = "desk.tcss"
    TITLE = "madoguchi 受付"
    COMMAND_PALETTE_BINDING = "ctrl+p"
    BINDINGS = [Binding("ctrl+q", "quit", "終了", priority=True)]

    def __init__(
        self,
        session: DeskSession,
        training: TrainingControls | None = None,
        *,
        face_engine: FaceEngine | None = None,
        picture_mode: str = "auto",
        cursor_blink: bool = True,
        live_frames: float | None = None,
        lanes: Lanes | None = None,
    ) -> None:
        """`training`: the simulated world's controls on a training desk (None on a real desk).

        `face_engine`: the session's face matcher when it runs in a child process; its models
        are loaded when the app mounts (tests keep the in-process matcher: no child per test).
        `picture_mode`: "auto" (Sixel / kitty / half-blocks, whatever the terminal has) or
        "halfcell" (always half-blocks: deterministic, for tests and screenshots).
        `cursor_blink`: False for tests and screenshots (steady renders).
        `live_frames`: seconds between camera frames on the 目視 screen (None: only on request).
        `lanes`: every reader's lane (desk/lanes.py); None or one lane: the desk as it always was.
        """
        super().__init__()
        self.lanes = lanes if lanes is not None else Lanes([Lane(0, session.ports.transport.name, session, training)])
        self.active_lane = 0  # the lane on screen; the reception screen switches it
        self.picture_mode = picture_mode
        self.cursor_blink = cursor_blink
        self.live_frames = live_frames
        self.last_view = DeskView()
        self.last_numbers_outcome: Any = None
        self._central_mode = "ok"
        self._camera_scenario: str | None = training.camera_scenario if training is not None else None
        # F11 puts the lane's last card back
        self._last_cards = {
            lane.index: (lane.training.current_card() if lane.training is not None else None) or "adult" for lane in self.lanes
        }
        self._face_child = face_engine
        self._runtime = DeskRuntime()

    @property
    def session(self) -> DeskSession:
        """The session of the lane on screen (the other screens act on it: 番号照会, 申立書 …)."""
        return self.lanes[self.active_lane].session

    @property
    def controls(self) -> TrainingControls | None:
        """The simulated reader of the lane on screen (training desks)."""
        return self.lanes[self.active_lane].training

    @controls.setter
    def controls(self, training: TrainingControls | None) -> None:
        # a desk without the simulator's controls on that lane (tests: what `--reader pcsc` builds)
        self.lanes = Lanes([replace(lane, training=training) if lane.index == self.active_lane else lane for lane in self.lanes])

    @property
    def training(self) -> bool:
        return self.lanes[0].training is not None

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

    # Mid-confirmation the footer shows the pane's own keys: the other screens wait for the result.
    _OTHER_SCREENS = frozenset({"open_numbers", "open_history", "open_stats", "open_moushitate", "open_training"})

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in self._OTHER_SCREENS and self.last_view.state in _IN_CONFIRMATION:
            return False
        if action in ("open_training", "toggle_card", "next_card"):
            return self.training
        return True

    def action_open_numbers(self) -> None:
        if self._from_reception():
            self.push_screen(NumbersScreen())

    def action_open_history(self) -> None:
        if self._from_reception():
            self.push_screen(HistoryScreen())

    def action_open_stats(self) -> None:
        if self._from_reception():
            self.push_screen(StatsScreen())

    def action_open_moushitate(self) -> None:
        if self._from_reception():
            self.push_screen(MoushitateScreen())

    def action_open_training(self) -> None:
        controls = self.controls
        if controls is None or not self._from_reception():
            return
        self.push_screen(
            TrainingScreen(
                controls.cards(),
                controls.camera_scenarios(),
                card=controls.current_card(),
                camera=self._camera_scenario,
                central=self._central_mode,
            ),
            self._apply_training,
        )

    def action_pull_card(self) -> None:
        """Training: take the card off the simulated reader, whatever is happening."""
        if self.training:
            self._apply_training(TrainingChoice("remove", None, self._camera_scenario, self._central_mode))

    def action_toggle_card(self) -> None:
        """Training, one key: take the card off the reader, or put the last one back."""
        if self.controls is None or not self._from_reception():
            return
        current = self.controls.current_card()
        if current is not None:
            self._last_cards[self.active_lane] = current
            self.action_pull_card()
            return
        last = self._last_cards.get(self.active_lane, "adult")
        self._apply_training(TrainingChoice("place", last, self._camera_scenario, self._central_mode))

    def action_next_card(self) -> None:
        """Training, one key: the next fixture card onto the reader (in the picker's order)."""
        if self.controls is None or not self._from_reception():
            return
        names = [name for name, _ in self.controls.cards()]
        current = self.controls.current_card() or self._last_cards.get(self.active_lane, "adult")
        following = names[(names.index(current) + 1) % len(names)] if current in names else names[0]
        self._last_cards[self.active_lane] = following
        self._apply_training(TrainingChoice("place", following, self._camera_scenario, self._central_mode))

    def _apply_training(self, choice: TrainingChoice | None) -> None:
        if choice is None or self.controls is None:
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
        yield SystemCommand("統計", "マイナ保険証の利用率と医療DX推進体制整備加算", self.action_open_stats)
        yield SystemCommand("申立書", "被保険者資格申立書を作る", self.action_open_moushitate)
        if self.training:
            yield SystemCommand("訓練シナリオ", "カードを置く・カメラ・システムの状態を選ぶ", self.action_open_training)
            yield SystemCommand("カードを取り外す（訓練）", "シミュレータのカードを今すぐ取り外す", self.action_pull_card)


# The one factory the CLI, the benchmarks and the tests use, with what desk/wiring.py assembled.
make_app = DeskApp
