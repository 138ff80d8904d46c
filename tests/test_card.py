"""MynaCard against the virtual card: the same suite over every transport in conftest.TRANSPORTS."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from reader.errors import (
    CardRemoved,
    InvalidInput,
    MalformedCardResponse,
    NoPinSet,
    NotMyNumberCard,
    PinBlocked,
    SecurityStatusNotSatisfied,
    WrongPin,
)
from reader.layout import AP, FORBIDDEN_FILES, InputSupportEF
from reader.trace import forbidden_selections, selected_files
from sim.fixtures import FaultsFixture, list_card_fixtures, load_card_fixture


def test_read_info_adult(card_on_reader, fresh_card):
    card, _ = card_on_reader(fresh_card("adult"))
    info = card.read_info()
    assert info.token == "JPKIAPICCTOKEN2"
    assert info.certificate.serial == 100001
    assert info.certificate.expiry_date == dt.date(2028, 4, 9)
    assert info.pin_tries_left == 3


@pytest.mark.parametrize("name", [n for n in list_card_fixtures() if n != "not-mynumber"])
def test_every_fixture_reads_its_certificate(card_on_reader, fresh_card, name):
    card, _ = card_on_reader(fresh_card(name))
    fixture = load_card_fixture(name)
    info = card.read_info()
    assert info.certificate.serial == fixture.certificate.serial
    assert info.certificate.expiry_date == fixture.certificate.not_after
    expected = None if fixture.pins.auth is None else fixture.pins.auth.tries_left
    assert info.pin_tries_left == expected


def test_not_my_number_card_is_refused(card_on_reader, fresh_card):
    card, _ = card_on_reader(fresh_card("not-mynumber"))
    with pytest.raises(NotMyNumberCard) as err:
        card.read_info()
    assert "JPKIAPICCTOKEN" in str(err.value)


def test_certificate_is_issued_by_the_sim_ca_and_read_to_its_der_length(card_on_reader, fresh_card, world):
    card, _ = card_on_reader(fresh_card("adult"))
    cert = card.read_auth_certificate()
    parsed = x509.load_der_x509_certificate(cert.der)
    parsed.verify_directly_issued_by(world.ca.certificate)


def test_pin_path_signs_the_challenge(card_on_reader, fresh_card):
    card, trace = card_on_reader(fresh_card("adult"))
    cert = card.read_auth_certificate()
    signature = card.authenticate("1234", b"nonce-from-central")
    public_key = x509.load_der_x509_certificate(cert.der).public_key()
    public_key.verify(signature, b"nonce-from-central", padding.PKCS1v15(), hashes.SHA256())
    # the PIN never appears in the trace
    assert not any("31 32 33 34" in line for line in trace.lines())
    assert any("00 20 00 80 04 ** ** ** **" in line for line in trace.lines())


def test_wrong_pin_counts_down_then_blocks_and_persists(card_on_reader, fresh_card, world):
    virtual = fresh_card("pin-one-try")
    card, _ = card_on_reader(virtual)
    assert card.auth_pin_tries_left() == 1
    with pytest.raises(PinBlocked) as err:
        card.verify_auth_pin("9999")
    assert err.value.sw == 0x63C0
    with pytest.raises(PinBlocked) as err:
        card.verify_auth_pin("1234")  # even the right PIN: the card is locked
    assert err.value.sw == 0x6984
    # a new session with the same card keeps the counter, as the chip does
    again, _ = card_on_reader(world.card("pin-one-try"))
    assert again.auth_pin_tries_left() == 0


def test_wrong_pin_keeps_raw_sw_and_tries(card_on_reader, fresh_card):
    card, _ = card_on_reader(fresh_card("adult"))
    with pytest.raises(WrongPin) as err:
        card.verify_auth_pin("0000")
    assert (err.value.sw, err.value.tries_left) == (0x63C2, 2)
    card.verify_auth_pin("1234")  # success resets the counter
    assert card.auth_pin_tries_left() == 3


def test_blocked_card_query_spends_nothing(card_on_reader, fresh_card):
    card, _ = card_on_reader(fresh_card("pin-blocked"))
    assert card.auth_pin_tries_left() == 0
    with pytest.raises(PinBlocked):
        card.verify_auth_pin("1234")


def test_card_without_pin(card_on_reader, fresh_card):
    card, _ = card_on_reader(fresh_card("no-pin"))
    assert card.auth_pin_tries_left() is None
    with pytest.raises(NoPinSet):
        card.verify_auth_pin("1234")


def test_pin_format_is_checked_before_the_card_sees_it(card_on_reader, fresh_card):
    card, trace = card_on_reader(fresh_card("adult"))
    with pytest.raises(InvalidInput):
        card.verify_auth_pin("12a4")
    assert trace.entries == []


def test_sign_without_verify_is_refused(card_on_reader, fresh_card):
    card, _ = card_on_reader(fresh_card("adult"))
    card.read_token()
    with pytest.raises(SecurityStatusNotSatisfied) as err:
        card.sign(b"x")
    assert err.value.sw == 0x6982


def test_face_photo_with_check_b(card_on_reader, fresh_card):
    virtual = fresh_card("adult")
    card, _ = card_on_reader(virtual)
    photo = card.read_face_photo(virtual.fixture.check_b)
    assert photo == virtual.fixture.photo_path.read_bytes()
    assert photo[4:8] == b"jP  "  # JPEG 2000 signature box


def test_face_photo_wrong_check_b(card_on_reader, fresh_card):
    card, _ = card_on_reader(fresh_card("adult"))
    with pytest.raises(WrongPin):
        card.read_face_photo("00000000000000")


def test_basic_four_with_non_jis_name(card_on_reader, fresh_card):
    card, _ = card_on_reader(fresh_card("non-jis-name"))
    four = card.read_basic_four("1234")
    assert four.name == "山﨑　葵"
    assert (four.birth_date, four.sex, four.sex_name) == ("19920229", "2", "女")


def test_no_path_selects_the_my_number(card_on_reader, fresh_card):
    virtual = fresh_card("adult")
    card, trace = card_on_reader(virtual)
    card.read_info()
    card.authenticate("1234", b"n")
    card.read_face_photo(virtual.fixture.check_b)
    card.read_basic_four("1234")
    card.input_support_pin_tries_left()
    assert (AP.INPUT_SUPPORT.value, InputSupportEF.BASIC_FOUR) in selected_files(trace.entries)
    assert forbidden_selections(trace.entries) == []


def test_the_guard_refuses_a_forbidden_select(card_on_reader, fresh_card):
    card, trace = card_on_reader(fresh_card("adult"))
    card._select_ap(AP.INPUT_SUPPORT)
    for ap, fid in FORBIDDEN_FILES:
        if ap == AP.INPUT_SUPPORT.value:
            with pytest.raises(AssertionError):
                card._select_ef(fid, "x")
    assert forbidden_selections(trace.entries) == []


@pytest.mark.parametrize("after", [0, 1, 2, 3, 5, 8])
def test_card_pulled_mid_read(card_on_reader, fresh_card, after):
    virtual = fresh_card("adult")
    virtual.faults = FaultsFixture(remove_after=after)
    card, _ = card_on_reader(virtual)
    with pytest.raises(CardRemoved):
        card.read_info()


def test_truncated_response(card_on_reader, fresh_card):
    virtual = fresh_card("adult")
    virtual.faults = FaultsFixture(truncate_at=3)
    card, _ = card_on_reader(virtual)
    with pytest.raises(MalformedCardResponse):
        card.read_info()


def test_corrupted_certificate(card_on_reader, fresh_card):
    virtual = fresh_card("adult")
    virtual.faults = FaultsFixture(corrupt_at=6)  # the first READ BINARY of EF 000A
    card, _ = card_on_reader(virtual)
    with pytest.raises(MalformedCardResponse):
        card.read_info()


def test_wrong_status_word(card_on_reader, fresh_card):
    from reader.errors import CardStatusError

    virtual = fresh_card("adult")
    virtual.faults = FaultsFixture(wrong_sw_at=1, wrong_sw=0x6F00)
    card, _ = card_on_reader(virtual)
    with pytest.raises(CardStatusError) as err:
        card.read_info()
    assert err.value.sw == 0x6F00
