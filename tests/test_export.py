"""Result files: XML with the interface's element names, JSON, atomic writes, and the parser."""

from __future__ import annotations

import base64
import datetime as dt
import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from hypothesis import given, settings
from hypothesis import strategies as st

from desk.attestation import ReaderAttestor
from desk.central import CentralRejected, error_reply, make_consent
from desk.export import (
    ExportError,
    ResultExporter,
    ResultFileError,
    reply_from_json,
    reply_from_xml,
    reply_to_json,
    reply_to_xml,
)
from desk.models import (
    AuthMethod,
    CardProof,
    CardQuery,
    ConsentItem,
    ElderlyRecipientInfo,
    EligibilityReply,
    LimitInfo,
    NumbersQuery,
    QualificationRecord,
    Validity,
)
from sim.central import SimCentralSystem
from sim.fixtures import REFERENCE_DATE, list_card_fixtures, load_card_fixture
from sim.jpki import SimJpkiCa
from sim.population import PopulationDb, load_population

MIC = "1311234567"
T0 = dt.datetime(2026, 12, 1, 9, 30, 5)


@pytest.fixture(scope="session")
def sim_key_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Same directory as tests/test_central.py uses: the RSA keys are generated once per session.
    return tmp_path_factory.getbasetemp() / "sim-keys"


