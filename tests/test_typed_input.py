"""Typed values (desk/typed_input.py): one reading for the F6 screen, desk check and desk bulk."""

from __future__ import annotations

import datetime as dt

import pytest

from desk.typed_input import parse_birth_date, to_halfwidth


@pytest.mark.parametrize("text", ["1985-04-12", "1985/04/12", "1985.04.12", "19850412", "1985-4-12", " １９８５－０４－１２ ", "1985／4／12"])
def test_birth_dates_as_people_write_them(text: str) -> None:
    assert parse_birth_date(text) == dt.date(1985, 4, 12)


@pytest.mark.parametrize("text", ["", "4/12", "85-04-12", "1985-13-01", "1985-02-30", "198504120", "1985-04-12-1", "一九八五"])
def test_what_is_no_birth_date(text: str) -> None:
    assert parse_birth_date(text) is None


def test_full_width_input_made_ascii() -> None:
    assert to_halfwidth("０１１３００１２\u3000４０１２－１／２") == "01130012 4012-1/2"
