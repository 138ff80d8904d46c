"""Smartphones carrying the スマホ用電子証明書 (docs/smartphone.md), over SimTransport and through
pcscd+vpcd: the virtual phones answer as the research says a phone does, and the desk tells a
phone from a card and answers with the fallback steps (it does not confirm through a phone yet)."""

from __future__ import annotations

import json

import pytest
from cryptography import x509

from desk.cli import main
from reader.errors import SmartphoneNotSupported
from sim.fixtures import list_phone_fixtures, load_card_fixture

SELECT_JPKI = bytes.fromhex("00A4040C0AD392F000260100000001")
SELECT_AUTH_CERT = bytes.fromhex("00A4020C02000A")
SELECT_AUTH_PIN = bytes.fromhex("00A4020C020018")
SELECT_AUTH_KEY = bytes.fromhex("00A4020C020017")
READ_4 = bytes.fromhex("00B0000004")
SELECT_SURFACE = bytes.fromhex("00A4040C0AD3921000310001010402")
DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420") + bytes(32)


def _sw(response: bytes) -> str:
    return response[-2:].hex().upper()


def test_the_phone_fixtures() -> None:
    assert list_phone_fixtures() == ["android", "android-pin-blocked", "iphone", "iphone-locked"]
    for name in list_phone_fixtures():
        fixture = load_card_fixture(name)  # placed on the reader like a card
        assert fixture.device in {"android", "iphone"} and fixture.atr != load_card_fixture("adult").atr


@pytest.mark.parametrize(("name", "device"), [("android", "Android"), ("iphone", "iPhone"), ("iphone-locked", "iPhone")])
def test_the_desk_tells_a_phone_from_a_card(card_on_reader, fresh_card, name: str, device: str) -> None:
    card, _ = card_on_reader(fresh_card(name))
    with pytest.raises(SmartphoneNotSupported) as caught:
        card.read_info()
    assert caught.value.device == device and "マイナンバーカード" in caught.value.msg


def test_android_opens_its_certificate_only_after_the_pin(card_on_reader, fresh_card, world) -> None:
    _, phone = card_on_reader(fresh_card("android"))
    assert _sw(phone.transmit(SELECT_SURFACE)) == "6A82"  # only the JPKI application
    assert _sw(phone.transmit(SELECT_JPKI)) == "9000"
    assert _sw(phone.transmit(SELECT_AUTH_CERT)) == "9000"
    assert _sw(phone.transmit(READ_4)) == "6982"  # unlike the card: no certificate before the PIN
    assert _sw(phone.transmit(SELECT_AUTH_PIN)) == "9000"
    assert _sw(phone.transmit(bytes.fromhex("0020008004") + b"1234")) == "63C2"  # the card's PIN is not the phone's
    assert _sw(phone.transmit(bytes.fromhex("0020008004") + b"5678")) == "9000"
    assert _sw(phone.transmit(SELECT_AUTH_CERT)) == "9000"
    der_head = phone.transmit(READ_4)
    assert _sw(der_head) == "9000" and der_head[0] == 0x30
    assert _sw(phone.transmit(SELECT_AUTH_KEY)) == "9000"
    assert _sw(phone.transmit(bytes.fromhex("802A008033") + DIGEST_INFO + b"\x00")) == "9000"


def test_a_blocked_android_pin(card_on_reader, fresh_card) -> None:
    _, phone = card_on_reader(fresh_card("android-pin-blocked"))
    phone.transmit(SELECT_JPKI)
    phone.transmit(SELECT_AUTH_PIN)
    assert _sw(phone.transmit(bytes.fromhex("00200080"))) == "63C0"
    assert _sw(phone.transmit(bytes.fromhex("0020008004") + b"5678")) == "6984"


def test_iphone_after_face_id_signs_without_a_pin_and_a_locked_one_does_not(card_on_reader, fresh_card, world) -> None:
    _, phone = card_on_reader(fresh_card("iphone"))
    phone.transmit(SELECT_JPKI)
    phone.transmit(SELECT_AUTH_KEY)
    assert _sw(phone.transmit(bytes.fromhex("802A008033") + DIGEST_INFO + b"\x00")) == "9000"
    phone.transmit(SELECT_AUTH_CERT)
    assert _sw(phone.transmit(READ_4)) == "9000"
    _, locked = card_on_reader(fresh_card("iphone-locked"))
    locked.transmit(SELECT_JPKI)
    locked.transmit(SELECT_AUTH_CERT)
    assert _sw(locked.transmit(READ_4)) == "6982"


def test_the_phone_certificate_comes_from_the_phone_ca(fresh_card, world) -> None:
    phone = fresh_card("iphone")
    der = phone._apps[SELECT_JPKI[5:]].files[0x000A].data  # the certificate as the phone holds it
    cert = x509.load_der_x509_certificate(der)
    assert world.ca.smartphone_ca.verify_issued(cert) and not world.ca.verify_issued(cert)
    assert "smartphone" in cert.issuer.rfc4514_string()


@pytest.mark.parametrize("name", ["android", "iphone"])
def test_desk_check_answers_a_phone_with_the_fallback_steps(tmp_path, capsys, name: str) -> None:
    args = ["check", "--sim-dir", str(tmp_path), "--card", name, "--method", "pin", "--pin", "5678", "--json"]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["outcome"]["name"] == "smartphone_not_supported" and out["outcome"]["code"] is None
    codes = [s["code"] for s in out["steps"]]
    assert codes[0] == "smartphone_not_supported" and "show_portal_or_notice" in codes
    assert out["record"] == "journal"  # the attempt is kept, as a card that is not a My Number card is