@pytest.fixture(scope="module")
def central(sim_key_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> SimCentralSystem:
    attestor = ReaderAttestor(tmp_path_factory.mktemp("export-terminal") / "reader.pem")
    central = SimCentralSystem(
        PopulationDb.from_fixture(load_population()), SimJpkiCa(sim_key_dir), terminal_public_key=attestor.public_key_bytes, clock=lambda: T0
    )
    central.test_attestor = attestor  # type: ignore[attr-defined]
    return central


def card_reply(central: SimCentralSystem, name: str, *, with_consent: bool = True) -> tuple[EligibilityReply, bytes, bytes]:
    """The central system's reply for a fixture card (PIN), plus the certificate and signature used."""
    fixture = load_card_fixture(name)
    keys = central.ca.card_keys(fixture.certificate.serial, fixture.certificate.not_before, fixture.certificate.not_after)
    nonce = central.request_nonce()
    signature = keys.private_key.sign(nonce, padding.PKCS1v15(), hashes.SHA256())
    query = CardQuery(
        certificate_der=keys.certificate_der,
        nonce=nonce,
        proof=CardProof(method=AuthMethod.PIN, signature=signature),
        confirmation_date=REFERENCE_DATE,
        medical_institution_code=MIC,
        consent=make_consent({ConsentItem.PHARMACY, ConsentItem.HEALTH_CHECKUP}, T0) if with_consent else None,
    )
    return central.confirm_card(query), keys.certificate_der, signature


def full_reply() -> EligibilityReply:
    """A reply using every field the XML can carry."""
    record = QualificationRecord(
        insured_card_classification="01",
        insurer_number="  261008",
        insured_card_symbol="京上",
        insured_identification_number="30998",
        insured_branch_number="01",
        personal_family_classification="2",
        insured_name="小林 一郎",
        name="小林 文子",
        name_kana="ｺﾊﾞﾔｼ ﾌﾐｺ",
        sex="2",
        birth_date=dt.date(1954, 5, 20),
        address="京都府京都市上京区",
        post_number="602-8570",
        insurer_name="京都市",
        certificate_issuance_date=dt.date(2026, 7, 15),
        valid_from=dt.date(2014, 6, 1),
        valid_to=dt.date(2027, 7, 31),
        partial_contribution_ratio=20,
        preschool=True,
        reason_of_loss="03",
        elderly_recipient=ElderlyRecipientInfo(
            certificate_date=dt.date(2026, 7, 15), valid_start=dt.date(2026, 8, 1), valid_end=dt.date(2027, 7, 31), contribution_ratio=20
        ),
        limit=LimitInfo(classification="02", classification_flag="B05", valid_start=dt.date(2026, 8, 1), valid_end=None),
        specific_disease=["1", "3"],
    )
    return EligibilityReply(
        process_execution_time=T0,
        confirmation_date=REFERENCE_DATE,
        reference_classification=1,
        validity=Validity.VALID,
        records=[record, record.model_copy(update={"insured_branch_number": "02", "preschool": False})],
        query_echo={"InsurerNumber": "  261008", "Birthdate": "19540520"},
        certificate_not_after=dt.date(2028, 2, 29),
        consent=make_consent({ConsentItem.DIAGNOSIS, ConsentItem.OPERATION}, T0),
        method=AuthMethod.VISUAL,
        limit_consent=True,
        medical_institution_code=MIC,
        arbitrary_file_identifier="ArnHCeDfNjMCFzg=",
    )


# -- XML shape ----------------------------------------------------------------------------------------


def test_xml_uses_the_interface_element_names() -> None:
    root = ET.fromstring(reply_to_xml(full_reply()))
    assert root.tag == "XmlMsg"
    header, body = root.find("MessageHeader"), root.find("MessageBody")
    assert header.findtext("ProcessExecutionTime") == "20261201093005"
    assert header.findtext("QualificationConfirmationDate") == "20261201"
    assert header.findtext("MedicalInstitutionCode") == MIC
    assert header.findtext("ArbitraryFileIdentifier") == "ArnHCeDfNjMCFzg="
    assert header.findtext("ReferenceClassification") == "1"
    assert header.findtext("SegmentOfResult") == "1"
    assert header.findtext("CharacterCodeIdentifier") == "0"
    assert body.findtext("ProcessingResultStatus") == "1"
    assert body.findtext("QualificationValidity") == "1"
    results = body.findall("ResultList/ResultOfQualificationConfirmation")
    assert len(results) == 2
    r = results[0]
    assert r.findtext("InsurerNumber") == "  261008"  # padding kept
    assert r.findtext("Birthdate") == "19540520"
    assert r.findtext("Sex1") == "2"
    assert r.findtext("InsuredCardValidDate") == "20140601"
    assert r.findtext("InsuredCardExpirationDate") == "20270731"
    assert r.findtext("InsuredPartialContributionRatio") == "020"
    assert r.findtext("PreschoolClassification") == "1"
    assert r.findtext("ReasonOfLoss") == "03"
    assert r.findtext("ElderlyRecipientCertificateInfo/ElderlyRecipientContributionRatio") == "020"
    assert r.findtext("ElderlyRecipientCertificateInfo/ElderlyRecipientValidStartDate") == "20260801"
    assert r.findtext("LimitApplicationCertificateRelatedConsFlg") == "1"
    assert r.findtext("LimitApplicationCertificateRelatedInfo/LimitApplicationCertificateClassificationFlag") == "B05"
    categories = [e.text for e in r.findall("SpecificDiseasesCertificateList/SpecificDiseasesCertificateInfo/SpecificDiseasesDiseaseCategory")]
    assert categories == ["1", "3"]
    assert r.findtext("DiagnosisInfoConsFlg") == "1" and r.findtext("PharmacistsInfoConsFlg") == "0"
    assert r.findtext("DiagnosisInfoConsTime") == "20261201093005"
    assert r.findtext("DiagnosisInfoAvailableTime") == "20261202093005"  # + 24 h
    assert r.find("PharmacistsInfoConsTime") is None
    assert results[1].find("PreschoolClassification") is None
    assert body.findtext("QualificationConfirmSearchInfo/InsurerNumber") == "  261008"
    assert body.findtext("TerminalInfo/AuthMethod") == "visual"
    assert body.findtext("TerminalInfo/CertificateExpirationDate") == "20280229"


def test_xml_declares_utf8() -> None:
    data = reply_to_xml(full_reply())
    assert data.startswith(b'<?xml version="1.0" encoding="UTF-8"')
    assert "小林 文子".encode() in data


# -- round trips --------------------------------------------------------------------------------------


def test_full_reply_round_trips() -> None:
    reply = full_reply()
    assert reply_from_xml(reply_to_xml(reply)) == reply
    assert reply_from_json(reply_to_json(reply)) == reply


@pytest.mark.parametrize("name", [n for n in list_card_fixtures() if n not in {"cert-expired-4m", "not-mynumber"}])
def test_every_card_reply_round_trips(central: SimCentralSystem, name: str) -> None:
    reply, _, _ = card_reply(central, name)
    assert reply_from_xml(reply_to_xml(reply)) == reply
    assert reply_from_json(reply_to_json(reply)) == reply


def test_numbers_and_error_replies_round_trip(central: SimCentralSystem) -> None:
    numbers = central.confirm_numbers(
        NumbersQuery(insurer_number="231001", insured_card_symbol="名中", insured_identification_number="204417", insured_branch_number="01", birth_date=dt.date(1990, 7, 21)),
        confirmation_date=REFERENCE_DATE,
        medical_institution_code=MIC,
    )
    failed = error_reply(CentralRejected(CentralRejected.Reason.BAD_SIGNATURE), reference_classification=1, confirmation_date=REFERENCE_DATE, at=T0)
    for reply in (numbers, failed):
        assert reply_from_xml(reply_to_xml(reply)) == reply
        assert reply_from_json(reply_to_json(reply)) == reply


def test_reader_file_without_terminal_info() -> None:
    """A result written by a real reader: other element order, per-record consent only, no extension."""
    xml = """<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<XmlMsg>
  <MessageHeader>
    <ProcessExecutionTime>20261201101500</ProcessExecutionTime>
    <CharacterCodeIdentifier>0</CharacterCodeIdentifier>
    <SegmentOfResult>1</SegmentOfResult>
    <QualificationConfirmationDate>20261201</QualificationConfirmationDate>
    <ReferenceClassification>1</ReferenceClassification>
    <MedicalInstitutionCode>1311234567</MedicalInstitutionCode>
  </MessageHeader>
  <MessageBody>
    <ResultList>
      <ResultOfQualificationConfirmation>
        <Name>試験 一郎</Name>
        <PharmacistsInfoConsFlg>1</PharmacistsInfoConsFlg>
        <PharmacistsInfoConsTime>20261201101500</PharmacistsInfoConsTime>
        <PharmacistsInfoAvailableTime>20261202101500</PharmacistsInfoAvailableTime>
        <DiagnosisInfoConsFlg>0</DiagnosisInfoConsFlg>
        <InsurerNumber>  131011</InsurerNumber>
        <InsuredIdentificationNumber>4260</InsuredIdentificationNumber>
        <Birthdate>19700101</Birthdate>
        <InsurerName>千代田区</InsurerName>
        <InsuredCardValidDate>20191001</InsuredCardValidDate>
        <Sex1>1</Sex1>
        <SomeFutureElement>ignored</SomeFutureElement>
      </ResultOfQualificationConfirmation>
    </ResultList>
    <ProcessingResultStatus>1</ProcessingResultStatus>
    <QualificationValidity>1</QualificationValidity>
  </MessageBody>
</XmlMsg>""".encode()
    reply = reply_from_xml(xml)
    assert reply.validity is Validity.VALID and reply.method is AuthMethod.NONE
    (record,) = reply.records
    assert (record.name, record.insurer_number, record.sex) == ("試験 一郎", "  131011", "1")
    assert reply.consent is not None and reply.consent.items == {ConsentItem.PHARMACY}
    assert reply.consent.valid_until - reply.consent.given_at == dt.timedelta(hours=24)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"<XmlMsg>",
        b"<Other/>",
        b"<XmlMsg><MessageHeader/></XmlMsg>",
        b'<?xml version="1.0"?><!DOCTYPE XmlMsg [<!ENTITY a "aaaa">]><XmlMsg/>',
        b"<XmlMsg><MessageHeader><ProcessExecutionTime>2026120109</ProcessExecutionTime></MessageHeader><MessageBody/></XmlMsg>",
    ],
    ids=["empty", "truncated", "wrong-root", "no-body", "doctype", "short-time"],
)
def test_malformed_xml_is_refused(data: bytes) -> None:
    with pytest.raises(ResultFileError):
        reply_from_xml(data)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("<QualificationValidity>1<", "<QualificationValidity>7<"),
        ("<Birthdate>19540520<", "<Birthdate>19541340<"),
        ("<AuthMethod>visual<", "<AuthMethod>retina<"),
        ("<InsurerNumber>  261008<", "<InsurerNumber>26<"),
        ("<ElderlyRecipientContributionRatio>020<", "<ElderlyRecipientContributionRatio>xx<"),
    ],
)
def test_bad_values_are_refused(old: str, new: str) -> None:
    data = reply_to_xml(full_reply()).decode()
    assert old in data
    with pytest.raises(ResultFileError):
        reply_from_xml(data.replace(old, new, 1).encode())


