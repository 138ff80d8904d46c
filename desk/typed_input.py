"""What staff type, or a spreadsheet exports, made into the values a query needs: full-width
digits made ASCII, birth dates in the forms people write them, and which typed field was wrong.

One place for the F6 screen, `desk check --numbers`, `desk bulk` and the PIN prompts.
"""

from __future__ import annotations

import datetime as dt
import re

from pydantic import ValidationError

__all__ = ["FULL_WIDTH_DIGITS", "to_halfwidth", "parse_birth_date", "wrong_query_fields"]

FULL_WIDTH_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")
_FULL_WIDTH = str.maketrans("０１２３４５６７８９－／\u3000", "0123456789-/ ")
# NumbersQuery's fields as the staff know them
_QUERY_FIELDS = {
    "insurer_number": "保険者番号",
    "insured_card_symbol": "記号",
    "insured_identification_number": "番号",
    "insured_branch_number": "枝番",
    "birth_date": "生年月日",
}


def to_halfwidth(text: str) -> str:
    """Full-width digits, hyphen, slash and the ideographic space as a Japanese input method types
    them, made ASCII."""
    return text.translate(_FULL_WIDTH)


def parse_birth_date(text: str) -> dt.date | None:
    """YYYY-MM-DD, YYYY/MM/DD, YYYY.MM.DD (months and days with or without a leading zero) or
    YYYYMMDD, full-width digits too; None when it is none of these or no real day."""
    text = to_halfwidth(text).strip()
    parts = re.split(r"[-/.]", text)
    if len(parts) == 3 and len(parts[0]) == 4 and all(p.isascii() and p.isdigit() for p in parts):
        year, month, day = (int(p) for p in parts)
    elif re.fullmatch(r"\d{8}", text):
        year, month, day = int(text[:4]), int(text[4:6]), int(text[6:])
    else:
        return None
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def wrong_query_fields(exc: ValidationError) -> list[str]:
    """The NumbersQuery fields a validation error names, as the staff call them."""
    names = (str(e["loc"][0]) for e in exc.errors() if e.get("loc"))
    return list(dict.fromkeys(_QUERY_FIELDS.get(n, n) for n in names))
