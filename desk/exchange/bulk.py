"""一括照会 of a patient list: the day-before check of tomorrow's patients.

The list is a CSV a レセコン or a spreadsheet exports (UTF-8, with or without BOM, or the
Shift_JIS that Japanese Excel writes): one patient per row, 保険者番号, 記号, 番号, 枝番, 生年月日,
and optionally a patient ID of the clinic's own, which is carried to the results. A header row is
recognised and skipped. Every row is checked before anything is sent: a wrong row is named with
its line number, and nothing is sent until the list is right.

The list goes to the terminal in parts (`chunk`), each one upload (OQSmuquc01) and fetches
(OQSmuquc02) until its results are ready, so progress can be shown and one bad part does not
lose the others. The results are a CSV in UTF-8 with BOM (Excel opens it as it is).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from pydantic import ValidationError

from desk.central import CentralError
from desk.exchange.codec import decode_text
from desk.exchange.requests import BulkAccepted, BulkResult, BulkUnit
from desk.models import NumbersQuery, Validity
from desk.typed_input import parse_birth_date, to_halfwidth, wrong_query_fields
from reader.staff_facing import StaffFacingError, UsageError

__all__ = [
    "BulkCentral",
    "PatientRow",
    "PatientListError",
    "BulkOutcome",
    "read_patient_list",
    "run_bulk",
    "summarize",
    "write_results_csv",
    "SUMMARY_LABELS",
]

_HEADER_WORDS = ("保険者", "insurer", "記号", "番号", "生年月日", "birth")


class BulkCentral(Protocol):
    def bulk_upload(self, queries: list[NumbersQuery], *, confirmation_date: dt.date, medical_institution_code: str) -> BulkAccepted: ...

    def bulk_fetch(self, reception_number: str, *, medical_institution_code: str) -> BulkResult: ...


class PatientListError(UsageError):
    title = "患者リストを読めません"


@dataclass(frozen=True)
class PatientRow:
    line: int  # the line in the file, for messages and the results
    patient_id: str
    query: NumbersQuery


@dataclass(frozen=True)
class BulkOutcome:
    row: PatientRow
    unit: BulkUnit | None  # None: the part it was in could not be asked
    error: str | None = None

    @property
    def category(self) -> str:
        """有効 / 無効 / 該当なし / 複数該当 / エラー, for the summary."""
        reply = self.unit.reply if self.unit is not None else None
        if reply is None or reply.validity is None:
            return "エラー"
        if reply.validity is Validity.VALID:
            return "有効"
        if reply.validity in (Validity.INVALID, Validity.INVALID_NEW_EXISTS):
            return "無効"
        if reply.validity is Validity.MULTIPLE:
            return "複数該当"
        return "該当なし"


SUMMARY_LABELS = ("有効", "無効", "該当なし", "複数該当", "エラー")


def read_patient_list(path: Path, *, limit: int = 10_000) -> list[PatientRow]:
    """The rows of a patient list. PatientListError names the first wrong lines."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise PatientListError(f"{path} がありません。") from None
    except IsADirectoryError:
        raise PatientListError(f"{path} はフォルダです。CSVファイルを指定してください。") from None
    except OSError as exc:
        raise PatientListError(f"{path} を読めません: {exc.strerror or exc}") from None
    text = decode_text(data)
    if text is None:
        raise PatientListError("文字コードが UTF-8 でも Shift_JIS でもありません。UTF-8 で保存し直してください。")
    rows: list[PatientRow] = []
    problems: list[str] = []
    for line, cells in enumerate(csv.reader(io.StringIO(text)), 1):
        cells = [to_halfwidth(c).strip() for c in cells]
        if not any(cells) or cells[0].startswith("#"):
            continue
        if not rows and not problems and any(word in "".join(cells).lower() for word in _HEADER_WORDS):
            continue  # the header row
        if len(cells) < 5:
            problems.append(f"{line}行目: 列が足りません（保険者番号,記号,番号,枝番,生年月日[,患者ID]）")
            continue
        insurer, symbol, number, branch, birth = cells[:5]
        patient_id = cells[5] if len(cells) > 5 else ""
        birth_date = parse_birth_date(birth)
        if birth_date is None:
            problems.append(f"{line}行目: 生年月日 {birth[:20]!r} は YYYY-MM-DD か YYYYMMDD で書いてください")
            continue
        try:
            query = NumbersQuery(
                insurer_number=insurer, insured_card_symbol=symbol, insured_identification_number=number,
                insured_branch_number=branch, birth_date=birth_date,
            )
        except ValidationError as exc:
            problems.append(f"{line}行目: {'、'.join(wrong_query_fields(exc))}が正しくありません")
            continue
        rows.append(PatientRow(line, patient_id, query))
    if problems:
        shown = problems[:10] + ([f"ほか{len(problems) - 10}行"] if len(problems) > 10 else [])
        raise PatientListError("直してから照会してください:\n" + "\n".join(shown))
    if not rows:
        raise PatientListError(f"{path} に照会する患者がいません。")
    if len(rows) > limit:
        raise PatientListError(f"一度に照会できるのは{limit}人までです（{len(rows)}人）。ファイルを分けてください。")
    return rows


