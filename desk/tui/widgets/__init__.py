"""Widgets of the reception screen. They show views and emit their own nested messages;
none of them touches the session or the hardware."""

from desk.tui.widgets.checklist import StepChecklist
from desk.tui.widgets.consent_panel import ConsentPanel
from desk.tui.widgets.face_panel import FacePanel
from desk.tui.widgets.method_picker import MethodPicker
from desk.tui.widgets.picture import Picture
from desk.tui.widgets.pin_pad import PinPad
from desk.tui.widgets.result_banner import ResultBanner
from desk.tui.widgets.status_bar import StatusBar
from desk.tui.widgets.visual_panel import VisualPanel

__all__ = [
    "ConsentPanel",
    "FacePanel",
    "MethodPicker",
    "Picture",
    "PinPad",
    "ResultBanner",
    "StatusBar",
    "StepChecklist",
    "VisualPanel",
]
