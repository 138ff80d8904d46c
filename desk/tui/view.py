"""What the screen shows, copied out of the session in one go.

The worker thread that ran a session call builds a `DeskView` while it still holds nothing else,
and posts it; the screen only ever reads views. Widgets never touch the session, so a worker
that is still running can't change what a widget is halfway through drawing.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

from desk.flow import State
from desk.models import AuthMethod
from desk.tui.halfcells import half_cells

__all__ = ["DeskView", "MethodOption", "StatusView", "ViewPicture", "take_view", "to_picture"]

# Pictures are shrunk before they reach the terminal: a few dozen cells wide is all a desk
# screen shows, and a 640x480 frame per refresh would be wasted work on the UI thread.
_PICTURE_WIDTH = 160


@dataclass(frozen=True)
class MethodOption:
    method: AuthMethod
    enabled: bool
    reason: str = ""  # why it is disabled, for the staff


@dataclass(frozen=True)
class StatusView:
    reader: str = "—"
    reader_ok: bool = True
    camera: str = "—"
    camera_ok: bool = True
    central: str = "—"
    central_ok: bool = True
    waiting_records: int = 0


@dataclass(frozen=True)
class ViewPicture:
    """A picture ready for the screen: the small image (graphics terminals draw it themselves)
    and its half-block cells (everywhere else), both made on the worker thread."""

    image: Any  # PIL.Image, at most _PICTURE_WIDTH pixels wide
    cells: tuple[Any, ...]  # textual Strips, desk.tui.halfcells.PICTURE_ROWS of them


@dataclass(frozen=True)
class DeskView:
    state: State = State.IDLE
    message: str = ""
    method: AuthMethod | None = None  # the method chosen last for this card
    methods: tuple[MethodOption, ...] = ()
    pin_tries_left: int | None = None
    face_failures: int = 0
    photo: ViewPicture | None = None  # the card photo (face / 目視 paths)
    frame: ViewPicture | None = None  # the last camera frame
    face_distance: float | None = None
    face_threshold: float | None = None
    face_accepted: bool | None = None
    face_message: str = ""
    outcome: Any = None  # desk.outcome.Outcome
    status: StatusView = field(default_factory=StatusView)
    needs_check_b: bool = False  # staff must type 照合番号B before face auth (no reader camera)


def to_picture(data: Any) -> ViewPicture | None:
    """Card photo bytes (JPEG 2000) or a BGR frame (numpy) → a small RGB image and its cells;
    None, or bytes that are no picture, give None."""
    if data is None:
        return None
    from PIL import Image

    if isinstance(data, (bytes, bytearray)):
        try:
            image = Image.open(io.BytesIO(data))
            image.load()
        except OSError:
            return None
    else:
        # Every n-th pixel first: a 640x480 frame becomes 320x240 before any copy (a third of the
        # time of a view with a frame), still twice what the picture keeps.
        step = max(1, data.shape[1] // (2 * _PICTURE_WIDTH)) if getattr(data, "ndim", 0) >= 2 else 1
        data = data[::step, ::step]
        # BGR (OpenCV order) to RGB by reversing the channel axis; no cv2 needed here.
        image = Image.fromarray(data[:, :, ::-1].copy()) if getattr(data, "ndim", 0) == 3 else Image.fromarray(data)
    image = image.convert("RGB")
    if image.width > _PICTURE_WIDTH:
        image = image.resize((_PICTURE_WIDTH, round(image.height * _PICTURE_WIDTH / image.width)))
    return ViewPicture(image, half_cells(image))


def _methods(session: Any) -> tuple[MethodOption, ...]:
    return tuple(MethodOption(method, not reason, reason) for method, reason in session.method_reasons())


def _message(session: Any) -> str:
    """What the screen says, and plainly where the record of the confirmation is when it is not in
    the journal."""
    message = str(session.reception.message)
    if session.log.not_recorded is not None:
        problem = session.log.not_recorded
        return f"{problem.title}: {problem} " + message
    if session.log.export_problem is not None:
        message = (message + " " if message else "") + (
            "結果ファイルを書き出せませんでした（受付記録には保存済み。次に起動したときに書き出します）。"
        )
    if session.log.record_place == "outbox":
        return (message + " " if message else "") + "記録は一時保存しました（受付記録に書き込めるようになると自動で書き込みます）。"
    return message


def take_view(session: Any, *, with_pictures: bool = True) -> DeskView:
    """Copy what the screen needs out of `session` (a desk.session.DeskSession).

    Called on the worker thread right after the session call it reports on; session calls are
    serialised by the session itself, and a later worker always posts a newer view.
    """
    s = session.status()
    status = StatusView(s.reader, s.reader_ok, s.camera, s.camera_ok, s.central, s.central_ok, s.waiting_records)
    r = session.reception
    face = session.last_face
    in_card_states = r.state not in (State.IDLE,)
    return DeskView(
        state=r.state,
        message=_message(session),
        method=r.method,
        methods=_methods(session) if in_card_states else (),
        pin_tries_left=r.pin_tries_left,
        face_failures=r.face_failures,
        photo=to_picture(session.photo) if with_pictures else None,
        frame=to_picture(session.last_frame) if with_pictures else None,
        face_distance=getattr(face, "distance", None),
        face_threshold=getattr(face, "threshold", None),
        face_accepted=getattr(face, "accepted", None),
        face_message=getattr(face, "message", "") or "",
        outcome=session.outcome,
        status=status,
        needs_check_b=in_card_states and session.needs_check_b,
    )
