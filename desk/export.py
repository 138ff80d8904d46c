"""Result files for the レセコン: each confirmation as XML (資格確認結果) and as JSON, in a res/ folder.

The XML uses the element names of the eligibility interface (shared/research/eligibility-anchors.md
§1.1-1.2): XmlMsg / MessageHeader / MessageBody / ResultList / ResultOfQualificationConfirmation.
Dates are yyyymmdd, times yyyymmddHHMMSS in Japan time, ratios 3-digit percent ("010" = 1割),
CharacterCodeIdentifier 0 = UTF-8 (as in the sample face-reader result).

What the interface has no element for goes into one extension element, `MessageBody/TerminalInfo`
(AuthMethod, CertificateExpirationDate, Consent); a レセコン that does not know it skips it. The
consent is also written per record with the interface's own flags (PharmacistsInfoConsFlg …).

Writes are atomic: a temporary file in the same folder, fsync, then os.replace, so a レセコン polling
the folder never sees half a file. Both files are staged completely before either is renamed
into place, the XML last (it is what レセコン pick up); a failure leaves the folder as it was.

Nothing secret is written: a reply carries no PIN, signature, attestation or certificate bytes.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import logging
import os
import re
import secrets
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from desk.atomicfile import private_dir, stage_file
from desk.exchange.codec import Encoding, XmlCodecError, parse, sub_element, to_bytes
from desk.models import (
    AuthMethod,
    Consent,
    ConsentItem,
    ElderlyRecipientInfo,
    EligibilityReply,
    LimitInfo,
    QualificationRecord,
    Validity,
)
from reader.staff_facing import StaffFacingError

_log = logging.getLogger("madoguchi.export")

__all__ = [
    "Tidied",
    "tidy_results",
    "ExportError",
    "ResultFileError",
    "ExportedResult",
    "ResultExporter",
    "reply_to_xml",
    "reply_to_element",
    "reply_from_xml",
    "reply_from_element",
    "write_records",
    "read_records",
    "read_echo",
    "reply_to_json",
    "reply_from_json",
    "new_file_identifier",
]

_JST = dt.timezone(dt.timedelta(hours=9))
JSON_FORMAT = "madoguchi.eligibility-result"
JSON_VERSION = 1

# Per-item consent elements of the face-reader result (ORCA patientget 6-52; sample face result).
_CONSENT_ELEMENTS = {
    ConsentItem.PHARMACY: "PharmacistsInfo",
    ConsentItem.DIAGNOSIS: "DiagnosisInfo",
    ConsentItem.HEALTH_CHECKUP: "SpecificHealthCheckupsInfo",
    ConsentItem.OPERATION: "OperationInfo",
}

# (field, element, kind) in the order the interface lists them. kind: s string, d date, r ratio.
_RECORD_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("insured_card_classification", "InsuredCardClassification", "s"),
    ("insurer_number", "InsurerNumber", "s"),
    ("insured_card_symbol", "InsuredCardSymbol", "s"),
    ("insured_identification_number", "InsuredIdentificationNumber", "s"),
    ("insured_branch_number", "InsuredBranchNumber", "s"),
    ("personal_family_classification", "PersonalFamilyClassification", "s"),
    ("insured_name", "InsuredName", "s"),
    ("name", "Name", "s"),
    ("name_kana", "NameKana", "s"),
    ("sex", "Sex1", "s"),
    ("birth_date", "Birthdate", "d"),
    ("address", "Address", "s"),
    ("post_number", "PostNumber", "s"),
    ("insurer_name", "InsurerName", "s"),
    ("certificate_issuance_date", "InsuredCertificateIssuanceDate", "d"),
    ("valid_from", "InsuredCardValidDate", "d"),
    ("valid_to", "InsuredCardExpirationDate", "d"),
    ("partial_contribution_ratio", "InsuredPartialContributionRatio", "r"),
    ("reason_of_loss", "ReasonOfLoss", "s"),
)
_REQUIRED_STRINGS = {"insurer_number", "insured_identification_number", "name", "insurer_name"}
_ELDERLY_FIELDS = (
    ("certificate_date", "ElderlyRecipientCertificateDate", "d"),
    ("valid_start", "ElderlyRecipientValidStartDate", "d"),
    ("valid_end", "ElderlyRecipientValidEndDate", "d"),
    ("contribution_ratio", "ElderlyRecipientContributionRatio", "r"),
)
_LIMIT_FIELDS = (
    ("classification", "LimitApplicationCertificateClassification", "s"),
    ("classification_flag", "LimitApplicationCertificateClassificationFlag", "s"),
    ("valid_start", "LimitApplicationCertificateValidStartDate", "d"),
    ("valid_end", "LimitApplicationCertificateValidEndDate", "d"),
)
_ECHO_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")


class ExportError(StaffFacingError):
    title = "資格確認結果ファイルを書き出せません"


class ResultFileError(ExportError):
    """A result file (XML or JSON) could not be read back."""

    title = "資格確認結果ファイルを読み取れません"


# -- formatting helpers ---------------------------------------------------------------------------


def _jst_naive(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is not None:
        moment = moment.astimezone(_JST).replace(tzinfo=None)
    return moment.replace(microsecond=0)


def _fmt_date(day: dt.date) -> str:
    return day.strftime("%Y%m%d")


def _fmt_time(moment: dt.datetime) -> str:
    return _jst_naive(moment).strftime("%Y%m%d%H%M%S")


def _parse_date(text: str, where: str) -> dt.date:
    if not re.fullmatch(r"\d{8}", text):
        raise ResultFileError(f"{where}: 日付は yyyymmdd の形式です（{text!r}）")
    try:
        return dt.datetime.strptime(text, "%Y%m%d").date()
    except ValueError as exc:
        raise ResultFileError(f"{where}: 日付として正しくありません（{text!r}）") from exc


def _parse_time(text: str, where: str) -> dt.datetime:
    if not re.fullmatch(r"\d{14}", text):
        raise ResultFileError(f"{where}: 日時は yyyymmddHHMMSS の形式です（{text!r}）")
    try:
        return dt.datetime.strptime(text, "%Y%m%d%H%M%S")
    except ValueError as exc:
        raise ResultFileError(f"{where}: 日時として正しくありません（{text!r}）") from exc


def _parse_int(text: str, where: str) -> int:
    if not re.fullmatch(r"\d{1,3}", text):
        raise ResultFileError(f"{where}: 数値ではありません（{text!r}）")
    return int(text)


def _sub(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
    try:
        return sub_element(parent, tag, text)
    except XmlCodecError as exc:
        raise ExportError(str(exc)) from None


def _format_value(value: Any, kind: str) -> str:
    if kind == "d":
        return _fmt_date(value)
    if kind == "r":
        return f"{value:03d}"
    return str(value)


def _parse_value(text: str, kind: str, where: str) -> Any:
    if kind == "d":
        return _parse_date(text, where)
    if kind == "r":
        return _parse_int(text, where)
    return text


def _text(element: ET.Element | None) -> str | None:
    if element is None:
        return None
    return element.text or ""


# -- XML writer -----------------------------------------------------------------------------------


def _write_fields(parent: ET.Element, obj: Any, fields: tuple[tuple[str, str, str], ...], required: set[str]) -> None:
    for name, tag, kind in fields:
        value = getattr(obj, name)
        if value is None or (value == "" and name not in required):
            continue
        _sub(parent, tag, _format_value(value, kind))


def _flag(given: bool) -> str:
    return "1" if given else "0"  # OQSCD016 同意区分: written even when 0, as the real results do


def _write_record(parent: ET.Element, record: QualificationRecord, reply: EligibilityReply) -> None:
    el = _sub(parent, "ResultOfQualificationConfirmation")
    _write_fields(el, record, _RECORD_FIELDS, _REQUIRED_STRINGS)
    if record.preschool:
        _sub(el, "PreschoolClassification", "1")  # OQSCD015: 1 未就学
    if record.elderly_recipient is not None:
        _write_fields(_sub(el, "ElderlyRecipientCertificateInfo"), record.elderly_recipient, _ELDERLY_FIELDS, set())
    # 限度額 and 特定疾病 are provided only with the patient's consent to their provision
    _sub(el, "LimitApplicationCertificateRelatedConsFlg", _flag(reply.limit_consent))
    if reply.limit_consent:
        _sub(el, "LimitApplicationCertificateRelatedConsTime", _fmt_time(reply.process_execution_time))
    if record.limit is not None:
        _write_fields(_sub(el, "LimitApplicationCertificateRelatedInfo"), record.limit, _LIMIT_FIELDS, {"classification", "classification_flag"})
    _sub(el, "SpecificDiseasesCertificateRelatedConsFlg", _flag(reply.limit_consent and bool(record.specific_disease)))
    if record.specific_disease:
        listing = _sub(el, "SpecificDiseasesCertificateList")
        for category in record.specific_disease:
            info = _sub(listing, "SpecificDiseasesCertificateInfo")
            _sub(info, "SpecificDiseasesDiseaseCategory", category)
    consent = reply.consent
    for item, prefix in _CONSENT_ELEMENTS.items():
        given = consent is not None and item in consent.items
        _sub(el, f"{prefix}ConsFlg", _flag(given))
        if given:
            assert consent is not None
            _sub(el, f"{prefix}ConsTime", _fmt_time(consent.given_at))
            _sub(el, f"{prefix}AvailableTime", _fmt_time(consent.valid_until))


def write_records(parent: ET.Element, reply: EligibilityReply, *, wrapped: bool) -> None:
    """The reply's records under `parent`: each in a `ResultList` of its own (a result file), or
    bare (a 一括照会 unit). No records, no ResultList (docs/interface.md "Records: 0, 1, n")."""
    for record in reply.records:
        _write_record(_sub(parent, "ResultList") if wrapped else parent, record, reply)


def reply_to_element(reply: EligibilityReply, encoding: Encoding = Encoding.UTF8) -> ET.Element:
    """The result as an `XmlMsg` element. Raises ExportError for values XML cannot carry."""
    root = ET.Element("XmlMsg")
    header = _sub(root, "MessageHeader")
    _sub(header, "ProcessExecutionTime", _fmt_time(reply.process_execution_time))
    _sub(header, "QualificationConfirmationDate", _fmt_date(reply.confirmation_date))
    if reply.medical_institution_code is not None:
        _sub(header, "MedicalInstitutionCode", reply.medical_institution_code)
    if reply.arbitrary_file_identifier is not None:
        _sub(header, "ArbitraryFileIdentifier", reply.arbitrary_file_identifier)
    _sub(header, "ReferenceClassification", str(reply.reference_classification))
    _sub(header, "SegmentOfResult", str(reply.segment_of_result))
    if reply.error_code is not None:
        _sub(header, "ErrorCode", reply.error_code)
    if reply.error_message is not None:
        _sub(header, "ErrorMessage", reply.error_message)
    _sub(header, "CharacterCodeIdentifier", encoding.character_code)

    body = _sub(root, "MessageBody")
    _sub(body, "ProcessingResultStatus", str(reply.processing_result_status))
    if reply.validity is not None:
        _sub(body, "QualificationValidity", str(int(reply.validity)))
    write_records(body, reply, wrapped=True)
    if reply.query_echo:
        echo = _sub(body, "QualificationConfirmSearchInfo")
        for key, value in reply.query_echo.items():
            if not _ECHO_KEY.match(key):
                raise ExportError(f"照会条件の項目名 {key!r} はXMLの要素名にできません")
            _sub(echo, key, value)

    terminal = _sub(body, "TerminalInfo")  # madoguchi extension
    _sub(terminal, "AuthMethod", reply.method.value)
    if reply.certificate_not_after is not None:
        _sub(terminal, "CertificateExpirationDate", _fmt_date(reply.certificate_not_after))
    if reply.consent is not None:
        consent = _sub(terminal, "Consent")
        _sub(consent, "Items", " ".join(sorted(item.value for item in reply.consent.items)))
        _sub(consent, "ConsentTime", _fmt_time(reply.consent.given_at))
        _sub(consent, "AvailableTime", _fmt_time(reply.consent.valid_until))

    return root


def reply_to_xml(reply: EligibilityReply, encoding: Encoding = Encoding.UTF8) -> bytes:
    """The result file's bytes (UTF-8 unless Shift_JIS is asked for). Raises ExportError."""
    try:
        return to_bytes(reply_to_element(reply, encoding), encoding)
    except XmlCodecError as exc:
        raise ExportError(str(exc)) from exc


