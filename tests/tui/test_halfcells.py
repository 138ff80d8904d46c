"""Half-block pictures made on the worker: always the same box, the picture centred in it."""

from __future__ import annotations

import pytest
from PIL import Image

from desk.tui.halfcells import PICTURE_COLUMNS, PICTURE_ROWS, half_cells


@pytest.mark.parametrize(("size", "drawn_columns", "drawn_rows"), [((640, 480), 32, 12), ((300, 400), 18, 12), ((800, 200), 32, 4)])
def test_every_picture_fills_the_same_box_with_its_aspect_kept(size, drawn_columns, drawn_rows):
    strips = half_cells(Image.new("RGB", size, (200, 30, 30)))
    assert len(strips) == PICTURE_ROWS
    assert {strip.cell_length for strip in strips} == {PICTURE_COLUMNS}
    drawn = [strip for strip in strips if "▀" in strip.text]
    assert len(drawn) == drawn_rows
    assert {strip.text.count("▀") for strip in drawn} == {drawn_columns}
    # centred: the blank margins differ by at most one cell
    left = len(drawn[0].text) - len(drawn[0].text.lstrip(" "))
    right = len(drawn[0].text) - len(drawn[0].text.rstrip(" "))
    assert abs(left - right) <= 1
    top = strips.index(drawn[0])
    assert abs(top - (PICTURE_ROWS - drawn_rows - top)) <= 1


def test_upper_and_lower_pixels_become_foreground_and_background():
    image = Image.new("RGB", (32, 24), (255, 0, 0))
    image.paste((0, 0, 255), (0, 1, 32, 2))  # the second pixel row: the lower half of the first cell row
    first = half_cells(image)[0]
    style = next(segment.style for segment in first if segment.text == "▀")
    assert style.color.triplet == (255, 0, 0) and style.bgcolor.triplet == (0, 0, 255)
