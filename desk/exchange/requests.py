"""The request messages a レセコン writes into `req/`, and the bulk messages of 一括照会.

Shapes (docs/interface.md, with sources): every message is an `XmlMsg` with a `MessageHeader`
(MedicalInstitutionCode, ArbitraryFileIdentifier, CharacterCodeIdentifier, …) and a `MessageBody`.
- 個別照会 (OQSsiquc01req): one `QualificationConfirmSearchInfo` (保険者番号, 記号, 番号, 枝番,
  生年月日, 限度額 consent flag).
- 一括照会 登録 (OQSmuquc01req): one `QualificationConfirmSearchInfo` per patient, each with an
  `ArbitraryIdentifier` (its position); the answer carries a `ReceptionNumber`.
- 一括照会 取得 (OQSmuquc02req): the `ReceptionNumber` alone; the answer's header carries the
  counts, its body one `BulkConfirmUnit` per patient: the echo (with the `ArbitraryIdentifier`),
  the status, `QualificationValidity` and the records, bare (no ResultList).

Parsing is strict: a request the terminal cannot read gets an `.err`, so every fault is a
`RequestError` with a Japanese message that goes into that file.
"""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from pydantic import ValidationError

from desk.exchange.codec import Encoding, XmlCodecError, parse, sub_element, to_bytes
from desk.export import ExportError, ResultFileError, read_records, write_records
from desk.models import EligibilityReply, NumbersQuery, Validity

__all__ = [
    "RequestError",
    "SingleRequest",
    "BulkUpload",
    "BulkAccepted",
    "BulkFetch",
    "BulkResult",
    "BulkUnit",
    "single_request_to_xml",
    "parse_single_request",
    "bulk_upload_to_xml",
    "parse_bulk_upload",
    "bulk_accepted_to_xml",
    "parse_bulk_accepted",
    "bulk_fetch_to_xml",
    "parse_bulk_fetch",
    "bulk_result_to_xml",
    "parse_bulk_result",
    "search_info",
    "query_from_search_info",
]

BULK_LIMIT = 10_000  # patients per 一括照会 (a design limit: one day's list of a large hospital)
_MIC = re.compile(r"^\d{10}$")
_RECEPTION = re.compile(r"^[A-Za-z0-9-]{1,32}$")


class RequestError(ValueError):
    """A message that cannot be read; str() is the Japanese reason."""


@dataclass(frozen=True)
class SingleRequest:
    query: NumbersQuery
    medical_institution_code: str
    identifier: str
    confirmation_date: dt.date
    encoding: Encoding = Encoding.UTF8


@dataclass(frozen=True)
class BulkUpload:
    queries: list[NumbersQuery]
    medical_institution_code: str
    identifier: str
    confirmation_date: dt.date  # the day the patients are expected (the day after, for 前日照会)
    encoding: Encoding = Encoding.UTF8


@dataclass(frozen=True)
class BulkAccepted:
    reception_number: str
    identifier: str
    error: str | None = None  # the upload refused as a whole (ErrorMessage)


@dataclass(frozen=True)
class BulkFetch:
    reception_number: str
    medical_institution_code: str
    identifier: str
    encoding: Encoding = Encoding.UTF8


@dataclass(frozen=True)
class BulkUnit:
    """One patient of a bulk result: the query as sent and its answer (or the reason there is none)."""

    index: int
    query: NumbersQuery
    reply: EligibilityReply | None
    error: str | None = None


@dataclass(frozen=True)
class BulkResult:
    reception_number: str
    identifier: str
    processing: bool  # SegmentOfResult 2 処理中: not ready yet, ask again later
    units: list[BulkUnit] = field(default_factory=list)
    error: str | None = None  # e.g. an unknown reception number

    @property
    def normal(self) -> int:
        return sum(1 for u in self.units if u.reply is not None)


# -- helpers --------------------------------------------------------------------------------------


