"""The reception screen: what the receptionist sees all day.

Thin by design: every session call runs in a thread worker (the session serialises them), the
worker posts `SessionChanged` with a fresh `DeskView` (a later call's view is newer), and
`_show` puts that view on the widgets. Widgets talk back only through their own messages.

With several readers (desk/lanes.py) each lane has its own chain of calls, so a patient at one
reader typing a PIN never holds the card read, face match or query of another; the panes show the
active lane, a background lane's views only update its cell of the lane bar, and Ctrl+←/→ or
Alt+1…9 switch lanes. With one reader there is no lane bar and nothing else changes.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import ContentSwitcher, ProgressBar, Static

from desk.flow import State
from desk.models import AuthMethod
from desk.tui.errors import describe_error
from desk.tui.messages import CardPresence, FrameCaptured, SessionChanged, WorkFailed
from desk.tui.runtime import settle_heap
from desk.tui.screens.common import apply_cursor_setting
from desk.tui.screens.error import ErrorModal
from desk.tui.view import DeskView, take_view, to_picture
from desk.tui.widgets.checklist import StepChecklist, StepList
from desk.tui.widgets.consent_panel import ConsentPanel
from desk.tui.widgets.face_panel import FacePanel
from desk.tui.widgets.key_footer import KeyFooter
from desk.tui.widgets.lane_bar import LaneBar
from desk.tui.widgets.method_picker import MethodPicker
from desk.tui.widgets.pin_pad import PinPad
from desk.tui.widgets.result_banner import ResultBanner
from desk.tui.widgets.result_pane import ResultPane
from desk.tui.widgets.status_bar import StatusBar
from desk.tui.widgets.text import HangingText, set_text
from desk.tui.widgets.visual_panel import VisualPanel

__all__ = ["ReceptionScreen"]

_BUSY_BAR_AFTER = 0.25  # seconds
_SECOND_FRAME_AFTER = 1 / 30  # seconds: the pane's frame (at most 1/60 s away) has been drawn by then
# Panes drawn once behind the start-up cover, so that none is laid out for the first time
# while a patient waits (desk.tui.screens.reception.ReceptionScreen._warm_up).
_WARM_PANES = ("pane-pin", "pane-face", "pane-visual", "pane-consent", "pane-result")
_IDLE_SETTLE_EVERY = 60.0  # seconds: full collections wait for a quiet desk (desk.tui.runtime)

_CHOOSABLE = frozenset({State.CHOOSING, State.PIN, State.VISUAL})
_FINISHED = frozenset({State.RESULT, State.FAILED})

_CARD_TEXT = {
    State.IDLE: "カードが置かれていません",
    State.READING: "カードを読み取っています…",
    State.RESULT: "確認済み（カードをお返しください）",
    State.FAILED: "確認できませんでした",
}


@dataclass
class _LaneCalls:
    """One lane's chain of session calls and what the screen last heard from it."""

    view: DeskView = field(default_factory=DeskView)
    label: str = ""  # what its running call does ("" when none)
    issued: int = 0  # session calls made (UI thread only)
    finished: int = 0  # the last one finished (worker threads, under turn)
    turn: threading.Condition = field(default_factory=threading.Condition)
    result_waiting: bool = False  # a result came while another lane was on screen


