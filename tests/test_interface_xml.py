"""The result XML as the independent readers studied take it (docs/interface.md).

Every OQSCD006 outcome, 照会区分 1 and 2, every record kind of the fixtures, UTF-8 and Shift_JIS:
each file must be accepted by the readers that accept its kind at all (tests/interface_readers.py).
"""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from desk.attestation import ReaderAttestor
from desk.central import make_consent
from desk.exchange.codec import Encoding
from desk.export import reply_from_xml, reply_to_xml
from desk.models import AuthMethod, CardProof, CardQuery, ConsentItem, EligibilityReply, NumbersQuery, Validity
from sim.central import SimCentralSystem
from sim.fixtures import REFERENCE_DATE, list_card_fixtures, load_card_fixture
from sim.jpki import SimJpkiCa
from sim.population import PopulationDb, load_population
from tests import interface_readers as readers

MIC = "1311234567"
T0 = dt.datetime(2026, 12, 1, 9, 30, 5)
NO_REPLY = {"cert-expired-4m", "not-mynumber"}  # refused before any result exists
CARDS = [n for n in list_card_fixtures() if n not in NO_REPLY]
NUMBERS = {
    "valid": ("01130012", "4012", "1508", "00", dt.date(1985, 4, 12)),
    "family-no-branch": ("01130012", "4012", "1508", "", dt.date(2015, 5, 5)),
    "wrong-birth": ("01130012", "4012", "1508", "00", dt.date(1985, 4, 13)),
    "kokuho-6-digits": ("131128", "世田", "81155", "01", dt.date(1968, 3, 15)),
    "specific-disease": ("231001", "名中", "204417", "01", dt.date(1990, 7, 21)),
    "invalid": ("06114011", "210", "6051", "00", dt.date(1987, 9, 9)),
    "new-exists": ("121004", "千中", "71320", "01", dt.date(1986, 12, 12)),
}


@pytest.fixture(scope="module")
def central(tmp_path_factory: pytest.TempPathFactory) -> SimCentralSystem:
    keys = tmp_path_factory.getbasetemp() / "sim-keys"  # shared with the other modules: generated once
    attestor = ReaderAttestor(tmp_path_factory.mktemp("iface-terminal") / "reader.pem")
    return SimCentralSystem(PopulationDb.from_fixture(load_population()), SimJpkiCa(keys), terminal_public_key=attestor.public_key_bytes, clock=lambda: T0)


def card(central: SimCentralSystem, name: str, *, limit_consent: bool = False) -> EligibilityReply:
    fixture = load_card_fixture(name)
    keys = central.ca.card_keys(fixture.certificate.serial, fixture.certificate.not_before, fixture.certificate.not_after)
    nonce = central.request_nonce()
    return central.confirm_card(CardQuery(
        certificate_der=keys.certificate_der, nonce=nonce,
        proof=CardProof(method=AuthMethod.PIN, signature=keys.private_key.sign(nonce, padding.PKCS1v15(), hashes.SHA256())),
        confirmation_date=REFERENCE_DATE, medical_institution_code=MIC,
        consent=make_consent({ConsentItem.PHARMACY}, T0), limit_consent=limit_consent,
    ))


def numbers(central: SimCentralSystem, case: str, *, limit_consent: bool = False) -> EligibilityReply:
    insurer, symbol, number, branch, birth = NUMBERS[case]
    query = NumbersQuery(insurer_number=insurer, insured_card_symbol=symbol, insured_identification_number=number,
                         insured_branch_number=branch, birth_date=birth, limit_consent=limit_consent)
    return central.confirm_numbers(query, confirmation_date=REFERENCE_DATE, medical_institution_code=MIC)


def _every_reply(central: SimCentralSystem) -> list[tuple[str, EligibilityReply]]:
    replies = []
    for limit in (False, True):
        replies += [(f"card {n} limit={limit}", card(central, n, limit_consent=limit)) for n in CARDS]
        replies += [(f"numbers {c} limit={limit}", numbers(central, c, limit_consent=limit)) for c in NUMBERS]
    return replies


@pytest.mark.parametrize("encoding", list(Encoding))
def test_every_result_is_taken_by_the_readers_that_take_its_kind(central: SimCentralSystem, encoding: Encoding) -> None:
    seen: set[Validity] = set()
    for label, reply in _every_reply(central):
        data = reply_to_xml(reply, encoding)
        assert reply_from_xml(data) == reply, label  # and our own reader gives it back whole
        assert reply.validity is not None
        seen.add(reply.validity)
        assert readers.smartkarte_finds(data, reply.arbitrary_file_identifier or ""), label
        skipped, persons = readers.reswatcher(data)
        assert not skipped, label
        problems = readers.myclinic(data)
        if not reply.records:
            # 該当資格なし: no ResultList. myclinic's XML road refuses every 0-record shape (its
            # JSON road and the others take this one): the one refusal we accept, knowingly.
            assert reply.validity is Validity.NOT_FOUND and problems == ["ResultList がありません（XMLでは必須）"], label
            assert persons == 0
        elif any(r.specific_disease for r in reply.records):
            # the nested 特定疾病 list of the other readers; myclinic reads only a JSON-shaped one
            assert problems == ["SpecificDiseasesCertificateList はXMLでは読めない"], label
        else:
            assert problems == [], (label, problems)
        if reply.validity is Validity.VALID and len(reply.records) == 1 and reply.reference_classification == 1:
            assert readers.myna_reception(data, configured=encoding.value) == [], label
    assert seen == set(Validity)  # every OQSCD006 outcome of the interface was produced


