"""PcscTransport and MynaCard on a physical reader with a real My Number card on it (no PIN used)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.hardware


def test_the_reader_is_listed(physical_reader):
    from reader.pcsc import list_readers

    names = [r.name for r in list_readers()]
    assert any(physical_reader.lower() in n.lower() for n in names), names


def test_read_info_from_a_real_card(physical_reader):
    from reader.card import MynaCard
    from reader.pcsc import PcscTransport
    from reader.trace import TracingTransport, forbidden_selections

    transport = PcscTransport(physical_reader)
    try:
        assert transport.wait_for_card(30), "place a My Number card on the reader"
        transport.connect()
        assert transport.atr
        traced = TracingTransport(transport)
        info = MynaCard(traced).read_info()
    finally:
        transport.close()
    assert info.token == "JPKIAPICCTOKEN2"
    assert info.certificate.serial > 0
    assert info.pin_tries_left is None or 0 <= info.pin_tries_left <= 3
    assert forbidden_selections(traced.entries) == []