# -- XML parser -----------------------------------------------------------------------------------


def _read_fields(parent: ET.Element, fields: tuple[tuple[str, str, str], ...], where: str) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, tag, kind in fields:
        text = _text(parent.find(tag))
        if text is None:
            continue
        values[name] = _parse_value(text, kind, f"{where}/{tag}") if (text or kind == "s") else None
    return values


def _read_record(el: ET.Element, index: int) -> tuple[QualificationRecord, Consent | None]:
    where = f"ResultOfQualificationConfirmation[{index}]"
    values = _read_fields(el, _RECORD_FIELDS, where)
    values["preschool"] = _text(el.find("PreschoolClassification")) == "1"
    elderly = el.find("ElderlyRecipientCertificateInfo")
    if elderly is not None:
        values["elderly_recipient"] = ElderlyRecipientInfo(**_read_fields(elderly, _ELDERLY_FIELDS, f"{where}/ElderlyRecipientCertificateInfo"))
    limit = el.find("LimitApplicationCertificateRelatedInfo")
    if limit is not None:
        read = _read_fields(limit, _LIMIT_FIELDS, f"{where}/LimitApplicationCertificateRelatedInfo")
        # files of madoguchi before 2026-12 carried the early, truncated spelling of the tag
        read.setdefault("classification_flag", _text(limit.find("LimitApplicationCertificateClassificationFla")))
        values["limit"] = LimitInfo(**read)
    values["specific_disease"] = [
        _text(info.find("SpecificDiseasesDiseaseCategory")) or ""
        for info in el.findall("SpecificDiseasesCertificateList/SpecificDiseasesCertificateInfo")
    ]
    record = QualificationRecord(**values)

    # Per-item consent, as a real reader writes it (used when TerminalInfo is absent).
    items: set[ConsentItem] = set()
    given_at = valid_until = None
    for item, prefix in _CONSENT_ELEMENTS.items():
        if _text(el.find(f"{prefix}ConsFlg")) == "1":
            items.add(item)
            cons_time = _text(el.find(f"{prefix}ConsTime"))
            available = _text(el.find(f"{prefix}AvailableTime"))
            if cons_time and available:
                given_at = _parse_time(cons_time, f"{where}/{prefix}ConsTime")
                valid_until = _parse_time(available, f"{where}/{prefix}AvailableTime")
    consent = Consent(items=frozenset(items), given_at=given_at, valid_until=valid_until) if items and given_at and valid_until else None
    return record, consent


