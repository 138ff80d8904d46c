"""PcscTransport: first against a fake pyscard connection (exact bytes, 61xx/6Cxx, error
mapping), then against the real pcscd with the virtual card served through vpcd."""

from __future__ import annotations

import threading
from unittest import mock

import pytest

from reader.card import MynaCard
from reader.errors import (
    CardRemoved,
    MalformedCardResponse,
    NoCard,
    NoReader,
    ReaderGone,
    TransportError,
)
from sim.fixtures import FaultsFixture
from sim.vpcd import VPCD_READER
from tests.pcsc_stack import STRICT, place_card, wait_until

if STRICT:
    import smartcard  # noqa: F401  (root/CI: pyscard must be there; fail loudly if not)
else:
    pytest.importorskip("smartcard", reason="pyscard not installed (needs libpcsclite-dev, swig)")

from smartcard import scard  # noqa: E402
from smartcard.Exceptions import CardConnectionException, NoCardException  # noqa: E402

from reader.pcsc import PcscTransport, PcscUnavailable, SlotState, choose_reader, list_readers  # noqa: E402


def HEX(text: str) -> list[int]:
    return list(bytes.fromhex(text))


def RSP(text: str) -> tuple[list[int], int, int]:
    """A pyscard transmit() result from hex, SW included: RSP("4A50 9000")."""
    raw = bytes.fromhex(text)
    return list(raw[:-2]), raw[-2], raw[-1]


def fake(*responses, slot_state: SlotState = SlotState.PRESENT) -> tuple[PcscTransport, mock.Mock]:
    connection = mock.Mock()
    connection.transmit.side_effect = list(responses)
    connection.getATR.return_value = HEX("3BE000FF8131FE4514")
    transport = PcscTransport("Fake Reader 00 00", connection=connection, slot_state=lambda settle: slot_state)
    transport.connect()
    return transport, connection


def sent(connection: mock.Mock) -> list[list[int]]:
    return [c.args[0] for c in connection.transmit.call_args_list]


def _japanese(text: str) -> bool:
    return any("\u3040" <= ch <= "\u9fff" for ch in text)


# -- bytes in, bytes out ------------------------------------------------------------------------


def test_connects_t0_or_t1_and_converts_lists_to_bytes():
    transport, connection = fake(RSP("4A50 9000"))
    connection.connect.assert_called_once_with(1 | 2)  # CardConnection.T0_protocol | T1_protocol
    assert transport.transmit(bytes.fromhex("00B0000002")) == b"JP\x90\x00"
    assert sent(connection) == [HEX("00B0000002")]
    assert transport.atr == bytes.fromhex("3BE000FF8131FE4514")
    assert transport.name == "pcsc:Fake Reader 00 00"


def test_61xx_is_followed_by_get_response():
    transport, connection = fake(
        RSP("0102 6104"),  # first part of the data, 4 more bytes wait
        RSP("03040506 9000"),  # GET RESPONSE Le=04
    )
    assert transport.transmit(bytes.fromhex("00B0000006")) == bytes.fromhex("010203040506 9000")
    assert sent(connection) == [HEX("00B0000006"), HEX("00C0000004")]


def test_6Cxx_resends_with_the_le_the_card_asked_for():
    transport, connection = fake(
        RSP("6C20"),  # wrong Le: the card has 0x20 bytes
        RSP("4A504B49415049434354 4F4B454E32" + "20" * 17 + "9000"),  # the 32-byte token
    )
    response = transport.transmit(bytes.fromhex("00B0000000"))
    assert response[:15] == b"JPKIAPICCTOKEN2" and response[-2:] == b"\x90\x00"
    assert sent(connection) == [HEX("00B0000000"), HEX("00B0000020")]


def test_card_protocol_over_the_fake_sends_the_real_apdus():
    transport, connection = fake(
        RSP("9000"),  # SELECT JPKI AP
        RSP("9000"),  # SELECT EF 0006 (token)
        RSP("6120"),  # READ BINARY: T=0 style, 32 bytes via GET RESPONSE
        RSP("4A504B49415049434354 4F4B454E32" + "20" * 17 + "9000"),
    )
    assert MynaCard(transport).read_token() == "JPKIAPICCTOKEN2"
    assert sent(connection) == [
        HEX("00A4040C0A D392F000260100000001"),
        HEX("00A4020C02 0006"),
        HEX("00B0000020"),
        HEX("00C0000020"),
    ]


