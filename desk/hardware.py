"""Opening the devices a command asked for: `sim:FIXTURE` or `pcsc[:NAME]` readers.

Library imports stay lazy so that `desk` starts fast and desk/ stays importable without them.
"""

from __future__ import annotations

from reader.errors import ReaderError
from reader.transport import Transport

__all__ = ["open_transport", "DEFAULT_SIM_CARD", "UnknownReaderSpec"]

DEFAULT_SIM_CARD = "adult"


class UnknownReaderSpec(ReaderError):
    title = "カードリーダーの指定が不正です"


def open_transport(spec: str | None, world=None) -> Transport:
    """`sim` / `sim:FIXTURE` (virtual card placed on the simulated reader) or `pcsc` / `pcsc:NAME`."""
    spec = spec or f"sim:{DEFAULT_SIM_CARD}"
    kind, _, arg = spec.partition(":")
    if kind == "sim":
        from sim.card import SimTransport
        from sim.world import SimWorld

        world = world or SimWorld()
        card = world.card(arg) if arg else None
        return SimTransport(card, name=f"sim:{arg}" if arg else "sim")
    if kind == "pcsc":
        from reader.pcsc import PcscTransport

        return PcscTransport(arg or None)
    raise UnknownReaderSpec(f"--reader は sim:カード名 または pcsc:リーダー名 で指定してください（指定値: {spec}）。")