def read_records(parent: ET.Element) -> tuple[list[QualificationRecord], Consent | None, bool]:
    """The records under `parent` (in ResultList elements, one or several records each, or bare),
    the consent they carry, and whether 限度額 consent was given (record flags or the echo).
    Every shape the studied readers accept is read: the writer picks one, the reader takes all."""
    elements = parent.findall("ResultList/ResultOfQualificationConfirmation") + parent.findall("ResultOfQualificationConfirmation")
    records: list[QualificationRecord] = []
    record_consent = None
    for index, el in enumerate(elements):
        record, consent = _read_record(el, index)
        records.append(record)
        record_consent = record_consent or consent
    flags = [_text(el.find("LimitApplicationCertificateRelatedConsFlg")) for el in elements]
    flags.append(_text(parent.find("QualificationConfirmSearchInfo/LimitApplicationCertificateRelatedConsFlg")))
    return records, record_consent, "1" in flags


def read_echo(parent: ET.Element) -> dict[str, str]:
    echo = parent.find("QualificationConfirmSearchInfo")
    return {} if echo is None else {child.tag: child.text or "" for child in echo}


def _required(parent: ET.Element, path: str) -> str:
    text = _text(parent.find(path))
    if text is None:
        raise ResultFileError(f"{path} がありません")
    return text