# -- pyscard errors become ours, with a message for the staff -----------------------------------


@pytest.mark.parametrize(
    ("hresult", "slot", "expected", "says"),
    [
        (scard.SCARD_W_REMOVED_CARD, SlotState.EMPTY, CardRemoved, "カードをもう一度置いて"),
        (scard.SCARD_E_NO_SMARTCARD, SlotState.EMPTY, CardRemoved, "取り外されました"),
        (scard.SCARD_E_NO_SERVICE, SlotState.NO_SERVICE, ReaderGone, "pcscd"),
        (scard.SCARD_E_SERVICE_STOPPED, SlotState.NO_SERVICE, ReaderGone, "pcscd"),
        (scard.SCARD_E_INVALID_HANDLE, SlotState.NO_SERVICE, ReaderGone, "pcscd"),
        (scard.SCARD_E_READER_UNAVAILABLE, SlotState.NO_READER, ReaderGone, "USBケーブル"),
        (scard.SCARD_W_RESET_CARD, SlotState.PRESENT, TransportError, "リセット"),
        # A broken exchange: what pcscd then reports about the slot decides.
        (scard.SCARD_E_NOT_TRANSACTED, SlotState.EMPTY, CardRemoved, "取り外されました"),
        (scard.SCARD_E_NOT_TRANSACTED, SlotState.NO_READER, ReaderGone, "USBケーブル"),
        (scard.SCARD_E_NOT_TRANSACTED, SlotState.NO_SERVICE, ReaderGone, "pcscd"),
        (scard.SCARD_E_NOT_TRANSACTED, SlotState.PRESENT, TransportError, "置き直して"),
    ],
)
def test_transmit_errors_are_mapped(hresult, slot, expected, says):
    transport, connection = fake(CardConnectionException("Failed to transmit", hresult=hresult), slot_state=slot)
    with pytest.raises(expected) as err:
        transport.transmit(bytes.fromhex("00A4040C0AD392F000260100000001"))
    assert type(err.value) is expected
    assert says in str(err.value) and _japanese(err.value.title)
    # the dead connection is let go; the next command says so instead of hanging
    connection.disconnect.assert_called_once()
    with pytest.raises(NoCard):
        transport.transmit(bytes.fromhex("00A4040C0AD392F000260100000001"))


@pytest.mark.parametrize(("slot", "expected"), [(SlotState.PRESENT, MalformedCardResponse), (SlotState.EMPTY, CardRemoved)])
def test_a_response_without_status_word(slot, expected):
    # pyscard raises with hresult SCARD_S_SUCCESS when fewer than two bytes came back: a card
    # that answered badly, or (through vpcd) one that was pulled while it worked
    transport, connection = fake(CardConnectionException("Card returned no valid response", hresult=0), slot_state=slot)
    with pytest.raises(expected):
        transport.transmit(bytes.fromhex("00B0000004"))


@pytest.mark.parametrize(
    ("error", "expected", "says"),
    [
        (NoCardException("Unable to connect", hresult=scard.SCARD_E_NO_SMARTCARD), NoCard, "カードを置いてください"),
        (CardConnectionException("x", hresult=scard.SCARD_W_REMOVED_CARD), NoCard, "カードを置いてください"),
        (CardConnectionException("x", hresult=scard.SCARD_E_NO_SERVICE), PcscUnavailable, "pcscd"),
        (CardConnectionException("x", hresult=scard.SCARD_E_UNKNOWN_READER), NoReader, "USBケーブル"),
        (CardConnectionException("x", hresult=scard.SCARD_E_SHARING_VIOLATION), TransportError, "ほかのアプリ"),
        (CardConnectionException("x", hresult=scard.SCARD_W_UNRESPONSIVE_CARD), TransportError, "向き"),
    ],
)
def test_connect_errors_are_mapped(error, expected, says):
    connection = mock.Mock()
    connection.connect.side_effect = error
    transport = PcscTransport("Fake Reader 00 00", connection=connection)
    with pytest.raises(expected) as err:
        transport.connect()
    assert says in str(err.value)
    with pytest.raises(NoCard):
        transport.transmit(bytes.fromhex("00B0000004"))


