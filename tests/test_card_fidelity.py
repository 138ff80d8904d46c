"""The virtual card answers as real My Number cards do where independent clients look (OpenSC's
JPKI driver, jpki/myna, pcsc-tools): each choice and its source is in docs/virtual-card.md."""

from __future__ import annotations

import pytest
from cryptography import x509

from reader.atr import card_interface
from reader.layout import AP, JpkiEF
from sim.fixtures import CONTACT_ATR, CONTACTLESS_ATR, load_card_fixture


def apdu(card, hexstr: str) -> tuple[bytes, int]:
    raw = card.process(bytes.fromhex(hexstr.replace(" ", "")))
    return raw[:-2], int.from_bytes(raw[-2:], "big")


def read_der(card) -> bytes:
    """The selected EF's DER object, sized from its header as OpenSC does (4 bytes, then the rest)."""
    head, sw = apdu(card, "00B0000004")
    assert sw == 0x9000, hex(sw)
    size = int.from_bytes(head[2:4], "big") + 4
    return b"".join(apdu(card, f"00B0{offset:04X}{min(0xFF, size - offset):02X}")[0] for offset in range(0, size, 0xFF))


def select_jpki(card, ef: int) -> None:
    assert apdu(card, "00A4040C0A" + AP.JPKI.value.hex())[1] == 0x9000
    assert apdu(card, f"00A4020C02{int(ef):04X}")[1] == 0x9000


def test_a_card_on_an_nfc_reader_shows_a_contactless_atr(fresh_card):
    card = fresh_card("adult")
    assert card.atr.hex().upper() == CONTACTLESS_ATR and card_interface(card.atr) == "contactless"
    contact = load_card_fixture("adult").model_copy(update={"interface": "contact"})
    assert contact.atr == CONTACT_ATR and card_interface(bytes.fromhex(CONTACT_ATR)) == "contact"


def test_the_pin_status_is_63cx_even_after_a_correct_pin(fresh_card):
    card = fresh_card("adult")
    select_jpki(card, JpkiEF.AUTH_PIN)
    assert apdu(card, "00200080")[1] == 0x63C3
    assert apdu(card, "0020008004" + b"1234".hex())[1] == 0x9000
    assert apdu(card, "00200080")[1] == 0x63C3  # not 9000: OpenSC's driver fails on anything but 63Cx


def test_a_blocked_pin_says_63c0_to_the_query_and_6984_to_a_verify(fresh_card):
    card = fresh_card("pin-blocked")
    select_jpki(card, JpkiEF.AUTH_PIN)
    assert apdu(card, "00200080")[1] == 0x63C0
    assert apdu(card, "0020008004" + b"1234".hex())[1] == 0x6984


def test_the_signature_half_is_there_behind_the_signature_password(fresh_card):
    card = fresh_card("adult")
    select_jpki(card, JpkiEF.SIGN_CA_CERT)
    ca = x509.load_der_x509_certificate(read_der(card))
    assert apdu(card, "00A4020C020001")[1] == 0x9000
    assert apdu(card, "00B0000004")[1] == 0x6982  # the signature certificate names the holder
    select_jpki(card, JpkiEF.SIGN_PIN)
    assert apdu(card, "00200080")[1] == 0x63C5
    assert apdu(card, "0020008006" + b"ABC123".hex())[1] == 0x9000
    assert apdu(card, "00A4020C020001")[1] == 0x9000
    cert = x509.load_der_x509_certificate(read_der(card))
    assert cert.issuer == ca.subject and "digital signature" in ca.subject.rfc4514_string()
    assert load_card_fixture("adult").holder.name in cert.subject.rfc4514_string()
    assert cert.extensions.get_extension_for_class(x509.KeyUsage).value.content_commitment  # non-repudiation


def test_the_card_pads_and_signs_what_it_is_given(fresh_card):
    card = fresh_card("adult")
    select_jpki(card, JpkiEF.AUTH_PIN)
    apdu(card, "0020008004" + b"1234".hex())
    assert apdu(card, "00A4020C020017")[1] == 0x9000
    raw = b"any bytes, not a DigestInfo"
    signature, sw = apdu(card, f"802A0080{len(raw):02X}{raw.hex()}00")
    assert sw == 0x9000 and len(signature) == 256
    select_jpki(card, JpkiEF.AUTH_CERT)
    public = x509.load_der_x509_certificate(read_der(card)).public_key()
    numbers = public.public_numbers()  # type: ignore[union-attr]
    recovered = pow(int.from_bytes(signature, "big"), numbers.e, numbers.n).to_bytes(256, "big")
    assert recovered.endswith(b"\x00" + raw) and recovered.startswith(b"\x00\x01\xff")
    select_jpki(card, JpkiEF.AUTH_PIN)
    apdu(card, "0020008004" + b"1234".hex())
    apdu(card, "00A4020C020017")
    too_long = bytes(246)
    assert apdu(card, f"802A0080{len(too_long):02X}{too_long.hex()}00")[1] == 0x6700


@pytest.mark.parametrize(("p2", "sw"), [("0C", 0x9000), ("00", 0x9000), ("04", 0x6B00)])
def test_select_by_name_with_or_without_fci(fresh_card, p2, sw):
    card = fresh_card("adult")
    assert apdu(card, f"00A404{p2}0A" + AP.JPKI.value.hex())[1] == sw


def test_reading_at_or_past_the_end(fresh_card):
    card = fresh_card("adult")
    select_jpki(card, JpkiEF.TOKEN)  # 32 bytes
    data, sw = apdu(card, "00B0001000")  # from 16, 256 asked: the 16 that are there
    assert sw == 0x9000 and len(data) == 16
    assert apdu(card, "00B0002001")[1] == 0x6B00  # at the end: outside the EF
    assert apdu(card, "00B0010001")[1] == 0x6B00


def test_a_card_without_a_pin_has_no_signature_half(fresh_card):
    card = fresh_card("no-pin")
    assert apdu(card, "00A4040C0A" + AP.JPKI.value.hex())[1] == 0x9000
    for ef in (JpkiEF.AUTH_PIN, JpkiEF.SIGN_PIN, JpkiEF.SIGN_CERT, JpkiEF.SIGN_KEY):
        assert apdu(card, f"00A4020C02{int(ef):04X}")[1] == 0x6A82, hex(ef)
    assert apdu(card, "00A4020C020002")[1] == 0x9000  # the signature CA's certificate is public
