"""What the independent readers of 資格確認結果 XML require, as studied (docs/interface.md).

Each function restates, for one open-source reader, the checks its parser makes before it
accepts a file, and returns the reasons it would refuse ours (empty: it accepts). They are
restated, not run: the readers are TypeScript and C# projects that CI cannot fetch. The
TypeScript one (myclinic-ts `parseFaceXml`) was also run by hand over the same files; its
verdicts matched these (docs/interface.md, "Checked by hand").
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from desk.exchange.codec import declared_encoding, parse

__all__ = ["myclinic", "myna_reception", "smartkarte_finds", "reswatcher"]


def _missing(parent: ET.Element | None, tags: tuple[str, ...], where: str) -> list[str]:
    if parent is None:
        return [f"{where} がありません"]
    return [f"{where}/{tag} がありません" for tag in tags if parent.find(tag) is None]


def myclinic(data: bytes) -> list[str]:
    """hangilc/myclinic-ts `parseFaceXml` + `OnshiResult.cast` (packages/onshi-result/*.ts)."""
    root, _ = parse(data)
    header, body = root.find("MessageHeader"), root.find("MessageBody")
    problems = _missing(header, (
        "ProcessExecutionTime", "QualificationConfirmationDate", "MedicalInstitutionCode",
        "ReferenceClassification", "SegmentOfResult", "CharacterCodeIdentifier",
    ), "MessageHeader")
    problems += _missing(body, ("ProcessingResultStatus",), "MessageBody")
    if body is None:
        return problems
    lists = body.findall("ResultList")
    if not lists:
        problems.append("ResultList がありません（XMLでは必須）")
    for result_list in lists:
        records = result_list.findall("ResultOfQualificationConfirmation")
        if len(records) != 1:
            problems.append(f"ResultList ひとつに記録が{len(records)}件（1件ずつのはず）")
        for record in records:
            problems += _missing(record, ("InsuredCardClassification", "Name", "Sex1", "Birthdate", "InsurerName"), "record")
            if record.find("SpecificDiseasesCertificateList") is not None:
                problems.append("SpecificDiseasesCertificateList はXMLでは読めない")
            if (record.findtext("Sex1") or "1") not in {"1", "2", "3"}:
                problems.append("Sex1 の値")
    echo = body.find("QualificationConfirmSearchInfo")
    if echo is not None:
        problems += _missing(echo, ("InsurerNumber", "InsuredIdentificationNumber", "Birthdate", "LimitApplicationCertificateRelatedConsFlg"), "echo")
    validity = body.findtext("QualificationValidity")
    if validity is not None and validity not in {"1", "2", "3", "4", "5"}:
        problems.append("QualificationValidity の値")
    return problems


def myna_reception(data: bytes, *, configured: str = "utf-8") -> list[str]:
    """YUKI-ENT/MynaReception `FaceXmlParser.Parse` (the strictest: one confirmed person)."""
    root, encoding = parse(data)
    problems = []
    if encoding.value != configured:
        problems.append("XML宣言の文字コードが設定と違う")
    if root.findtext("MessageHeader/SegmentOfResult") != "1" or root.findtext("MessageBody/ProcessingResultStatus") != "1":
        problems.append("正常終了でない")
    if not re.fullmatch(r"\d{10}", root.findtext("MessageHeader/MedicalInstitutionCode") or ""):
        problems.append("MedicalInstitutionCode が10桁でない")
    lists = root.findall("MessageBody/ResultList")
    records = root.findall("MessageBody/ResultList/ResultOfQualificationConfirmation")
    if len(lists) != 1 or len(records) != 1:
        problems.append("記録を1件に特定できません")
    for record in records:
        if not (record.findtext("NameKana") or "").strip():
            problems.append("NameKana が空")
        if not re.fullmatch(r"\d{8}", record.findtext("Birthdate") or ""):
            problems.append("Birthdate が yyyyMMdd でない")
    return problems


def smartkarte_finds(data: bytes, identifier: str) -> bool:
    """The SmartKarte bridge takes the answer whose text holds the request's identifier."""
    text = data.decode(declared_encoding(data).codec)
    return f"<ArbitraryFileIdentifier>{identifier}</ArbitraryFileIdentifier>" in text


def reswatcher(data: bytes) -> tuple[list[str], int]:
    """The ResWatcher app (xml-js): skips what is not 正常終了; reads `ResultList.ResultOfQualificationConfirmation`
    as one object. Returns (reasons it skips the file, how many persons it extracts)."""
    root, _ = parse(data)
    if root.findtext("MessageHeader/SegmentOfResult") != "1":
        return ["SegmentOfResult が 1 でない"], 0
    lists = root.findall("MessageBody/ResultList")
    if len(lists) > 1 or any(len(r.findall("ResultOfQualificationConfirmation")) != 1 for r in lists):
        return [], 0  # several: xml-js gives an array and nothing is extracted (no error)
    return [], len(lists)