class ReceptionScreen(Screen):
    # No focus until a pane asks for it: Textual's default gives it to the first focusable
    # widget, which was the hidden 照合番号B field, and keys typed at the choice went there.
    AUTO_FOCUS = ""
    BINDINGS = [
        Binding("f2", "choose('face')", "顔認証"),
        Binding("f3", "choose('pin')", "暗証番号"),
        Binding("f4", "choose('visual')", "目視"),
        Binding("f5", "next_patient", "次の患者"),
        Binding("f6", "app.open_numbers", "番号照会"),
        Binding("f7", "app.open_history", "履歴"),
        Binding("f8", "app.open_stats", "統計"),
        Binding("f9", "app.open_moushitate", "申立書"),
        Binding("f10", "app.open_training", "訓練"),
        # training only: place / pull the card, the next fixture (said in the F10 dialog: the footer
        # has no room left at 110 columns)
        Binding("f11", "app.toggle_card", "カード", show=False),
        Binding("f12", "app.next_card", "次カード", show=False),
        # several readers: switch lanes. Priority, so that a field's own Ctrl+←/→ (a word left or
        # right, useless in a 4-digit PIN) does not take them; inactive with one reader.
        Binding("ctrl+right", "switch_lane(1)", "次のレーン", show=False, priority=True),
        Binding("ctrl+left", "switch_lane(-1)", "前のレーン", show=False, priority=True),
        *(Binding(f"alt+{n}", f"lane({n - 1})", f"レーン{n}", show=False, priority=True) for n in range(1, 10)),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.view = DeskView()
        self.busy = False
        self._busy_timer: Timer | None = None
        self._heap_settled = True
        self._warming = True
        self._surroundings_pending = False
        self._settle_after_idle = False  # set by F5: collect once the idle pane is on screen
        self._calls: list[_LaneCalls] = []  # one per lane, made when mounted (the app's lanes)

    # -- layout ---------------------------------------------------------------------------

    @property
    def _lanes(self):  # desk.lanes.Lanes
        return self.app.lanes  # type: ignore[attr-defined]

    @property
    def active_lane(self) -> int:
        return int(self.app.active_lane)  # type: ignore[attr-defined]

    def compose(self) -> ComposeResult:
        self._calls = [_LaneCalls() for _ in self._lanes]
        yield StatusBar(id="status-bar")
        if self._lanes.several:
            yield LaneBar([lane.label for lane in self._lanes], id="lane-bar")
        with Horizontal(id="body"):
            with Vertical(id="side"):
                yield Static("カード", classes="panel-title")
                yield HangingText(id="card-state")  # broken as Japanese: 「お返しください」 stays whole
                yield MethodPicker(id="methods")
            with ContentSwitcher(id="main", initial="pane-idle"):
                yield Static("カードをカードリーダーに置いてください", id="pane-idle")
                yield Static("本人確認の方法を選んでください（F2 顔認証 / F3 暗証番号 / F4 目視確認）", id="pane-choose")
                yield PinPad(id="pane-pin")
                yield FacePanel(id="pane-face")
                yield VisualPanel(id="pane-visual")
                yield ConsentPanel(id="pane-consent")
                yield ResultPane(id="pane-result")
                yield Static("", id="pane-busy")
        yield HangingText(id="message")
        with Horizontal(id="busy-bar"):
            yield Static("", id="busy-label")
            yield ProgressBar(total=None, show_eta=False, show_percentage=False, id="busy-progress")
        yield KeyFooter()
        yield Static("起動しています…", id="startup-cover")

    def on_mount(self) -> None:
        apply_cursor_setting(self)
        self.run_worker(self._warm_up(), group="warm-up")
        self.query_one("#busy-bar").visible = False
        # The one road for cards, real reader or simulated: transport → session → here. The
        # session calls back on the reader's thread: only post; the session call runs in a worker.
        problems = self._lanes.watch_cards(lambda lane, present: self.post_message(CardPresence(present, lane)))
        for lane, exc in problems:  # no pcscd, no pyscard…: say so, the numbers query still works
            self.post_message(self._failed(lane, exc))
        for lane in self._lanes:
            self.run_call_on(lane.index, "状態を確認しています…", lambda: None)
        self._show_lane_bar()
        self.set_interval(_IDLE_SETTLE_EVERY, self._settle_when_idle)
        interval = getattr(self.app, "live_frames", None)
        if interval:
            self.set_interval(interval, self._live_frame)

    async def _warm_up(self) -> None:
        """Lay out and draw every pane once, behind a cover, while the desk starts.

        A pane's first layout and drawing costs 1.5-2 times what later ones do (every widget
        computes its styles and lines for the first time): 60-80 ms of a frozen screen for the
        目視 pane on the 2-core desk PC, in the middle of the first patient's confirmation.
        Views that arrive meanwhile are kept and the last one is shown when the cover goes.
        """
        switcher = self.query_one("#main", ContentSwitcher)
        for pane in _WARM_PANES:
            switcher.current = pane
            await self._next_frame()
        self._warming = False
        await self.query_one("#startup-cover").remove()
        self._show(self.view)

    async def _next_frame(self) -> None:
        # After a pane switch the screen has a layout pending, and its callbacks wait for it
        # (tests/tui/test_reception.py checks that every warmed pane is laid out).
        drawn = asyncio.Event()
        self.call_after_refresh(drawn.set)
        await drawn.wait()

    def _settle_now(self) -> None:
        settle_heap()
        self._heap_settled = True

    def _settle_when_idle(self) -> None:
        # A card taken away ends a patient without F5; collect once the desk has stayed idle.
        quiet = all(not calls.label and calls.view.state is State.IDLE for calls in self._calls)
        if not self._heap_settled and not self.busy and self.view.state is State.IDLE and quiet:
            self._settle_now()

    def _live_frame(self) -> None:
        frame_pending = any(w.group == "frame" and w.is_running for w in self.workers)
        if self.view.state is State.VISUAL and not self.busy and not frame_pending:
            self._frame_call()

    @work(thread=True, group="frame")
    def _frame_call(self) -> None:
        lane = self.active_lane
        try:
            picture = to_picture(self._lanes[lane].session.capture_frame())
        except Exception:  # a frame that can't be had just isn't shown; the staff can still compare
            return
        if picture is not None:
            self.post_message(FrameCaptured(picture, lane))

    def on_frame_captured(self, message: FrameCaptured) -> None:
        if self.view.state is State.VISUAL and message.lane == self.active_lane:
            self.query_one(VisualPanel).show_frame(message.picture)

    @property
    def drawn(self) -> bool:
        """The last view is on screen, surroundings included (tests wait for this)."""
        return not self._warming and not self._surroundings_pending

    # -- running session calls ------------------------------------------------------------

    @property
    def session(self):
        return self._lanes[self.active_lane].session

    def run_call(self, label: str, call: Callable[[], object]) -> None:
        """A call on the lane on screen."""
        self.run_call_on(self.active_lane, label, call)

    def run_call_on(self, lane: int, label: str, call: Callable[[], object]) -> None:
        calls = self._calls[lane]
        calls.label = label
        calls.issued += 1
        if lane == self.active_lane:
            self._set_busy(label)
        else:
            self._show_lane_cell(lane)
        self._session_call(lane, call, calls.issued)

    # Calls of a lane run in the order they were made, one at a time (a card taken away and another
    # placed must reach the session in that order), and each posts its view before the next starts,
    # so a later view is always the newer one. Not `exclusive`: cancelling would drop a card event.
    # Each lane has its own chain: a lane waits only for its own calls.
    @work(thread=True, group="session")
    def _session_call(self, lane: int, call: Callable[[], object], ticket: int) -> None:
        calls = self._calls[lane]
        session = self._lanes[lane].session
        with calls.turn:
            calls.turn.wait_for(lambda: calls.finished == ticket - 1)
        try:
            try:
                call()
            except Exception as exc:  # anything a call raises reaches the staff as a dialog
                self.post_message(self._failed(lane, exc))
            try:
                # a lane not on screen gets no pictures: making them is ~20 ms of Python per view,
                # taken from the lanes that are working; its view is taken again when shown
                view = take_view(session, with_pictures=lane == self.active_lane)
            except Exception as exc:
                self.post_message(self._failed(lane, exc))
                view = calls.view
            self.post_message(SessionChanged(view, ticket, lane))
        finally:
            with calls.turn:
                calls.finished = ticket
                calls.turn.notify_all()

    def _failed(self, lane: int, exc: Exception) -> WorkFailed:
        title, message, hint = describe_error(exc)
        if self._lanes.several:  # which reader's patient it is about
            title = f"レーン{lane + 1}（{self._lanes[lane].label}）: {title}"
        return WorkFailed(title, message, hint)

    def _set_busy(self, label: str, *, refresh_bindings: bool = True) -> None:
        self.busy = bool(label)
        set_text(self.query_one("#busy-label", Static), label)
        if self._busy_timer is not None:
            self._busy_timer.stop()
            self._busy_timer = None
        if self.busy:
            self.query_one("#methods", MethodPicker).show(self.view.methods, active=False)
            # Shown only when a call takes noticeable time: quick card reads don't flash a bar.
            self._busy_timer = self.set_timer(_BUSY_BAR_AFTER, self._show_busy_bar)
        else:
            self.query_one("#busy-bar").visible = False
        if refresh_bindings:
            self.refresh_bindings()

    def _show_busy_bar(self) -> None:
        self._busy_timer = None
        # Its line is always kept: showing or hiding it never resizes the body, which would lay
        # out and redraw every widget on the screen in the same frame as the next view.
        self.query_one("#busy-bar").visible = self.busy

    # -- messages from workers and hardware -----------------------------------------------

    def on_session_changed(self, message: SessionChanged) -> None:
        calls = self._calls[message.lane]
        before, calls.view = calls.view.state, message.view
        self._heap_settled = False
        done = message.ticket >= calls.issued  # no call made since is still running
        if done:
            calls.label = ""
        if message.lane != self.active_lane:
            # a background lane: only its cell; its panes are drawn when staff switch to it
            if message.view.state in _FINISHED:
                calls.result_waiting = calls.result_waiting or before not in _FINISHED
            else:
                calls.result_waiting = False
            self._show_lane_cell(message.lane)
            return
        self.view = message.view
        self.app.last_view = message.view  # type: ignore[attr-defined]
        if done:
            self._set_busy("", refresh_bindings=False)  # the view's surroundings refresh them
        self._show_lane_cell(message.lane)
        if not self._warming:  # else shown when the warm-up ends
            self._show(message.view)

    def on_work_failed(self, message: WorkFailed) -> None:
        self.app.push_screen(ErrorModal(message.title, message.message, message.hint))

    def on_card_presence(self, message: CardPresence) -> None:
        session = self._lanes[message.lane].session
        if message.present:
            self.run_call_on(message.lane, "カードを読み取っています…", session.on_card_inserted)
        else:
            self.run_call_on(message.lane, "カードが取り外されました…", session.on_card_removed)

    # -- lanes ----------------------------------------------------------------------------

    def action_switch_lane(self, step: int) -> None:
        self.action_lane((self.active_lane + step) % len(self._lanes))

    def action_lane(self, index: int) -> None:
        """Put lane `index` on screen: its panes as its last view left them. What was typed in a
        form of the lane left (a PIN, the 目視 password) is cleared, never carried to another patient."""
        if not self._lanes.several or not 0 <= index < len(self._lanes) or index == self.active_lane:
            return
        left = self.active_lane
        self.query_one(PinPad).action_clear()
        self.query_one(VisualPanel).reset()
        self.query_one(ConsentPanel).reset()
        self.query_one(StepChecklist).show([])
        self.app.active_lane = index  # type: ignore[attr-defined]
        calls = self._calls[index]
        calls.result_waiting = False
        self.view = calls.view
        self.app.last_view = calls.view  # type: ignore[attr-defined]
        self._set_busy(calls.label, refresh_bindings=False)
        if calls.label:
            self._show_busy_bar()  # its call has been running a while already
        self._show_lane_cell(left)
        self._show_lane_cell(index)
        if not self._warming:
            self._show(calls.view)
        if calls.view.state not in (State.IDLE, State.READING):
            # its views came without pictures while it was in the background: the card photo
            # and the camera frame follow in a fresh view (after any call the lane is running)
            self.run_call_on(index, calls.label, lambda: None)
        self.refresh_bindings()  # the keys of the lane now on screen (its second frame may wait for a call)

    def _show_lane_bar(self) -> None:
        for lane in self._lanes:
            self._show_lane_cell(lane.index)

    def _show_lane_cell(self, lane: int) -> None:
        if not self._lanes.several:
            return
        calls = self._calls[lane]
        self.query_one(LaneBar).show(
            lane, calls.view.state, active=lane == self.active_lane, busy=bool(calls.label),
            result_waiting=calls.result_waiting,
        )

    # -- messages from widgets ------------------------------------------------------------

    @on(MethodPicker.CheckBSubmitted)  # Textual's own handler name would read "check_bsubmitted"
    def check_b_submitted(self, message: MethodPicker.CheckBSubmitted) -> None:
        check_b = message.check_b
        self.run_call("照合番号Bを確認しています…", lambda: self.session.enter_check_b(check_b))

    def on_method_picker_chosen(self, message: MethodPicker.Chosen) -> None:
        self.action_choose(message.method.value)

    def on_pin_pad_submitted(self, message: PinPad.Submitted) -> None:
        pin = message.pin
        self.run_call("暗証番号を確認しています…", lambda: self.session.enter_pin(pin))

    def on_face_panel_retry(self, _: FacePanel.Retry) -> None:
        self.action_choose(AuthMethod.FACE.value)

    def on_visual_panel_submitted(self, message: VisualPanel.Submitted) -> None:
        staff, password, confirmed = message.staff_id, message.password, message.confirmed
        self.run_call("目視確認を記録して照会しています…", lambda: self.session.submit_visual(staff, password, confirmed))

    def on_visual_panel_password_typed(self, message: VisualPanel.PasswordTyped) -> None:
        self.session.visual_password_typed(message.password)  # starts a thread; returns at once

    def on_visual_panel_refresh_frame(self, _: VisualPanel.RefreshFrame) -> None:
        self.run_call("カメラの映像を取得しています…", self.session.capture_frame)

    def on_consent_panel_answered(self, message: ConsentPanel.Answered) -> None:
        items, limit = message.items, message.limit
        self.run_call("オンライン資格確認等システムに照会しています…", lambda: self.session.answer_consent(items, limit=limit))

    # -- actions --------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        state = self.view.state
        if action in ("switch_lane", "lane"):
            # with one reader the keys are not ours: a field's Ctrl+←/→ moves by a word
            return True if self._lanes.several else False
        if action == "choose":
            enabled = {o.method.value for o in self.view.methods if o.enabled}
            return True if not self.busy and state in _CHOOSABLE and parameters[0] in enabled else None
        if action == "next_patient":
            return None if self.busy or state not in (_FINISHED | {State.CHOOSING}) else True
        return True

    def _face_retry_allowed(self) -> bool:
        return self.view.state is State.CHOOSING and self.view.method is AuthMethod.FACE

    def action_choose(self, method: str) -> None:
        if self.busy or self.check_action("choose", (method,)) is not True:
            return
        chosen = AuthMethod(method)
        label = {
            AuthMethod.FACE: "顔を照合しています…（カメラを見てもらってください）",
            AuthMethod.PIN: "暗証番号の入力を準備しています…",
            AuthMethod.VISUAL: "カードの顔写真とカメラの映像を読み込んでいます…",
        }[chosen]
        if chosen in (AuthMethod.FACE, AuthMethod.VISUAL):
            # The pane now, its pictures (and the face verdict) with the next view. The call starts
            # once this frame is out: its card and camera work would hold the frame back.
            if chosen is AuthMethod.FACE:
                self.query_one(FacePanel).show_pending(self.view.face_failures)
            else:
                self.query_one(VisualPanel).show_pending()
            self.query_one("#main", ContentSwitcher).current = "pane-face" if chosen is AuthMethod.FACE else "pane-visual"
            self._set_busy(label)
            # the lane that asked, even if staff switch lanes within this frame
            lane, session = self.active_lane, self.session
            self.set_timer(_SECOND_FRAME_AFTER, lambda: self.run_call_on(lane, label, lambda: session.choose(chosen)))
            return
        self.run_call(label, lambda: self.session.choose(chosen))

    def action_next_patient(self) -> None:
        if self.busy or self.check_action("next_patient", ()) is not True:
            return
        self.query_one(VisualPanel).reset()
        self.query_one(ConsentPanel).reset()
        self.query_one(StepChecklist).show([])  # the last patient's ticks don't carry over

        # What the last patient left behind is collected once the idle pane is on screen (a full
        # collection holds the GIL ~30 ms: after the frame, not before it), so it isn't walked
        # in the middle of the next confirmation.
        self._settle_after_idle = True
        self.run_call("次の患者の準備をしています…", self.session.next_patient)

    # -- drawing a view -------------------------------------------------------------------

    def _show(self, view: DeskView) -> None:
        """The pane the receptionist is looking at first; the side panel, the status line, the key
        hints, a result's steps and the focus one frame later. Laying out and drawing all of it at once took up to
        60-80 ms on the 2-core desk PC, a frame in which no key is taken."""
        self._show_pane(view)
        # A timer, not call_after_refresh: that runs as soon as the screen's queue is idle, often
        # before the pane's frame. Keys that come meanwhile are taken first: timers run in order.
        self._surroundings_pending = True
        self.set_timer(_SECOND_FRAME_AFTER, lambda: self._show_surroundings(view))

    def _show_pane(self, view: DeskView) -> None:
        pane = self._pane(view)
        message = self.query_one("#message", HangingText)
        message.set_source(view.message)
        # the result banner already says it
        shown_in_banner = pane == "pane-result" and view.outcome is not None and view.outcome.message == view.message
        message.display = bool(view.message) and not shown_in_banner
        switcher = self.query_one("#main", ContentSwitcher)
        switched, switcher.current = switcher.current != pane, pane
        if pane == "pane-pin":
            self.query_one(PinPad).show(view.pin_tries_left)
        elif pane == "pane-face":
            face_open = any(o.method is AuthMethod.FACE and o.enabled for o in view.methods)
            self.query_one(FacePanel).show(view, can_retry=self._face_retry_allowed() and face_open)
        elif pane == "pane-visual" and switched:
            # the form first; its two pictures (768 colours each) with the surroundings, next frame —
            # drawing them with the pane switch took the F4 frame past 100 ms
            self.query_one(VisualPanel).show_pending()
        elif pane == "pane-result" and view.outcome is not None:
            self.query_one(ResultBanner).show(view.outcome)  # the answer first; its steps next frame

    def _show_surroundings(self, view: DeskView) -> None:
        if view is not self.view or self.busy:
            return  # a newer view, or a call already running, draws these itself
        self._surroundings_pending = False
        if self._settle_after_idle and view.state is State.IDLE:
            self._settle_after_idle = False
            self.set_timer(_SECOND_FRAME_AFTER, self._settle_now)
        pane = self._pane(view)
        if pane == "pane-result" and view.outcome is not None:
            self.query_one(StepChecklist).show(view.outcome.steps)
            self.query_one(StepList).focus()  # Space ticks a step; no key of a hidden pane stays live
        # Moving the focus restyles and redraws the whole screen (Textual's focus-within), so it
        # waits for this second frame instead of doubling the first.
        if pane == "pane-pin":
            self.query_one(PinPad).focus_input()
        elif pane == "pane-visual":
            self.query_one(VisualPanel).show(view)
            self.query_one(VisualPanel).focus_first()
        elif pane == "pane-consent":
            self.query_one(ConsentPanel).focus_first()
        self.query_one(StatusBar).show(view.status, training=self.app.training)  # type: ignore[attr-defined]
        self.query_one("#card-state", HangingText).set_source(self._card_text(view))
        self.query_one(MethodPicker).show(
            view.methods, active=view.state in _CHOOSABLE, needs_check_b=view.needs_check_b and view.state in _CHOOSABLE
        )
        self.refresh_bindings()

    def _pane(self, view: DeskView) -> str:
        state = view.state
        if state is State.IDLE:
            return "pane-idle"
        if state is State.PIN:
            return "pane-pin"
        if state is State.FACE or self._face_retry_allowed():
            return "pane-face"
        if state is State.VISUAL:
            return "pane-visual"
        if state is State.CONSENT:
            return "pane-consent"
        if state in _FINISHED and view.outcome is not None:
            return "pane-result"
        if state is State.CHOOSING:
            return "pane-choose"
        return "pane-busy"

    def _card_text(self, view: DeskView) -> str:
        if view.state in _CARD_TEXT:
            return _CARD_TEXT[view.state]
        lines = ["カード読み取り済み"]
        if view.pin_tries_left is None:
            lines.append("暗証番号: なし（顔認証カード）")
        else:
            lines.append(f"暗証番号: 残り{view.pin_tries_left}回")
        lines.append(f"顔認証の連続失敗: {view.face_failures}回")
        return "\n".join(lines)