def _sub(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
    try:
        return sub_element(parent, tag, text)
    except XmlCodecError as exc:  # a control character typed into a query: the terminal could not read it
        raise RequestError(str(exc)) from None


def _header(root: ET.Element, *, mic: str | None, identifier: str, encoding: Encoding, day: dt.date | None) -> ET.Element:
    header = _sub(root, "MessageHeader")
    if day is not None:
        _sub(header, "QualificationConfirmationDate", f"{day:%Y%m%d}")
    if mic is not None:
        _sub(header, "MedicalInstitutionCode", mic)
    _sub(header, "ArbitraryFileIdentifier", identifier)
    _sub(header, "CharacterCodeIdentifier", encoding.character_code)
    return header


def _encode(root: ET.Element, encoding: Encoding) -> bytes:
    try:
        return to_bytes(root, encoding)
    except XmlCodecError as exc:
        raise RequestError(str(exc)) from exc


def _root(data: bytes) -> tuple[ET.Element, Encoding, ET.Element, ET.Element]:
    try:
        root, encoding = parse(data)
    except XmlCodecError as exc:
        raise RequestError(str(exc)) from exc
    if root.tag != "XmlMsg":
        raise RequestError(f"ルート要素が XmlMsg ではありません（{root.tag[:40]}）")
    header, body = root.find("MessageHeader"), root.find("MessageBody")
    if header is None or body is None:
        raise RequestError("MessageHeader または MessageBody がありません")
    return root, encoding, header, body


def _text(parent: ET.Element, tag: str, *, required: bool = True) -> str:
    element = parent.find(tag)
    if element is None:
        if required:
            raise RequestError(f"{tag} がありません")
        return ""
    return element.text or ""


def _mic(header: ET.Element) -> str:
    mic = _text(header, "MedicalInstitutionCode").strip()
    if not _MIC.match(mic):
        raise RequestError(f"医療機関コードは10桁の数字です（{mic[:20]!r}）")
    return mic


def _identifier(header: ET.Element) -> str:
    identifier = _text(header, "ArbitraryFileIdentifier", required=False).strip()
    if len(identifier) > 64 or not identifier.isprintable():
        raise RequestError("ArbitraryFileIdentifier が長すぎるか、制御文字を含みます")
    return identifier


def _day(text: str, tag: str) -> dt.date:
    if not re.fullmatch(r"\d{8}", text):
        raise RequestError(f"{tag} は yyyymmdd の8桁です（{text[:20]!r}）")
    try:
        return dt.datetime.strptime(text, "%Y%m%d").date()
    except ValueError:
        raise RequestError(f"{tag} の日付が正しくありません（{text}）") from None


def _confirmation_day(header: ET.Element, today: dt.date) -> dt.date:
    text = _text(header, "QualificationConfirmationDate", required=False).strip()
    return _day(text, "QualificationConfirmationDate") if text else today


# -- search info ----------------------------------------------------------------------------------


def search_info(parent: ET.Element, query: NumbersQuery) -> ET.Element:
    """`QualificationConfirmSearchInfo` for a query: 保険者番号 right-aligned in 8 characters."""
    info = _sub(parent, "QualificationConfirmSearchInfo")
    _sub(info, "InsurerNumber", query.insurer_number.strip().rjust(8))
    _sub(info, "InsuredCardSymbol", query.insured_card_symbol)
    _sub(info, "InsuredIdentificationNumber", query.insured_identification_number)
    _sub(info, "InsuredBranchNumber", query.insured_branch_number)
    _sub(info, "Birthdate", f"{query.birth_date:%Y%m%d}")
    _sub(info, "LimitApplicationCertificateRelatedConsFlg", "1" if query.limit_consent else "0")
    return info


def query_from_search_info(info: ET.Element | None) -> NumbersQuery:
    if info is None:
        raise RequestError("QualificationConfirmSearchInfo がありません")
    flag = _text(info, "LimitApplicationCertificateRelatedConsFlg", required=False).strip() or "0"
    if flag not in {"0", "1"}:
        raise RequestError(f"LimitApplicationCertificateRelatedConsFlg は 0 か 1 です（{flag[:10]!r}）")
    try:
        return NumbersQuery(
            insurer_number=_text(info, "InsurerNumber"),
            insured_card_symbol=_text(info, "InsuredCardSymbol", required=False).strip(),
            insured_identification_number=_text(info, "InsuredIdentificationNumber").strip(),
            insured_branch_number=_text(info, "InsuredBranchNumber", required=False).strip(),
            birth_date=_day(_text(info, "Birthdate").strip(), "Birthdate"),
            limit_consent=flag == "1",
        )
    except ValidationError as exc:
        where = ", ".join(str(e["loc"][0]) for e in exc.errors() if e.get("loc"))
        raise RequestError(f"照会条件が正しくありません（{where}）") from None


# -- 個別照会 ---------------------------------------------------------------------------------------


def single_request_to_xml(request: SingleRequest) -> bytes:
    root = ET.Element("XmlMsg")
    _header(root, mic=request.medical_institution_code, identifier=request.identifier, encoding=request.encoding, day=request.confirmation_date)
    search_info(_sub(root, "MessageBody"), request.query)
    return _encode(root, request.encoding)


def parse_single_request(data: bytes, *, today: dt.date) -> SingleRequest:
    _, encoding, header, body = _root(data)
    return SingleRequest(
        query=query_from_search_info(body.find("QualificationConfirmSearchInfo")),
        medical_institution_code=_mic(header),
        identifier=_identifier(header),
        confirmation_date=_confirmation_day(header, today),
        encoding=encoding,
    )


# -- 一括照会 ---------------------------------------------------------------------------------------


def bulk_upload_to_xml(upload: BulkUpload) -> bytes:
    root = ET.Element("XmlMsg")
    _header(root, mic=upload.medical_institution_code, identifier=upload.identifier, encoding=upload.encoding, day=upload.confirmation_date)
    body = _sub(root, "MessageBody")
    for position, query in enumerate(upload.queries, 1):
        info = search_info(body, query)
        _sub(info, "ArbitraryIdentifier", str(position))  # echoed per patient in the result
    return _encode(root, upload.encoding)


def parse_bulk_upload(data: bytes, *, today: dt.date) -> BulkUpload:
    _, encoding, header, body = _root(data)
    infos = body.findall("QualificationConfirmSearchInfo")
    if not infos:
        raise RequestError("QualificationConfirmSearchInfo がありません（照会する患者が0件です）")
    if len(infos) > BULK_LIMIT:
        raise RequestError(f"一度に照会できるのは{BULK_LIMIT}件までです（{len(infos)}件）")
    queries = []
    for index, info in enumerate(infos, 1):
        try:
            queries.append(query_from_search_info(info))
        except RequestError as exc:
            raise RequestError(f"{index}件目: {exc}") from None
    return BulkUpload(
        queries=queries, medical_institution_code=_mic(header), identifier=_identifier(header),
        confirmation_date=_confirmation_day(header, today), encoding=encoding,
    )


def _answer_header(
    root: ET.Element, *, identifier: str, encoding: Encoding, segment: int, at: dt.datetime, error: str | None,
    mic: str | None = None, day: dt.date | None = None, reception: str | None = None, counts: tuple[int, int, int] | None = None,
) -> None:
    header = _sub(root, "MessageHeader")
    _sub(header, "ProcessExecutionTime", f"{at:%Y%m%d%H%M%S}")
    if day is not None:
        _sub(header, "QualificationConfirmationDate", f"{day:%Y%m%d}")
    if mic is not None:
        _sub(header, "MedicalInstitutionCode", mic)
    if identifier:
        _sub(header, "ArbitraryFileIdentifier", identifier)
    if reception is not None:
        _sub(header, "ReceptionNumber", reception)
    _sub(header, "SegmentOfResult", str(segment))  # OQSCD003: 1 正常終了, 2 処理中, 9 異常終了
    if error is not None:
        _sub(header, "ErrorCode", "bulk_error")
        _sub(header, "ErrorMessage", error)
    if counts is not None:
        _sub(header, "NumberOfProcessingResult", str(counts[0]))
        _sub(header, "NumberOfNormalProcessing", str(counts[1]))
        _sub(header, "NumberOfError", str(counts[2]))
    _sub(header, "CharacterCodeIdentifier", encoding.character_code)


def bulk_accepted_to_xml(accepted: BulkAccepted, *, at: dt.datetime, encoding: Encoding, mic: str | None = None) -> bytes:
    root = ET.Element("XmlMsg")
    _answer_header(root, identifier=accepted.identifier, encoding=encoding, segment=9 if accepted.error else 1, at=at,
                   error=accepted.error, mic=mic)
    body = _sub(root, "MessageBody")
    _sub(body, "ProcessingResultStatus", "2" if accepted.error else "1")
    if not accepted.error:
        _sub(body, "ReceptionNumber", accepted.reception_number)
        _sub(body, "ReceptionDateTime", f"{at:%Y%m%d%H%M%S}")
    return _encode(root, encoding)


def parse_bulk_accepted(data: bytes) -> BulkAccepted:
    _, _, header, body = _root(data)
    error = _text(header, "ErrorMessage", required=False) or None
    if _text(header, "SegmentOfResult", required=False).strip() == "9" or _text(body, "ProcessingResultStatus", required=False).strip() == "2":
        return BulkAccepted(reception_number="", identifier=_identifier(header), error=error or "一括照会を受け付けられませんでした")
    number = _text(body, "ReceptionNumber").strip()
    if not _RECEPTION.match(number):
        raise RequestError(f"受付番号が正しくありません（{number[:40]!r}）")
    return BulkAccepted(reception_number=number, identifier=_identifier(header))


def bulk_fetch_to_xml(fetch: BulkFetch) -> bytes:
    # the two clients studied send exactly this: the institution and the reception number
    root = ET.Element("XmlMsg")
    _sub(_sub(root, "MessageHeader"), "MedicalInstitutionCode", fetch.medical_institution_code)
    _sub(_sub(root, "MessageBody"), "ReceptionNumber", fetch.reception_number)
    return _encode(root, fetch.encoding)


def parse_bulk_fetch(data: bytes) -> BulkFetch:
    _, encoding, header, body = _root(data)
    number = _text(body, "ReceptionNumber").strip()
    if not _RECEPTION.match(number):
        raise RequestError(f"受付番号が正しくありません（{number[:40]!r}）")
    return BulkFetch(reception_number=number, medical_institution_code=_mic(header), identifier=_identifier(header), encoding=encoding)


def bulk_result_to_xml(result: BulkResult, *, at: dt.datetime, encoding: Encoding, mic: str | None = None, day: dt.date | None = None) -> bytes:
    root = ET.Element("XmlMsg")
    segment = 9 if result.error else (2 if result.processing else 1)
    done = not (result.error or result.processing)
    counts = (len(result.units), result.normal, len(result.units) - result.normal) if done else None
    _answer_header(root, identifier=result.identifier, encoding=encoding, segment=segment, at=at, error=result.error,
                   mic=mic, day=day, reception=result.reception_number, counts=counts)
    body = _sub(root, "MessageBody")
    for unit in result.units if done else []:
        element = _sub(body, "BulkConfirmUnit")
        info = search_info(element, unit.query)
        _sub(info, "ArbitraryIdentifier", str(unit.index))
        reply = unit.reply
        if reply is None or reply.validity is None:
            _sub(element, "ProcessingResultStatus", "2")
            _sub(element, "ProcessingResultMessage", unit.error or (reply.error_message if reply else None) or "照会できませんでした")
            continue
        _sub(element, "ProcessingResultStatus", "1")
        _sub(element, "QualificationValidity", str(int(reply.validity)))
        try:
            write_records(element, reply, wrapped=False)
        except ExportError as exc:
            raise RequestError(str(exc)) from exc
    return _encode(root, encoding)


def parse_bulk_result(data: bytes) -> BulkResult:
    _, _, header, body = _root(data)
    segment = _text(header, "SegmentOfResult").strip()
    identifier = _identifier(header)
    number = _text(header, "ReceptionNumber", required=False).strip()
    if segment == "9":
        return BulkResult(number, identifier, False, error=_text(header, "ErrorMessage", required=False) or "一括照会の結果を取得できませんでした")
    if segment == "2":
        return BulkResult(number, identifier, True)
    at = _text(header, "ProcessExecutionTime", required=False).strip()
    moment = dt.datetime.strptime(at, "%Y%m%d%H%M%S") if re.fullmatch(r"\d{14}", at) else dt.datetime.now().replace(microsecond=0)
    day_text = _text(header, "QualificationConfirmationDate", required=False).strip()
    day = _day(day_text, "QualificationConfirmationDate") if day_text else moment.date()
    units = []
    for position, element in enumerate(body.findall("BulkConfirmUnit"), 1):
        info = element.find("QualificationConfirmSearchInfo")
        query = query_from_search_info(info)
        assert info is not None
        own = _text(info, "ArbitraryIdentifier", required=False).strip()
        index = int(own) if own.isdigit() else position
        validity = _text(element, "QualificationValidity", required=False).strip()
        if _text(element, "ProcessingResultStatus", required=False).strip() == "2" or not validity:
            units.append(BulkUnit(index, query, None, _text(element, "ProcessingResultMessage", required=False) or "照会できませんでした"))
            continue
        try:
            records, _, limit_consent = read_records(element)
            reply = EligibilityReply(
                process_execution_time=moment, confirmation_date=day, reference_classification=2,
                validity=Validity(int(validity)), records=records, limit_consent=limit_consent,
                query_echo={child.tag: child.text or "" for child in info}, arbitrary_file_identifier=None,
            )
        except (ResultFileError, ValidationError, ValueError) as exc:
            raise RequestError(f"{index}件目の結果を読めません: {getattr(exc, 'msg', exc)}") from None
        units.append(BulkUnit(index, query, reply))
    declared = _text(header, "NumberOfProcessingResult", required=False).strip()
    if declared.isdigit() and int(declared) != len(units):
        raise RequestError(f"結果の件数が合いません（{declared}件とありますが{len(units)}件です）")
    return BulkResult(number, identifier, False, units)