def test_several_records_each_in_a_result_list_of_its_own(central: SimCentralSystem) -> None:
    reply = card(central, "multiple")
    body = ET.fromstring(reply_to_xml(reply)).find("MessageBody")
    assert reply.validity is Validity.MULTIPLE and len(reply.records) == 2
    lists = body.findall("ResultList")
    assert [len(r.findall("ResultOfQualificationConfirmation")) for r in lists] == [1, 1]


def test_not_found_has_no_result_list(central: SimCentralSystem) -> None:
    body = ET.fromstring(reply_to_xml(card(central, "unregistered"))).find("MessageBody")
    assert body.findtext("QualificationValidity") == "4" and body.find("ResultList") is None


def test_flags_are_written_as_given_even_when_zero(central: SimCentralSystem) -> None:
    record = ET.fromstring(reply_to_xml(card(central, "adult"))).find("MessageBody/ResultList/ResultOfQualificationConfirmation")
    assert record.findtext("PharmacistsInfoConsFlg") == "1"
    for tag in ("DiagnosisInfoConsFlg", "SpecificHealthCheckupsInfoConsFlg", "OperationInfoConsFlg",
                "LimitApplicationCertificateRelatedConsFlg", "SpecificDiseasesCertificateRelatedConsFlg"):
        assert record.findtext(tag) == "0", tag
    assert record.find("LimitApplicationCertificateRelatedInfo") is None  # no consent, no 限度額


def test_limit_information_only_with_consent_and_spelled_flag(central: SimCentralSystem) -> None:
    root = ET.fromstring(reply_to_xml(card(central, "adult", limit_consent=True)))
    record = root.find("MessageBody/ResultList/ResultOfQualificationConfirmation")
    assert record.findtext("LimitApplicationCertificateRelatedConsFlg") == "1"
    assert record.findtext("LimitApplicationCertificateRelatedInfo/LimitApplicationCertificateClassificationFlag") == "A03"
    assert record.find("LimitApplicationCertificateRelatedInfo/LimitApplicationCertificateClassificationFla") is None


def test_files_of_older_versions_with_the_truncated_tag_are_still_read(central: SimCentralSystem) -> None:
    data = reply_to_xml(card(central, "adult", limit_consent=True)).replace(b"ClassificationFlag>", b"ClassificationFla>")
    (record,) = reply_from_xml(data).records
    assert record.limit is not None and record.limit.classification_flag == "A03"


def test_numbers_echo_carries_the_limit_flag(central: SimCentralSystem) -> None:
    for limit in (False, True):
        echo = ET.fromstring(reply_to_xml(numbers(central, "kokuho-6-digits", limit_consent=limit))).find("MessageBody/QualificationConfirmSearchInfo")
        assert echo.findtext("LimitApplicationCertificateRelatedConsFlg") == ("1" if limit else "0")
        assert echo.findtext("InsurerNumber") == "  131128"  # 8 characters, space-padded as on the card


def test_names_as_the_real_results_write_them(central: SimCentralSystem) -> None:
    record = ET.fromstring(reply_to_xml(card(central, "adult"))).find("MessageBody/ResultList/ResultOfQualificationConfirmation")
    assert record.findtext("Name") == "佐藤\u3000花子"  # ideographic space between family and given name
    assert record.findtext("NameKana") == "ｻﾄｳ ﾊﾅｺ"  # half-width kana, ASCII space


def test_shift_jis_files_say_so_twice(central: SimCentralSystem, tmp_path: Path) -> None:
    data = reply_to_xml(numbers(central, "specific-disease"), Encoding.SHIFT_JIS)
    assert data.startswith(b'<?xml version="1.0" encoding="Shift_JIS"')
    assert ET.fromstring(data.decode("cp932").split("?>", 1)[1]).findtext("MessageHeader/CharacterCodeIdentifier") == "1"
    assert "名古屋市".encode("cp932") in data


def test_card_confirmations_also_go_to_the_terminals_face_folder(central: SimCentralSystem, tmp_path: Path) -> None:
    from desk.export import ExportError, ResultExporter

    face = tmp_path / "share" / "face"
    face.mkdir(parents=True)
    exporter = ResultExporter(tmp_path / "res", face_dir=face)
    written = exporter.write(card(central, "adult"))
    (copy,) = face.iterdir()
    assert re.fullmatch(r"OQSsiquc01res_face_1311234567[0-9a-f]{20}_20261201093005\.xml", copy.name)
    assert copy.read_bytes() == written.xml_path.read_bytes() and oct(copy.stat().st_mode & 0o777) == "0o600"
    assert readers.myna_reception(copy.read_bytes()) == []  # the strictest face-folder reader takes it
    exporter.write(written.reply)  # written again (a restart owing it): the same name, no second copy
    assert len(list(face.iterdir())) == 1
    exporter.write(numbers(central, "valid"))  # numbers answers are the レセコン's own: not in face/
    assert len(list(face.iterdir())) == 1
    import shutil

    shutil.rmtree(face)  # the share went away: nothing is written, the answer stays owed
    with pytest.raises(ExportError, match="face フォルダ"):
        exporter.write(card(central, "elder-72"))
