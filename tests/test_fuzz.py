"""Property tests (hypothesis): parsers and the virtual card never crash on odd input.

Example counts are set per test; `pytest --hypothesis-show-statistics` prints what ran.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reader.apdu import Command, MalformedResponse, Response
from reader.tlv import TlvError, der_total_length, encode_tlv, iter_tlv, parse_tlv
from sim.fixtures import CardFixture, FixtureError, load_card_fixture

FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(st.binary(max_size=300))
def test_response_parser_total(raw):
    try:
        response = Response.from_bytes(raw)
    except MalformedResponse:
        assert len(raw) < 2
        return
    assert response.to_bytes() == raw


@FUZZ
@given(st.binary(max_size=300))
def test_command_parser_round_trips_or_refuses(raw):
    try:
        cmd = Command.from_bytes(raw)
    except ValueError:
        return
    assert Command.from_bytes(cmd.to_bytes()) == cmd


@FUZZ
@given(
    st.integers(0, 255), st.integers(0, 255), st.integers(0, 255), st.integers(0, 255),
    st.binary(max_size=255), st.one_of(st.none(), st.integers(1, 256)),
)
def test_command_round_trip(cla, ins, p1, p2, data, le):
    cmd = Command(cla, ins, p1, p2, data, le)
    assert Command.from_bytes(cmd.to_bytes()) == cmd


@FUZZ
@given(st.binary(max_size=200))
def test_tlv_parsers_raise_only_tlv_error(raw):
    for parse in (iter_tlv, parse_tlv, der_total_length):
        try:
            parse(raw)
        except TlvError:
            pass


tags = st.sampled_from([0x04, 0x30, 0xDF21, 0xDF22, 0xDF27, 0xFF20, 0x5F1F])


@FUZZ
@given(st.lists(st.tuples(tags, st.binary(max_size=400)), max_size=6))
def test_tlv_round_trip(items):
    encoded = b"".join(encode_tlv(tag, value) for tag, value in items)
    parsed = iter_tlv(encoded, allow_padding=False)
    assert [(t.tag, t.value) for t in parsed] == items
    for tag, value in items:
        one = encode_tlv(tag, value)
        assert der_total_length(one[:8]) == len(one)


@FUZZ
@given(st.dictionaries(st.text(max_size=12), st.one_of(st.none(), st.integers(), st.text(max_size=20)), max_size=8))
def test_card_fixture_model_refuses_junk_with_a_validation_error(raw):
    from pydantic import ValidationError

    try:
        CardFixture.model_validate(raw)
    except ValidationError:
        pass


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=400))
def test_card_fixture_loader_reports_a_fixture_error(tmp_path_factory, raw):
    path = tmp_path_factory.mktemp("fx") / "broken.json"
    path.write_bytes(raw)
    with pytest.raises(FixtureError):
        load_card_fixture(path)


def test_card_fixture_loader_names_the_bad_field(tmp_path):
    good = json.loads(load_card_fixture("adult").model_dump_json())
    good["certificate"]["serial"] = "not a number"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(good))
    with pytest.raises(FixtureError) as err:
        load_card_fixture(path)
    assert "certificate.serial" in str(err.value)


apdus = st.one_of(
    st.binary(max_size=64),
    st.builds(
        lambda cla, ins, p1, p2, data, le: Command(cla, ins, p1, p2, data, le).to_bytes(),
        st.sampled_from([0x00, 0x80, 0x0C, 0xFF]),
        st.sampled_from([0xA4, 0xB0, 0x20, 0x2A, 0x24, 0x84, 0xC0, 0x00]),
        st.integers(0, 255),
        st.sampled_from([0x00, 0x0C, 0x80, 0xFF]),
        st.one_of(
            st.binary(max_size=40),
            st.sampled_from([
                bytes.fromhex("D392F000260100000001"), bytes.fromhex("D3921000310001010402"),
                bytes.fromhex("D3921000310001010408"), bytes.fromhex("0018"), bytes.fromhex("000A"),
                bytes.fromhex("0017"), bytes.fromhex("0012"), bytes.fromhex("0002"), b"1234",
            ]),
        ),
        st.one_of(st.none(), st.integers(1, 256)),
    ),
)


@pytest.fixture(scope="module")
def fuzz_card(world):
    from sim.card import VirtualCard
    from sim.card_state import CardStateStore

    return VirtualCard(load_card_fixture("adult"), world.ca, CardStateStore(None))


@FUZZ
@given(st.lists(apdus, min_size=1, max_size=12))
def test_virtual_card_always_answers_with_a_status_word(fuzz_card, sequence):
    fuzz_card.reset()
    for apdu in sequence:
        response = fuzz_card.process(apdu)
        assert len(response) >= 2
        sw1 = response[-2]
        assert sw1 in (0x90, 0x61, 0x62, 0x63, 0x64, 0x65, 0x67, 0x68, 0x69, 0x6A, 0x6B, 0x6C, 0x6D, 0x6E, 0x6F)


@FUZZ
@given(st.one_of(st.binary(max_size=600), st.text(max_size=300).map(lambda t: f"<XmlMsg>{t}</XmlMsg>".encode())))
def test_result_file_readers_raise_only_result_file_error(raw):
    from desk.export import ResultFileError, reply_from_json, reply_from_xml

    for parse in (reply_from_xml, reply_from_json):
        try:
            parse(raw)
        except ResultFileError:
            pass


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=400))
def test_population_loader_reports_a_fixture_error(tmp_path_factory, raw):
    from sim.population import load_population

    path = tmp_path_factory.mktemp("pop") / "population.json"
    path.write_bytes(raw)
    with pytest.raises(FixtureError):
        load_population(path)