def test_bad_json_is_refused() -> None:
    for data in (b"{", b"[]", b'{"format": "other"}', b'{"format": "madoguchi.eligibility-result", "version": 9}'):
        with pytest.raises(ResultFileError):
            reply_from_json(data)
    good = reply_to_json(full_reply()).replace(b'"validity": 1', b'"validity": 8')
    with pytest.raises(ResultFileError):
        reply_from_json(good)


def test_values_xml_cannot_carry_are_refused() -> None:
    reply = full_reply()
    bad = reply.model_copy(update={"records": [reply.records[0].model_copy(update={"address": "a\x01b"})]})
    with pytest.raises(ExportError):
        reply_to_xml(bad)
    with pytest.raises(ExportError):
        reply_to_xml(reply.model_copy(update={"query_echo": {"not a tag": "x"}}))


_TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=12)


@settings(max_examples=60, deadline=None)
@given(
    name=_TEXT.filter(bool),
    kana=_TEXT,
    address=_TEXT,
    symbol=_TEXT,
    number=st.from_regex(r"[0-9]{1,10}", fullmatch=True),
    insurer=st.from_regex(r"( {2}[0-9]{6}|[0-9]{8})", fullmatch=True),
    birth=st.dates(dt.date(1900, 1, 1), dt.date(2099, 12, 31)),
    ratio=st.none() | st.sampled_from([10, 20, 30]),
    validity=st.none() | st.sampled_from(list(Validity)),
    items=st.frozensets(st.sampled_from(list(ConsentItem))),
    with_consent=st.booleans(),
)
def test_xml_round_trip_property(name, kana, address, symbol, number, insurer, birth, ratio, validity, items, with_consent) -> None:
    record = QualificationRecord(
        insurer_number=insurer,
        insured_card_symbol=symbol,
        insured_identification_number=number,
        name=name,
        name_kana=kana,
        address=address,
        birth_date=birth,
        insurer_name="保険者",
        valid_from=dt.date(2020, 1, 1),
        partial_contribution_ratio=ratio,
    )
    reply = EligibilityReply(
        process_execution_time=T0,
        confirmation_date=REFERENCE_DATE,
        reference_classification=1,
        validity=validity,
        records=[record],
        consent=make_consent(items, T0) if with_consent else None,
    )
    assert reply_from_xml(reply_to_xml(reply)) == reply
    assert reply_from_json(reply_to_json(reply)) == reply