def test_reader_choice():
    names = ["ACS ACR39U ICC Reader 00 00", "SONY FeliCa RC-S300 01 00", "Virtual PCD 00 00"]
    present = {"Virtual PCD 00 00": True}
    assert choose_reader(names, present, None) == "Virtual PCD 00 00"  # the one with a card
    assert choose_reader(names, {}, None) == names[0]  # no card anywhere: the first
    assert choose_reader(names, {}, "felica") == "SONY FeliCa RC-S300 01 00"  # substring, any case
    assert choose_reader(names + ["Virtual PCD 00 01"], {"Virtual PCD 00 01": True}, "Virtual") == "Virtual PCD 00 01"
    with pytest.raises(NoReader) as err:
        choose_reader(names, {}, "Gemalto")
    assert "ACS ACR39U ICC Reader 00 00" in str(err.value) and "desk readers" in str(err.value)
    with pytest.raises(NoReader) as err:
        choose_reader([], {}, None)
    assert "接続されていません" in str(err.value)


# -- the real pcscd, vpcd and our card server ---------------------------------------------------


@pytest.fixture
def stack(pcsc_stack):
    return pcsc_stack


@pytest.fixture
def empty_stack(pcsc_stack):
    """The running stack with its first slot empty, as pcscd sees it."""
    pcsc_stack.remove()
    probe = PcscTransport(VPCD_READER)
    probe.wait_for_removal(5)
    probe.close()
    return pcsc_stack


@pytest.mark.pcsc
def test_readers_listed_with_card_presence(stack, fresh_card):
    card = fresh_card("adult")
    place_card(stack, card)
    readers = {r.name: r for r in list_readers()}
    assert readers[VPCD_READER].card_present
    assert readers[VPCD_READER].atr == bytes.fromhex(card.fixture.atr).hex(" ").upper()
    assert readers[VPCD_READER].interface == "contactless"
    assert not readers["Virtual PCD 00 01"].card_present


@pytest.mark.pcsc
def test_no_reader_name_picks_the_reader_with_the_card(stack, fresh_card):
    place_card(stack, fresh_card("adult"))
    transport = PcscTransport(None)
    try:
        transport.connect()
        assert transport.reader == VPCD_READER
        assert MynaCard(transport).read_token() == "JPKIAPICCTOKEN2"
    finally:
        transport.close()


@pytest.mark.pcsc
def test_unknown_reader_name_lists_the_readers(stack):
    with pytest.raises(NoReader) as err:
        PcscTransport("Gemalto IDBridge").connect()
    assert VPCD_READER in str(err.value)


@pytest.mark.pcsc
def test_empty_slot(empty_stack):
    transport = PcscTransport(VPCD_READER)
    try:
        assert transport.wait_for_card(0.2) is False
        assert transport.wait_for_removal(0.2) is True
        with pytest.raises(NoCard) as err:
            transport.connect()
        assert "カードを置いてください" in str(err.value)
    finally:
        transport.close()


@pytest.mark.pcsc
def test_insert_and_remove_callbacks(empty_stack, fresh_card):
    stack = empty_stack
    events: list[str] = []
    transport = PcscTransport(VPCD_READER)
    transport.watch(lambda: events.append("inserted"), lambda: events.append("removed"))
    try:
        place_card(stack, fresh_card("adult"))
        assert wait_until(lambda: events == ["inserted"], timeout=3)
        stack.remove()
        assert wait_until(lambda: events == ["inserted", "removed"], timeout=3)
        place_card(stack, fresh_card("elder-80"))
        assert wait_until(lambda: events == ["inserted", "removed", "inserted"], timeout=3)
    finally:
        transport.close()
    stack.remove()
    assert events == ["inserted", "removed", "inserted"]  # nothing after close()


