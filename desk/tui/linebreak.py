"""Japanese line breaking for the steps and messages the staff read under pressure.

Terminals fold text at any character, so a step came out as 「マイナンバ／ーカード」, 「①」 alone at a
line end, or a line starting with 「。」. This breaks lines as Japanese typesetting does (a
simplified JIS X 4051 禁則処理): never inside a run of katakana (a word) or of ASCII letters and
digits (a number such as 01130012 or 2026-03-31), never before closing punctuation and small kana,
never after an opening bracket or a circled number; long units are cut only when nothing else fits.
"""

from __future__ import annotations

import re

from rich.cells import cell_len

__all__ = ["wrap_japanese"]

_NO_START = set("、。，．・：；？！ー」』）］｝〕〉》】ぁぃぅぇぉっゃゅょゎァィゥェォッャュョヮヵヶ々,.;:!?)]}%")
_NO_END = set("「『（［｛〔〈《【([{") | {chr(c) for c in range(0x2460, 0x2474)}  # and ①-⑳
# Units never broken: ASCII words and numbers (with the signs inside numbers and dates), katakana words.
_UNIT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-./:%]*|[ァ-ヺー]+|\s+|.", re.S)


def _units(text: str) -> list[str]:
    units: list[str] = []
    glue_next = False
    for match in _UNIT.finditer(text):
        unit = match.group()
        if units and (glue_next or unit[0] in _NO_START):
            units[-1] += unit
        else:
            units.append(unit)
        glue_next = unit[-1] in _NO_END or (glue_next and unit.isspace())  # 「① 現在の…」: ① stays with 現
    return units


def wrap_japanese(text: str, width: int, *, indent: int = 0) -> list[str]:
    """`text` in lines of at most `width` cells; lines after the first start with `indent` spaces
    (a hanging indent). Existing line breaks are kept."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line, room = "", width
        for unit in _units(paragraph):
            size = cell_len(unit)
            if line and size > room:
                lines.append(line.rstrip())
                line, room = " " * indent, width - indent
                unit = unit.lstrip()
                size = cell_len(unit)
            while size > room and room > 0 and len(unit) > 1:  # a unit wider than a whole line
                cut = 1
                while cut < len(unit) and cell_len(unit[: cut + 1]) <= room:
                    cut += 1
                lines.append((line + unit[:cut]).rstrip())
                line, room, unit = " " * indent, width - indent, unit[cut:]
                size = cell_len(unit)
            line += unit
            room -= size
        lines.append(line.rstrip())
    return lines
