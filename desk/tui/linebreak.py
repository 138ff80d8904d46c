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

__all__ = ["wrap_fields", "wrap_japanese"]

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


def wrap_fields(text: str, width: int, *, indent: int) -> list[str]:
    """Lines of the form 「label    field  field  field」 (fields apart by two spaces, the label
    `indent` cells wide and padded with spaces; other lines wrap flush left): broken between fields, so 「枝番 00」 or 「性別 女」 stays on one line;
    a field too wide for a line of its own is broken as Japanese text (wrap_japanese)."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        cut = next((i for i in range(len(paragraph) + 1) if cell_len(paragraph[:i]) >= indent), len(paragraph))
        label, fields = paragraph[:cut], [f for f in paragraph[cut:].split("  ") if f]
        if cell_len(label) != indent or not label.endswith(" ") or not fields:
            lines.extend(wrap_japanese(paragraph, width))  # a line of its own (a message): no label to hang from
            continue
        line, empty = label, True  # empty: no field on this line yet
        for field in fields:
            piece = field if empty else "  " + field
            if empty or cell_len(line + piece) <= width:
                line, empty = line + piece, False
                continue
            lines.extend(wrap_japanese(line, width, indent=indent))
            line = " " * indent + field
        lines.extend(wrap_japanese(line, width, indent=indent))
    return lines
