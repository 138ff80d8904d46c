"""What an ATR says about how the card meets the reader.

A PC/SC reader builds a contactless card's ATR itself (PC/SC Part 3, 3.1.3.2.3): `3B 8n 80 01`
followed by the card's historical bytes (for ISO 14443-4 Type B, the ATQB's application data and
protocol info) and a check byte. Anything else comes from the card's contacts.
"""

from __future__ import annotations

from typing import Literal

__all__ = ["Interface", "card_interface", "format_atr", "INTERFACE_LABELS"]

Interface = Literal["contactless", "contact"]
INTERFACE_LABELS: dict[str, str] = {"contactless": "非接触（NFC）", "contact": "接触"}


def card_interface(atr: bytes) -> Interface:
    if len(atr) >= 4 and atr[0] == 0x3B and atr[1] & 0xF0 == 0x80 and atr[2] == 0x80 and atr[3] == 0x01:
        return "contactless"
    return "contact"


def format_atr(atr: bytes) -> str:
    """`3B 88 80 01 …`, as pcsc-tools writes ATRs (bytes apart: no run of digits that could be
    mistaken for anything else)."""
    return atr.hex(" ").upper()