# -- files --------------------------------------------------------------------------------------------


def test_exporter_writes_xml_and_json(central: SimCentralSystem, tmp_path: Path) -> None:
    exporter = ResultExporter(tmp_path / "res")
    reply, certificate_der, signature = card_reply(central, "adult")
    written = exporter.write(reply)
    assert written.xml_path.parent == tmp_path / "res" and written.xml_path.suffix == ".xml"
    assert written.json_path.with_suffix(".xml") == written.xml_path
    assert reply_from_xml(written.xml_path.read_bytes()) == reply
    assert reply_from_json(written.json_path.read_bytes()) == reply
    assert sorted(p.name for p in (tmp_path / "res").iterdir()) == sorted([written.xml_path.name, written.json_path.name])

    # Nothing secret in either file: no certificate, no signature, no nonce, in any encoding.
    for path in (written.xml_path, written.json_path):
        content = path.read_bytes()
        for secret in (certificate_der, signature):
            for form in (secret, secret.hex().encode(), base64.b64encode(secret), base64.b64encode(secret[:48])):
                assert form not in content
        assert not re.search(rb"(?<!\d)\d{12}(?!\d)", content)
    assert not re.search(r"(?<!\d)\d{12}(?!\d)", written.xml_path.name)


def test_each_confirmation_gets_its_own_files(central: SimCentralSystem, tmp_path: Path) -> None:
    exporter = ResultExporter(tmp_path)
    first = exporter.write(card_reply(central, "adult")[0])
    second = exporter.write(card_reply(central, "adult")[0])  # same second, same person
    assert first.xml_path != second.xml_path
    assert len(list(tmp_path.glob("*.xml"))) == 2
    again = exporter.write(second.reply)  # rewriting one result replaces its own files only
    assert again.xml_path == second.xml_path and len(list(tmp_path.iterdir())) == 4


