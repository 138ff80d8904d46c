"""A picture in the terminal: the card photo or a camera frame, with a caption.

textual-image draws with Sixel or the kitty protocol where the terminal has one and falls back
to half-block cells elsewhere. Tests and screenshots ask for half-blocks explicitly
(`DeskApp(picture_mode="halfcell")`) so that the output does not depend on the terminal.
"""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static
try:
    from textual_image.widget import HalfcellImage, get_cell_size
    from textual_image.widget import Image as AutoImage
except Exception:  # noqa: BLE001 - it queries the terminal on import; a terminal of size 0 breaks it
    HalfcellImage = AutoImage = None  # type: ignore[assignment,misc]

__all__ = ["Picture"]


class Picture(Vertical):
    DEFAULT_CSS = """
    Picture { width: auto; height: auto; }
    Picture > .picture-image { width: 16; height: 12; }
    Picture > .picture-empty { width: 24; height: 12; content-align: center middle; color: $text-muted; border: round $panel; }
    Picture > .picture-caption { width: auto; color: $text-muted; }
    """

    def __init__(self, caption: str, *, rows: int = 12, id: str | None = None, classes: str = "") -> None:
        super().__init__(id=id, classes=classes)
        self._caption = caption
        self._rows = rows

    def compose(self) -> ComposeResult:
        image_class = HalfcellImage if getattr(self.app, "picture_mode", "auto") == "halfcell" else AutoImage
        if image_class is not None:
            yield image_class(None, classes="picture-image")
        yield Static("（画像なし）" if image_class is not None else "（この端末では画像を表示できません）", classes="picture-empty")
        yield Static(self._caption, classes="picture-caption")

    def show(self, image: Any) -> None:
        """`image`: a PIL image (see desk.tui.view.to_picture) or None."""
        if not self.query(".picture-image"):
            return
        widget = self.query_one(".picture-image")
        if image is not None:
            # A fixed box with the picture's own aspect: textual-image stretches to whatever box it gets.
            # Half-blocks: assume the usual 1:2 cell so the size is the same in every terminal (and
            # so in every snapshot); graphics protocols: the terminal's real cell size.
            cell_w, cell_h = (1, 2) if getattr(self.app, "picture_mode", "auto") == "halfcell" else get_cell_size()
            widget.styles.height = self._rows
            widget.styles.width = max(1, round(self._rows * cell_h * image.width / image.height / cell_w))
        widget.image = image  # type: ignore[attr-defined]
        widget.display = image is not None
        self.query_one(".picture-empty").display = image is None