@pytest.mark.pcsc
def test_card_server_stopped_mid_read(stack, fresh_card):
    card = fresh_card("adult")
    card.faults = FaultsFixture(delay_ms=300)  # a slow card: the stop lands while it works on the first command
    place_card(stack, card)
    transport = PcscTransport(VPCD_READER)
    try:
        transport.connect()
        timer = threading.Timer(0.1, stack.remove)
        timer.start()
        with pytest.raises((CardRemoved, ReaderGone)) as err:
            MynaCard(transport).read_info()
        timer.join()
        assert "置いて" in str(err.value) or "挿し直して" in str(err.value)
    finally:
        transport.close()


@pytest.mark.pcsc
def test_desk_readers_lists_the_virtual_reader(stack, fresh_card, capsys):
    from desk.cli import main

    place_card(stack, fresh_card("adult"))
    assert main(["readers"]) == 0
    out = capsys.readouterr().out
    assert VPCD_READER in out and "カードあり" in out and "カードなし" in out


@pytest.mark.pcsc
def test_desk_card_info_over_pcsc(stack, fresh_card, capsys):
    import json

    from desk.cli import main

    place_card(stack, fresh_card("elder-72"))
    assert main(["card", "info", "--reader", "pcsc:Virtual PCD 00 00", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["reader"] == f"pcsc:{VPCD_READER}"
    assert info["token"] == "JPKIAPICCTOKEN2"
    assert info["certificate"]["serial"] == fresh_card("elder-72").fixture.certificate.serial


@pytest.mark.pcsc
def test_pcscd_stopped(stack, fresh_card, capsys):
    from desk.cli import main

    if not stack.owns_pcscd:
        pytest.skip("this pcscd was not started by the tests; it is not ours to stop")
    place_card(stack, fresh_card("adult"))
    connected = PcscTransport(VPCD_READER)
    connected.connect()
    watched: list[str] = []
    connected.watch(lambda: watched.append("inserted"), lambda: watched.append("removed"))
    try:
        stack.stop_pcscd()
        with pytest.raises(ReaderGone) as err:
            connected.transmit(bytes.fromhex("00A4040C0AD392F000260100000001"))
        assert "pcscd" in str(err.value) and "起動" in str(err.value)
        assert wait_until(lambda: watched == ["removed"], timeout=3)

        with pytest.raises(PcscUnavailable) as err:
            list_readers()
        assert "pcscd" in str(err.value)
        with pytest.raises(NoReader) as err:  # PcscUnavailable is a NoReader
            PcscTransport(VPCD_READER).connect()
        assert "pcscd" in str(err.value)

        assert main(["readers"]) == 1
        message = capsys.readouterr().err
        assert "pcscd" in message and "起動" in message
    finally:
        stack.start_pcscd()
    try:
        # the stack is whole again for the tests after this one, and the watcher saw it come back
        place_card(stack, fresh_card("adult"))
        assert any(r.card_present for r in list_readers())
        assert wait_until(lambda: watched == ["removed", "inserted"], timeout=3)
    finally:
        connected.close()


@pytest.mark.pcsc
def test_serving_a_card_by_hand(empty_stack, sim_dir, world):
    """`python -m sim.vpcd --card NAME` puts a card on the reader until it is stopped."""
    import os
    import signal
    import subprocess
    import sys

    world.reset_card("child-5")
    env = dict(os.environ, MADOGUCHI_SIM_DIR=str(sim_dir))
    server = subprocess.Popen(
        [sys.executable, "-m", "sim.vpcd", "--card", "child-5"], env=env, stderr=subprocess.PIPE, text=True
    )
    transport = PcscTransport(VPCD_READER)
    try:
        assert transport.wait_for_card(15), "the card served by hand never showed up"
        transport.connect()
        info = MynaCard(transport).read_info()
        assert info.certificate.serial == world.card("child-5").fixture.certificate.serial
        server.send_signal(signal.SIGTERM)
        assert server.wait(10) == 0
        assert transport.wait_for_removal(5)
    finally:
        transport.close()
        if server.poll() is None:
            server.kill()
            server.wait()
    assert "child-5" in server.stderr.read()