def reply_from_xml(data: bytes) -> EligibilityReply:
    """Parse a result file (UTF-8 or Shift_JIS) back into an EligibilityReply. Raises
    ResultFileError on anything malformed."""
    try:
        root, _ = parse(data)
    except XmlCodecError as exc:
        raise ResultFileError(str(exc)) from exc
    return reply_from_element(root)


def reply_from_element(root: ET.Element) -> EligibilityReply:
    """An `XmlMsg` element (a whole result, or one patient's of a bulk result) as a reply."""
    if root.tag != "XmlMsg":
        raise ResultFileError(f"ルート要素が XmlMsg ではありません（{root.tag}）")
    header = root.find("MessageHeader")
    body = root.find("MessageBody")
    if header is None or body is None:
        raise ResultFileError("MessageHeader または MessageBody がありません")
    try:
        values: dict[str, Any] = {
            "process_execution_time": _parse_time(_required(header, "ProcessExecutionTime"), "ProcessExecutionTime"),
            "confirmation_date": _parse_date(_required(header, "QualificationConfirmationDate"), "QualificationConfirmationDate"),
            "reference_classification": _parse_int(_required(header, "ReferenceClassification"), "ReferenceClassification"),
            "segment_of_result": _parse_int(_required(header, "SegmentOfResult"), "SegmentOfResult"),
            "processing_result_status": _parse_int(_required(body, "ProcessingResultStatus"), "ProcessingResultStatus"),
            "medical_institution_code": _text(header.find("MedicalInstitutionCode")),
            "arbitrary_file_identifier": _text(header.find("ArbitraryFileIdentifier")),
            "error_code": _text(header.find("ErrorCode")),
            "error_message": _text(header.find("ErrorMessage")),
        }
        validity = _text(body.find("QualificationValidity"))
        if validity:
            values["validity"] = Validity(_parse_int(validity, "QualificationValidity"))
        records, record_consent, limit_consent = read_records(body)
        values["records"] = records
        values["limit_consent"] = limit_consent
        if echo := read_echo(body):
            values["query_echo"] = echo
        terminal = body.find("TerminalInfo")
        values["consent"] = record_consent
        if terminal is not None:
            values["method"] = AuthMethod(_required(terminal, "AuthMethod"))
            expiry = _text(terminal.find("CertificateExpirationDate"))
            if expiry:
                values["certificate_not_after"] = _parse_date(expiry, "CertificateExpirationDate")
            consent_el = terminal.find("Consent")
            values["consent"] = None
            if consent_el is not None:
                values["consent"] = Consent(
                    items=frozenset(ConsentItem(v) for v in (_text(consent_el.find("Items")) or "").split()),
                    given_at=_parse_time(_required(consent_el, "ConsentTime"), "Consent/ConsentTime"),
                    valid_until=_parse_time(_required(consent_el, "AvailableTime"), "Consent/AvailableTime"),
                )
        return EligibilityReply(**values)
    except ResultFileError:
        raise
    except (ValidationError, ValueError, TypeError) as exc:
        raise ResultFileError(f"資格確認結果の内容が不正です: {exc}") from exc


