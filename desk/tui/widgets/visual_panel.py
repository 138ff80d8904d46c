"""目視確認 on one screen: the card photo beside the live frame, who checked, and the facility's
目視 password. Replaces the old back-and-forth between reader and terminal (seed: 目視モードの改善)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, Checkbox, Input, Static

from desk.tui.view import DeskView
from desk.tui.widgets.picture import Picture

__all__ = ["VisualPanel"]


class VisualPanel(Vertical):
    class Submitted(Message):
        def __init__(self, staff_id: str, password: str, confirmed: bool) -> None:
            super().__init__()
            self.staff_id = staff_id
            self.password = password
            self.confirmed = confirmed

        def __repr__(self) -> str:  # the password never reaches a log
            return f"VisualPanel.Submitted(staff_id={self.staff_id!r}, password=****, confirmed={self.confirmed})"

    class PasswordTyped(Message):
        """The password field changed: the desk checks it while the staff finish typing."""

        def __init__(self, password: str) -> None:
            super().__init__()
            self.password = password

        def __repr__(self) -> str:  # the password never reaches a log
            return "VisualPanel.PasswordTyped(password=****)"

    class RefreshFrame(Message):
        """Staff asked for a fresh camera frame."""

    def compose(self) -> ComposeResult:
        yield Static("目視確認 — カードの顔写真と本人を見比べてください", classes="panel-title")
        with Horizontal(classes="pictures"):
            yield Picture("カードの顔写真", id="visual-photo")
            yield Picture("カメラの映像", id="visual-frame")
        with Horizontal(classes="visual-row"):
            yield Input(placeholder="職員ID", id="visual-staff")
            yield Checkbox("目視で本人確認完了", id="visual-confirmed")
        with Horizontal(classes="visual-row"):
            yield Input(placeholder="目視モードのパスワード（カードの暗証番号ではありません）", password=True, id="visual-password")
            yield Button("確認して照会", id="visual-submit", variant="primary")
            yield Button("映像を更新", id="visual-refresh")

    def show(self, view: DeskView) -> None:
        self.query_one("#visual-photo", Picture).show(view.photo)
        self.query_one("#visual-frame", Picture).show(view.frame)

    def show_pending(self) -> None:
        """Empty boxes until the pictures come (the next frame); never the last patient's."""
        for picture in self.query(Picture):
            picture.show(None, pending=True)

    def show_frame(self, picture: object) -> None:
        self.query_one("#visual-frame", Picture).show(picture)

    def reset(self) -> None:
        """A new patient: nothing from the last one stays on the form."""
        self.query_one("#visual-staff", Input).value = ""
        self.query_one("#visual-password", Input).value = ""
        self.query_one("#visual-confirmed", Checkbox).value = False

    BINDINGS = [
        Binding("tab", "app.focus_next", "次の項目"),
        Binding("enter", "submit", "確認して照会"),  # on the password field; Space ticks 確認完了
    ]

    def action_submit(self) -> None:
        self._submit()

    def focus_first(self) -> None:
        staff = self.query_one("#visual-staff", Input)
        (staff if not staff.value else self.query_one("#visual-confirmed", Checkbox)).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "visual-refresh":
            self.post_message(self.RefreshFrame())
        else:
            self._submit()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "visual-password":
            event.stop()
            self.post_message(self.PasswordTyped(event.value))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "visual-password":
            self._submit()
        else:
            self.screen.focus_next()

    def _submit(self) -> None:
        password_field = self.query_one("#visual-password", Input)
        password, password_field.value = password_field.value, ""  # typed again on each try
        self.post_message(
            self.Submitted(
                self.query_one("#visual-staff", Input).value,
                password,
                self.query_one("#visual-confirmed", Checkbox).value,
            )
        )