def test_exporter_names_a_reply_without_identifier(tmp_path: Path) -> None:
    reply = full_reply().model_copy(update={"arbitrary_file_identifier": None})
    written = ResultExporter(tmp_path).write(reply)
    assert written.reply.arbitrary_file_identifier
    assert reply_from_xml(written.xml_path.read_bytes()).arbitrary_file_identifier == written.reply.arbitrary_file_identifier


def test_failed_write_leaves_no_partial_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    exporter = ResultExporter(tmp_path)
    reply = full_reply()
    earlier = exporter.write(reply)
    before = {p: p.read_bytes() for p in tmp_path.iterdir()}

    real_fsync, real_replace = os.fsync, os.replace
    fsyncs = {"n": 0, "fail_at": 2}

    def failing_fsync(fd: int) -> None:
        fsyncs["n"] += 1
        if fsyncs["n"] == fsyncs["fail_at"]:
            raise OSError(28, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", failing_fsync)
    # Rewriting the same result: the XML cannot be staged, so neither file changes.
    with pytest.raises(ExportError):
        exporter.write(reply.model_copy(update={"validity": Validity.INVALID}))
    assert {p: p.read_bytes() for p in tmp_path.iterdir()} == before
    assert reply_from_xml(earlier.xml_path.read_bytes()).validity is Validity.VALID

    # A new result whose JSON cannot be staged: nothing appears.
    fsyncs.update(n=0, fail_at=1)
    with pytest.raises(ExportError):
        exporter.write(reply.model_copy(update={"arbitrary_file_identifier": "Fresh1"}))
    assert {p: p.read_bytes() for p in tmp_path.iterdir()} == before

    # A new result whose XML cannot be renamed into place: the JSON goes too.
    monkeypatch.setattr(os, "fsync", real_fsync)

    def failing_replace(src, dst) -> None:
        if str(dst).endswith(".xml"):
            raise OSError(5, "I/O error")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(ExportError):
        exporter.write(reply.model_copy(update={"arbitrary_file_identifier": "Fresh2"}))
    assert {p: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_unwritable_folder(tmp_path: Path) -> None:
    blocker = tmp_path / "res"
    blocker.write_text("a file, not a folder")
    with pytest.raises(ExportError):
        ResultExporter(blocker).write(full_reply())
