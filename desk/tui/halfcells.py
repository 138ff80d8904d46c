"""Pictures as half-block cells, drawn on the worker thread.

Each terminal cell shows two pixels, one above the other: the upper as the foreground colour of
"▀", the lower as the background. textual-image draws the same way but on the UI thread, on every
redraw (10-15 ms for the two pictures of the 目視 screen on the 2-core desk PC); here the cells
are made once, in the worker that read the picture, and the widget only hands them out.
"""

from __future__ import annotations

from typing import Any

from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

__all__ = ["PICTURE_ROWS", "half_cells"]

PICTURE_ROWS = 12  # terminal rows a picture takes: tall enough to compare faces, small enough for 80x24


def half_cells(image: Any, rows: int = PICTURE_ROWS) -> tuple[Strip, ...]:
    """`image`: a PIL image. A terminal cell is about twice as tall as it is wide, so the picture
    keeps its aspect at `rows` rows when it is 2 × rows pixels tall and as many pixels as cells wide."""
    width = max(1, round(rows * 2 * image.width / image.height))
    pixels = image.convert("RGB").resize((width, rows * 2)).load()
    strips = []
    for row in range(rows):
        upper, lower = 2 * row, 2 * row + 1
        segments = [
            Segment("▀", Style(color=Color.from_rgb(*pixels[x, upper]), bgcolor=Color.from_rgb(*pixels[x, lower])))
            for x in range(width)
        ]
        strips.append(Strip(segments, width))
    return tuple(strips)
