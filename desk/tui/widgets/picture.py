"""A picture in the terminal: the card photo or a camera frame, with a caption.

Terminals with a graphics protocol (Sixel, kitty) get the picture itself through textual-image.
Everywhere else, and always in tests and screenshots (`DeskApp(picture_mode="halfcell")`, so
that the output does not depend on the terminal), the picture is drawn with half-block cells
that the worker thread already made (desk.tui.halfcells): the UI thread only hands them out.
"""

from __future__ import annotations

from typing import Any

from rich.cells import cell_len
from rich.segment import Segment
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Static

from desk.tui.halfcells import PICTURE_COLUMNS, PICTURE_ROWS

try:
    from textual_image.renderable import Image as _BestRenderable
    from textual_image.renderable.halfcell import Image as _HalfcellRenderable
    from textual_image.renderable.unicode import Image as _UnicodeRenderable
    from textual_image.widget import Image as GraphicsImage
    from textual_image.widget import get_cell_size

    HAVE_GRAPHICS = _BestRenderable not in (_HalfcellRenderable, _UnicodeRenderable)
except Exception:  # noqa: BLE001 - it queries the terminal on import; a terminal of size 0 breaks it
    HAVE_GRAPHICS = False

__all__ = ["CellPicture", "Picture"]

_NO_PICTURE = "（画像なし）"


class CellPicture(Widget):
    """Shows ready-made half-block cells (desk.tui.view.ViewPicture.cells) in a box of fixed size,
    or says there is no picture."""

    DEFAULT_CSS = f"""
    CellPicture {{ width: {PICTURE_COLUMNS}; height: {PICTURE_ROWS}; color: $text-muted; }}
    """

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._cells: tuple[Strip, ...] = ()
        self.image: Any = None  # the picture shown, for whoever asks what is on screen
        self._pending = False  # a picture is on its way: a blank box, not 「画像なし」

    def show(self, picture: Any, *, pending: bool = False) -> None:
        self._cells = picture.cells if picture is not None else ()
        self.image = picture.image if picture is not None else None
        self._pending = pending
        self.refresh()

    def render_line(self, y: int) -> Strip:
        if self._cells:
            return self._cells[y] if y < len(self._cells) else Strip.blank(self.size.width)
        if y == self.size.height // 2 and not self._pending:
            # str.center counts characters, and each of these takes two cells: widen by the difference
            text = _NO_PICTURE.center(self.size.width - cell_len(_NO_PICTURE) + len(_NO_PICTURE))
            return Strip([Segment(text, self.rich_style)], cell_len(text))
        return Strip.blank(self.size.width)



class Picture(Vertical):
    DEFAULT_CSS = f"""
    Picture {{ width: {PICTURE_COLUMNS}; height: {PICTURE_ROWS + 1}; }}
    Picture > .picture-image {{ width: {PICTURE_COLUMNS}; height: {PICTURE_ROWS}; }}
    Picture > .picture-empty {{ width: {PICTURE_COLUMNS}; height: {PICTURE_ROWS}; content-align: center middle; color: $text-muted; }}
    Picture > .picture-caption {{ width: {PICTURE_COLUMNS}; height: 1; color: $text-muted; }}
    """

    def __init__(self, caption: str, *, id: str | None = None, classes: str = "") -> None:
        super().__init__(id=id, classes=classes)
        self._caption = caption

    @property
    def _graphics(self) -> bool:
        return HAVE_GRAPHICS and getattr(self.app, "picture_mode", "auto") != "halfcell"

    def compose(self) -> ComposeResult:
        if self._graphics:
            yield GraphicsImage(None, classes="picture-image")
            yield Static(_NO_PICTURE, classes="picture-empty")
        else:
            yield CellPicture(classes="picture-image")
        yield Static(self._caption, classes="picture-caption")

    def show(self, picture: Any, *, pending: bool = False) -> None:
        """`picture`: a desk.tui.view.ViewPicture or None (`pending`: one is on its way)."""
        widget = self.query_one(".picture-image")
        if isinstance(widget, CellPicture):
            widget.show(picture, pending=pending)  # same box with or without a picture: nothing around it moves
            return
        if picture is not None:
            # A box with the picture's own aspect in the terminal's real cells: textual-image
            # stretches the picture to whatever box it gets.
            cell = get_cell_size()
            image = picture.image
            widget.styles.height = PICTURE_ROWS
            widget.styles.width = max(1, round(PICTURE_ROWS * cell.height * image.width / image.height / cell.width))
            widget.image = image  # type: ignore[attr-defined]
        widget.display = picture is not None
        self.query_one(".picture-empty").display = picture is None and not pending
