"""Pictures as half-block cells, drawn on the worker thread.

Each terminal cell shows two pixels, one above the other: the upper as the foreground colour of
"▀", the lower as the background. textual-image draws the same way but on the UI thread, on every
redraw (10-15 ms for the two pictures of the 目視 screen on the 2-core desk PC); here the cells
are made once, in the worker that read the picture, and the widget only hands them out.

Every picture fills a box of the same size (PICTURE_COLUMNS x PICTURE_ROWS), centred, so that a
picture arriving never resizes anything around it.
"""

from __future__ import annotations

from typing import Any

from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

__all__ = ["PICTURE_COLUMNS", "PICTURE_ROWS", "half_cells"]

PICTURE_ROWS = 12  # terminal rows a picture takes: tall enough to compare faces, small enough for 80x24
PICTURE_COLUMNS = 32  # a 4:3 camera frame at 12 rows (cells are about twice as tall as wide)


def half_cells(image: Any, rows: int = PICTURE_ROWS, columns: int = PICTURE_COLUMNS) -> tuple[Strip, ...]:
    """`image`: a PIL image, scaled to fit `columns` x `rows` cells (2 pixels per cell upright)
    with its aspect kept, centred; the cells around it are blank."""
    scale = min(columns / image.width, 2 * rows / image.height)
    width = max(1, min(columns, round(image.width * scale)))
    height = max(2, min(2 * rows, round(image.height * scale) // 2 * 2))
    pixels = image.convert("RGB").resize((width, height)).load()
    left, top = (columns - width) // 2, (rows - height // 2) // 2
    margin_left, margin_right = Segment(" " * left), Segment(" " * (columns - width - left))
    strips = [Strip.blank(columns)] * top
    for y in range(0, height, 2):
        cells = [
            Segment("▀", Style.from_color(Color.from_rgb(*pixels[x, y]), Color.from_rgb(*pixels[x, y + 1])))
            for x in range(width)
        ]
        strips.append(Strip([margin_left, *cells, margin_right], columns))
    strips += [Strip.blank(columns)] * (rows - len(strips))
    return tuple(strips)
