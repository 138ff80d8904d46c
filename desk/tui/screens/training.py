"""Training mode (simulator only): place any fixture card, pick what the camera sees and how the
central system behaves. New staff rehearse every case here before a patient is at the desk."""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Select, Static

__all__ = ["TrainingChoice", "TrainingScreen", "CENTRAL_MODES"]

CENTRAL_MODES = {"ok": "正常", "slow": "応答が遅い", "down": "停止中（障害）"}


@dataclass(frozen=True)
class TrainingChoice:
    action: str  # "place", "remove" or "apply" (camera / central only)
    card: str | None
    camera: str | None
    central: str
    reset_card: bool = False


class TrainingScreen(ModalScreen[TrainingChoice | None]):
    BINDINGS = [Binding("escape", "dismiss_none", "閉じる")]

    def __init__(
        self,
        cards: list[tuple[str, str]],
        cameras: list[tuple[str, str]],
        *,
        card: str | None,
        camera: str | None,
        central: str,
    ) -> None:
        """`cards` / `cameras`: (name, Japanese description) pairs."""
        super().__init__()
        self._cards, self._cameras = cards, cameras
        self._card, self._camera, self._central = card, camera, central

    def compose(self) -> ComposeResult:
        with Vertical(id="training-dialog"):
            yield Static("訓練シナリオ（シミュレータ）　受付画面で F11 カードを置く／外す・F12 次のカード", id="training-title")
            yield Static("カード", classes="field-label")
            yield Select(
                [(f"{name} — {text}", name) for name, text in self._cards],
                value=self._card if self._card in dict(self._cards) else Select.NULL,
                prompt="カードを選んでください",
                id="training-card",
            )
            yield Checkbox("暗証番号の残り回数などをテストデータの初期値に戻してから置く", id="training-reset")
            yield Static("カメラに写っているもの", classes="field-label")
            yield Select(
                [(text, name) for name, text in self._cameras],
                value=self._camera if self._camera in dict(self._cameras) else Select.NULL,
                prompt="カメラなし" if not self._cameras else "シナリオを選んでください",
                id="training-camera",
                disabled=not self._cameras,
            )
            yield Static("オンライン資格確認等システム", classes="field-label")
            yield Select(
                [(text, mode) for mode, text in CENTRAL_MODES.items()],
                value=self._central,
                allow_blank=False,
                id="training-central",
            )
            with Horizontal(id="training-buttons"):
                yield Button("カードを置く", id="training-place", variant="primary")
                yield Button("カードを取り外す", id="training-remove", variant="warning")
                yield Button("設定だけ変える", id="training-apply")
                yield Button("閉じる", id="training-close")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        action = (event.button.id or "").removeprefix("training-")
        if action == "close":
            self.dismiss(None)
            return
        card = self.query_one("#training-card", Select).value
        camera = self.query_one("#training-camera", Select).value
        if action == "place" and card is Select.NULL:
            self.notify("置くカードを選んでください", severity="warning")
            return
        self.dismiss(
            TrainingChoice(
                action=action,
                card=None if card is Select.NULL else str(card),
                camera=None if camera is Select.NULL else str(camera),
                central=str(self.query_one("#training-central", Select).value),
                reset_card=self.query_one("#training-reset", Checkbox).value,
            )
        )

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