Progress = Callable[[int, int, str], None]  # (done, total, what is happening)


def run_bulk(
    central: BulkCentral,
    rows: list[PatientRow],
    *,
    confirmation_date: dt.date,
    medical_institution_code: str,
    chunk: int = 100,
    progress: Progress | None = None,
    poll_s: float = 0.5,
    max_wait_s: float = 600.0,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
) -> list[BulkOutcome]:
    """Ask for every row, part by part. A part the terminal refuses or never finishes is reported
    as an error for its rows; the other parts go on."""
    outcomes: list[BulkOutcome] = []
    report = progress or (lambda done, total, what: None)
    total = len(rows)
    for start in range(0, total, chunk):
        part = rows[start:start + chunk]
        report(start, total, f"{start + 1}〜{start + len(part)}人目を送っています")
        try:
            accepted = central.bulk_upload([r.query for r in part], confirmation_date=confirmation_date, medical_institution_code=medical_institution_code)
            result = _wait_for_results(central, accepted, medical_institution_code, poll_s, max_wait_s, sleep, monotonic)
        except CentralError as exc:
            outcomes.extend(BulkOutcome(r, None, f"{exc.title}: {exc.msg}") for r in part)
            report(start + len(part), total, f"{start + 1}〜{start + len(part)}人目は照会できませんでした")
            continue
        by_index = {u.index: u for u in result.units}
        for position, row in enumerate(part, 1):
            unit = by_index.get(position)
            outcomes.append(BulkOutcome(row, unit, None if unit is not None else "結果が返されませんでした"))
        report(start + len(part), total, f"{start + len(part)}人目まで照会しました")
    return outcomes


def _wait_for_results(
    central: BulkCentral, accepted: BulkAccepted, mic: str, poll_s: float, max_wait_s: float,
    sleep: Callable[[float], None], monotonic: Callable[[], float],
) -> BulkResult:
    from desk.central import CentralTimeout

    deadline = monotonic() + max_wait_s
    while True:
        result = central.bulk_fetch(accepted.reception_number, medical_institution_code=mic)
        if not result.processing:
            return result
        if monotonic() >= deadline:
            raise CentralTimeout(f"受付番号 {accepted.reception_number} の結果が{max_wait_s:g}秒たっても出ません。後で取得し直してください。")
        sleep(poll_s)


def summarize(outcomes: Iterable[BulkOutcome]) -> dict[str, int]:
    counts = Counter(o.category for o in outcomes)
    return {label: counts.get(label, 0) for label in SUMMARY_LABELS}


_COLUMNS = (
    "行", "患者ID", "保険者番号", "記号", "番号", "枝番", "生年月日", "結果", "資格有効性コード",
    "氏名", "保険者名", "負担割合", "資格取得日", "資格喪失日", "エラー",
)


def _result_row(outcome: BulkOutcome) -> list[str]:
    row, unit = outcome.row, outcome.unit
    query = row.query
    reply = unit.reply if unit is not None else None
    record = reply.records[0] if reply is not None and reply.records else None
    error = outcome.error or (unit.error if unit is not None else None) or ""
    ratio = ""
    if record is not None and reply is not None and reply.validity is Validity.VALID:
        from desk.copay import copay_to_collect

        percent = copay_to_collect(record, reply.confirmation_date)
        ratio = f"{percent // 10}割" if percent is not None else ""
    return [
        str(row.line), row.patient_id, query.insurer_number, query.insured_card_symbol,
        query.insured_identification_number, query.insured_branch_number, f"{query.birth_date:%Y-%m-%d}",
        outcome.category,
        str(int(reply.validity)) if reply is not None and reply.validity is not None else "",
        record.name if record else "", record.insurer_name if record else "", ratio,
        f"{record.valid_from:%Y-%m-%d}" if record else "",
        f"{record.valid_to:%Y-%m-%d}" if record and record.valid_to else "",
        error,
    ]


def write_results_csv(path: Path, outcomes: list[BulkOutcome]) -> Path:
    """The results, one row per patient in the list's order, written whole (0600: patient data)."""
    from desk.atomicfile import write_bytes_atomic

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(_COLUMNS)
    for outcome in outcomes:
        writer.writerow(_result_row(outcome))
    try:
        return write_bytes_atomic(path, buffer.getvalue().encode("utf-8-sig"))
    except OSError as exc:
        raise StaffFacingError(f"{path} に書き込めません: {exc.strerror or exc}", "結果のCSVを保存できません") from exc