# -- JSON -----------------------------------------------------------------------------------------


def reply_to_json(reply: EligibilityReply) -> bytes:
    data = reply.model_dump(mode="json")
    if data.get("consent") is not None:
        data["consent"]["items"] = sorted(data["consent"]["items"])  # a frozenset: make the file deterministic
    document = {"format": JSON_FORMAT, "version": JSON_VERSION, "reply": data}
    return (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def reply_from_json(data: bytes) -> EligibilityReply:
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ResultFileError(f"JSONとして読めません: {exc}") from exc
    if not isinstance(document, dict) or document.get("format") != JSON_FORMAT:
        raise ResultFileError(f"{JSON_FORMAT} 形式のファイルではありません")
    if document.get("version") != JSON_VERSION:
        raise ResultFileError(f"対応していない版です（{document.get('version')!r}）")
    try:
        return EligibilityReply.model_validate(document.get("reply"))
    except ValidationError as exc:
        raise ResultFileError(f"資格確認結果の内容が不正です: {exc}") from exc


# -- files ----------------------------------------------------------------------------------------


def new_file_identifier() -> str:
    """A random ArbitraryFileIdentifier (URL-safe base64, 16 characters)."""
    return base64.urlsafe_b64encode(secrets.token_bytes(12)).decode("ascii")


def _safe_name(identifier: str) -> str:
    return identifier.replace("+", "-").replace("/", "_").rstrip("=")


@dataclass(frozen=True)
class ExportedResult:
    xml_path: Path
    json_path: Path
    reply: EligibilityReply  # as written (with its file identifier)


class ResultExporter:
    """Writes each result into `res_dir` as <stem>.xml and <stem>.json, unique per confirmation.

    The stem is OQS_<照会区分>_<yyyymmdd>T<HHMMSS>_<ArbitraryFileIdentifier>; the identifier is
    generated when the reply has none. Writing the same reply twice rewrites the same two files.
    """

    def __init__(self, res_dir: Path | str, *, face_dir: Path | None = None) -> None:
        self.res_dir = Path(res_dir)
        # a 資格確認端末's face/ folder: card confirmations are also written there, named as the
        # terminal names the reader's results, for レセコン that pick them up from there
        self.face_dir = face_dir

    def face_name(self, reply: EligibilityReply) -> str | None:
        """`OQSsiquc01res_face_<医療機関コード><20 hex>_<yyyymmddHHMMSS>.xml` for a card
        confirmation the レセコン may use (not a demo, not a failure); None otherwise."""
        if self.face_dir is None or reply.reference_classification != 1 or reply.demo or reply.validity is None:
            return None
        assert reply.arbitrary_file_identifier is not None
        digest = hashlib.sha256(reply.arbitrary_file_identifier.encode()).hexdigest()[:20]
        code = reply.medical_institution_code or "0" * 10
        return f"OQSsiquc01res_face_{code}{digest}_{_jst_naive(reply.process_execution_time):%Y%m%d%H%M%S}.xml"

    @staticmethod
    def identify(reply: EligibilityReply) -> EligibilityReply:
        """The reply with its file identifier (made now when it has none): its files' name is fixed."""
        if reply.arbitrary_file_identifier is not None:
            return reply
        return reply.model_copy(update={"arbitrary_file_identifier": new_file_identifier()})

    @staticmethod
    def stem(reply: EligibilityReply) -> str:
        """The files' name without suffix, for an identified reply."""
        assert reply.arbitrary_file_identifier is not None
        moment = _jst_naive(reply.process_execution_time)
        stem = f"OQS_{reply.reference_classification}_{moment:%Y%m%dT%H%M%S}_{_safe_name(reply.arbitrary_file_identifier)}"
        # a demo is no confirmation: a レセコン picking up OQS_* never sees it
        return f"DEMO_{stem}" if reply.demo else stem

    def has(self, stem: str) -> bool:
        """Both files of this result are in the folder (the face/ copy is not checked: the
        terminal's レセコン may have taken it already)."""
        return (self.res_dir / f"{stem}.xml").is_file() and (self.res_dir / f"{stem}.json").is_file()

    def write(self, reply: EligibilityReply) -> ExportedResult:
        reply = self.identify(reply)
        stem = self.stem(reply)
        xml = reply_to_xml(reply)  # serialise both before touching the folder
        js = reply_to_json(reply)
        try:
            private_dir(self.res_dir)
        except OSError as exc:
            raise ExportError(f"出力フォルダ {self.res_dir} を作れません: {exc}") from exc
        xml_path = self.res_dir / f"{stem}.xml"
        json_path = self.res_dir / f"{stem}.json"
        json_existed = json_path.exists()
        face_name = self.face_name(reply)
        if face_name is not None and self.face_dir is not None and not self.face_dir.is_dir():
            raise ExportError(f"資格確認端末の face フォルダ {self.face_dir} がありません（共有フォルダの接続を確認してください）")
        staged: list[tuple[Path, Path]] = []
        try:
            # Every file is complete on disk before any is renamed into place; JSON first, the
            # XML last, because the XML is what a レセコン picks up.
            staged.append((stage_file(json_path, js), json_path))
            if face_name is not None and self.face_dir is not None:
                staged.append((stage_file(self.face_dir / face_name, xml), self.face_dir / face_name))
            staged.append((stage_file(xml_path, xml), xml_path))
            for tmp, final in staged:
                os.replace(tmp, final)
        except OSError as exc:
            for tmp, _ in staged:
                tmp.unlink(missing_ok=True)
            if not json_existed and not xml_path.exists():
                json_path.unlink(missing_ok=True)  # no XML: no lone JSON either
            raise ExportError(f"{stem} を書き込めません: {exc}") from exc
        return ExportedResult(xml_path=xml_path, json_path=json_path, reply=reply)


@dataclass(frozen=True)
class Tidied:
    removed_old: int  # result files past the retention period
    removed_partial: int  # temporary files a crash left behind (never a complete result)


def tidy_results(res_dir: Path, *, keep_days: int, now: float | None = None) -> Tidied:
    """At start: remove the half-written temporary files a crash may have left (they hold personal
    data and are never a result), and result files older than `keep_days` (0: keep all)."""
    import time

    if not res_dir.is_dir():
        return Tidied(0, 0)
    now = time.time() if now is None else now
    old = partial = 0
    # the 申立書 saved beside res/ (desk/tui/screens/moushitate.py) holds the same kind of data
    forms = res_dir.parent / "moushitate"
    if keep_days and forms.is_dir():
        for path in forms.glob("moushitate-*"):
            try:
                if now - path.stat().st_mtime > keep_days * 86400:
                    path.unlink()
                    old += 1
            except FileNotFoundError:
                continue
    for path in res_dir.iterdir():
        name = path.name
        try:
            if name.startswith((".OQS_", ".DEMO_OQS_")) and name.endswith(".tmp"):
                path.unlink()
                partial += 1
            elif keep_days and name.startswith(("OQS_", "DEMO_OQS_")) and path.suffix in (".xml", ".json"):
                if now - path.stat().st_mtime > keep_days * 86400:
                    path.unlink()
                    old += 1
        except FileNotFoundError:
            continue  # another desk tidied it meanwhile
    if old or partial:
        _log.info("result folder tidied: %d past %d days, %d partial files removed", old, keep_days, partial)
    return Tidied(old, partial)
