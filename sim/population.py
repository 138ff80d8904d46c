"""The simulated central system's population: fixtures/population.json, validated, loaded into SQLite.

The fixture lists persons, their qualification records (the ResultOfQualificationConfirmation
fields, eligibility-anchors.md §1.2) and the links from a card's user-auth certificate serial to a
person (保険証利用登録, which may be cancelled). See fixtures/README.md, section "Population".

`PopulationDb` keeps them in SQLite (stdlib sqlite3, in memory unless a path is given) and answers
the two look-ups the central system needs: the person behind a certificate on a date, and the
records behind the numbers printed on a 資格確認書 or an old 健康保険証.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from desk.models import ElderlyRecipientInfo, LimitInfo, QualificationRecord
from sim.fixtures import FIXTURES_DIR, FixtureError

__all__ = [
    "POPULATION_PATH",
    "PopulationFixture",
    "PersonFixture",
    "QualificationFixture",
    "CardLinkFixture",
    "StoredQualification",
    "PopulationDb",
    "load_population",
    "insurer_check_digit",
    "normalize_insurer_number",
]

POPULATION_PATH = FIXTURES_DIR / "population.json"

# Privacy: the population must never contain anything shaped like a My Number.
_TWELVE_DIGITS = re.compile(r"(?<!\d)\d{12}(?!\d)")


def insurer_check_digit(body: str) -> str:
    """検証番号 of a 保険者番号: weights 2,1,2,… from the left, digits of each product summed, 10's complement."""
    total = 0
    for i, ch in enumerate(body):
        product = int(ch) * (2 if i % 2 == 0 else 1)
        total += product // 10 + product % 10
    return str((10 - total % 10) % 10)


def normalize_insurer_number(value: str) -> str:
    """8 characters as in the result XML: 6-digit 国保 numbers are right-aligned with spaces."""
    digits = value.strip()
    return digits.rjust(8) if len(digits) == 6 else digits


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class QualificationFixture(_Model):
    """One qualification of a person. Name, kana, sex, birth date and address come from the person.

    未就学区分 is not stored: the central system derives it on the confirmation date.
    """

    comment: str = ""
    pending: bool = Field(
        default=False,
        description="資格取得の登録手続き中: the system knows this qualification exists but does not provide it yet",
    )
    insured_card_classification: str = Field(default="01", pattern=r"^(0[1-7]|A1)$")
    insurer_number: str = Field(pattern=r"^( {2}\d{6}|\d{8})$")
    insured_card_symbol: str = ""
    insured_identification_number: str = Field(pattern=r"^\d{1,10}$")
    insured_branch_number: str = Field(default="", pattern=r"^(\d{2})?$")
    personal_family_classification: Literal["1", "2"] = "1"
    insured_name: str = ""
    insurer_name: str
    certificate_issuance_date: dt.date | None = None
    valid_from: dt.date
    valid_to: dt.date | None = None
    partial_contribution_ratio: Literal[10, 20, 30] | None = None
    reason_of_loss: Literal["01", "02", "03", "99"] | None = None
    elderly_recipient: ElderlyRecipientInfo | None = None
    limit: LimitInfo | None = None
    specific_disease: list[Literal["1", "2", "3"]] = Field(default_factory=list)

    @field_validator("insurer_number")
    @classmethod
    def _check_digit(cls, v: str) -> str:
        digits = v.strip()
        if digits[-1] != insurer_check_digit(digits[:-1]):
            raise ValueError(f"保険者番号 {digits} の検証番号が合いません（{insurer_check_digit(digits[:-1])} のはず）")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> QualificationFixture:
        if self.valid_to is not None and self.valid_to < self.valid_from:
            raise ValueError("valid_to is before valid_from")
        if self.reason_of_loss is not None and self.valid_to is None:
            raise ValueError("reason_of_loss needs valid_to (the last day of the lost qualification)")
        if self.personal_family_classification == "2" and not self.insured_name:
            raise ValueError("a 家族 record names the insured person (insured_name)")
        return self


class PersonFixture(_Model):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    comment: str = ""
    card: str | None = Field(default=None, description="the card fixture (fixtures/cards/<card>.json) this person holds")
    name: str
    name_kana: str = Field(default="", description="half-width katakana, as in the result XML")
    sex: Literal["1", "2", "3"]
    birth_date: dt.date
    address: str = ""
    post_number: str = Field(default="", pattern=r"^(\d{3}-\d{4})?$")
    qualifications: list[QualificationFixture] = Field(default_factory=list)


class CardLinkFixture(_Model):
    """保険証利用登録: the card's user-auth certificate (by serial) is linked to a person."""

    comment: str = ""
    certificate_serial: int = Field(gt=0)
    person: str
    registered_on: dt.date
    cancelled_on: dt.date | None = Field(default=None, description="利用登録の解除: from this day the card finds no one")

    def active_on(self, day: dt.date) -> bool:
        return self.registered_on <= day and (self.cancelled_on is None or day < self.cancelled_on)


class RevocationFixture(_Model):
    """A user-auth certificate J-LIS revoked (a lost card reported, or a phone's スマホ用電子証明書
    when one is issued to a new phone: one device at a time, docs/smartphone.md §3). The central
    system asks J-LIS of every certificate; here it knows this list."""

    comment: str = ""
    certificate_serial: int = Field(gt=0)
    revoked_on: dt.date


class PopulationFixture(_Model):
    comment: str = ""
    reference_date: dt.date
    persons: list[PersonFixture]
    card_links: list[CardLinkFixture] = Field(default_factory=list)
    revocations: list[RevocationFixture] = Field(default_factory=list)

    @model_validator(mode="after")
    def _references(self) -> PopulationFixture:
        ids = [p.id for p in self.persons]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"person ids must be unique: {duplicates}")
        serials = [link.certificate_serial for link in self.card_links]
        if len(serials) != len(set(serials)):
            raise ValueError("each certificate serial may be linked once")
        for link in self.card_links:
            if link.person not in ids:
                raise ValueError(f"card link {link.certificate_serial} names unknown person {link.person!r}")
        seen: dict[tuple[str, str, str, str], str] = {}
        for person in self.persons:
            for q in person.qualifications:
                key = (q.insurer_number, q.insured_card_symbol, q.insured_identification_number, q.insured_branch_number)
                if key in seen:
                    raise ValueError(f"numbers {key} used by {seen[key]} and {person.id}")
                seen[key] = person.id
        return self


@dataclass(frozen=True)
class StoredQualification:
    person_id: str
    pending: bool
    record: QualificationRecord


def load_population(path: Path | str | None = None) -> PopulationFixture:
    path = Path(path) if path is not None else POPULATION_PATH
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise FixtureError(f"住民・資格のテストデータ {path} がありません") from exc
    except OSError as exc:  # a folder, no permission …
        raise FixtureError(f"住民・資格のテストデータ {path} を読めません: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise FixtureError(f"{path.name} はUTF-8で読めません: {exc}") from exc
    if _TWELVE_DIGITS.search(text):
        raise FixtureError(f"{path.name} に12桁の数字があります（個人番号と紛らわしい値は入れないでください）")
    try:
        raw = json.loads(text)
    except (ValueError, RecursionError) as exc:  # garbled, too deeply nested, or a number too long
        raise FixtureError(f"{path.name} はJSONとして読めません: {str(exc)[:200]}") from exc
    try:
        return PopulationFixture.model_validate(raw)
    except ValidationError as exc:
        raise FixtureError(f"{path.name} の内容が不正です:\n{exc}") from exc


_SCHEMA = """
CREATE TABLE persons (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    name_kana TEXT NOT NULL,
    sex TEXT NOT NULL,
    birth_date TEXT NOT NULL,
    address TEXT NOT NULL,
    post_number TEXT NOT NULL
);
CREATE TABLE qualifications (
    id INTEGER PRIMARY KEY,
    person_id TEXT NOT NULL REFERENCES persons(id),
    pending INTEGER NOT NULL,
    insured_card_classification TEXT NOT NULL,
    insurer_number TEXT NOT NULL,
    insured_card_symbol TEXT NOT NULL,
    insured_identification_number TEXT NOT NULL,
    insured_branch_number TEXT NOT NULL,
    personal_family_classification TEXT NOT NULL,
    insured_name TEXT NOT NULL,
    insurer_name TEXT NOT NULL,
    certificate_issuance_date TEXT,
    valid_from TEXT NOT NULL,
    valid_to TEXT,
    partial_contribution_ratio INTEGER,
    reason_of_loss TEXT,
    UNIQUE (insurer_number, insured_card_symbol, insured_identification_number, insured_branch_number)
);
CREATE INDEX qualifications_person ON qualifications(person_id);
CREATE TABLE elderly_recipient_certificates (
    qualification_id INTEGER PRIMARY KEY REFERENCES qualifications(id),
    certificate_date TEXT,
    valid_start TEXT NOT NULL,
    valid_end TEXT,
    contribution_ratio INTEGER NOT NULL
);
CREATE TABLE limit_certificates (
    qualification_id INTEGER PRIMARY KEY REFERENCES qualifications(id),
    classification TEXT NOT NULL,
    classification_flag TEXT NOT NULL,
    valid_start TEXT NOT NULL,
    valid_end TEXT
);
CREATE TABLE specific_disease_certificates (
    qualification_id INTEGER NOT NULL REFERENCES qualifications(id),
    category TEXT NOT NULL,
    PRIMARY KEY (qualification_id, category)
);
CREATE TABLE card_links (
    certificate_serial INTEGER PRIMARY KEY,
    person_id TEXT NOT NULL REFERENCES persons(id),
    registered_on TEXT NOT NULL,
    cancelled_on TEXT
);
CREATE TABLE IF NOT EXISTS revocations (
    certificate_serial INTEGER PRIMARY KEY,
    revoked_on TEXT NOT NULL
);
"""
# A population file made before revocations were kept: the table is added when opened.
_REVOCATIONS = "CREATE TABLE IF NOT EXISTS revocations (certificate_serial INTEGER PRIMARY KEY, revoked_on TEXT NOT NULL)"

_RECORD_SELECT = """
SELECT q.*, p.name, p.name_kana, p.sex, p.birth_date, p.address, p.post_number,
       e.certificate_date AS e_certificate_date, e.valid_start AS e_valid_start, e.valid_end AS e_valid_end,
       e.contribution_ratio AS e_contribution_ratio,
       l.classification AS l_classification, l.classification_flag AS l_classification_flag,
       l.valid_start AS l_valid_start, l.valid_end AS l_valid_end
FROM qualifications q
JOIN persons p ON p.id = q.person_id
LEFT JOIN elderly_recipient_certificates e ON e.qualification_id = q.id
LEFT JOIN limit_certificates l ON l.qualification_id = q.id
"""


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day is not None else None


def _day(text: str | None) -> dt.date | None:
    return dt.date.fromisoformat(text) if text is not None else None


class PopulationDb:
    """The population in SQLite. Thread-safe: one connection guarded by a lock (the TUI queries from workers)."""

    def __init__(self, path: Path | str = ":memory:") -> None:
        self.path = str(path)
        self._conn = sqlite3.connect(self.path, check_same_thread=False)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA foreign_keys = ON")
        self._lock = threading.Lock()
        with self._lock, self._conn:
            exists = self._conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'persons'").fetchone()
            if not exists:
                self._conn.executescript(_SCHEMA)
            self._conn.execute(_REVOCATIONS)

    @classmethod
    def from_fixture(cls, fixture: PopulationFixture | None = None, path: Path | str = ":memory:") -> PopulationDb:
        db = cls(path)
        db.load(fixture if fixture is not None else load_population())
        return db

    def close(self) -> None:
        self._conn.close()

    def load(self, fixture: PopulationFixture) -> None:
        """Replace the whole population, in one transaction."""
        with self._lock, self._conn:
            for table in (
                "revocations",
                "card_links",
                "specific_disease_certificates",
                "limit_certificates",
                "elderly_recipient_certificates",
                "qualifications",
                "persons",
            ):
                self._conn.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names
            for person in fixture.persons:
                self._conn.execute(
                    "INSERT INTO persons VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (person.id, person.name, person.name_kana, person.sex, person.birth_date.isoformat(), person.address, person.post_number),
                )
                for q in person.qualifications:
                    self._insert_qualification(person.id, q)
            for link in fixture.card_links:
                self._conn.execute(
                    "INSERT INTO card_links VALUES (?, ?, ?, ?)",
                    (link.certificate_serial, link.person, link.registered_on.isoformat(), _iso(link.cancelled_on)),
                )
            for revoked in fixture.revocations:
                self._conn.execute(
                    "INSERT INTO revocations VALUES (?, ?)", (revoked.certificate_serial, revoked.revoked_on.isoformat())
                )

    def _insert_qualification(self, person_id: str, q: QualificationFixture) -> None:
        cur = self._conn.execute(
            """INSERT INTO qualifications (
                person_id, pending, insured_card_classification, insurer_number, insured_card_symbol,
                insured_identification_number, insured_branch_number, personal_family_classification,
                insured_name, insurer_name, certificate_issuance_date, valid_from, valid_to,
                partial_contribution_ratio, reason_of_loss
            ) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (
                person_id,
                int(q.pending),
                q.insured_card_classification,
                q.insurer_number,
                q.insured_card_symbol,
                q.insured_identification_number,
                q.insured_branch_number,
                q.personal_family_classification,
                q.insured_name,
                q.insurer_name,
                _iso(q.certificate_issuance_date),
                q.valid_from.isoformat(),
                _iso(q.valid_to),
                q.partial_contribution_ratio,
                q.reason_of_loss,
            ),
        )
        qid = cur.lastrowid
        if q.elderly_recipient is not None:
            e = q.elderly_recipient
            self._conn.execute(
                "INSERT INTO elderly_recipient_certificates VALUES (?, ?, ?, ?, ?)",
                (qid, _iso(e.certificate_date), e.valid_start.isoformat(), _iso(e.valid_end), e.contribution_ratio),
            )
        if q.limit is not None:
            lim = q.limit
            self._conn.execute(
                "INSERT INTO limit_certificates VALUES (?, ?, ?, ?, ?)",
                (qid, lim.classification, lim.classification_flag, lim.valid_start.isoformat(), _iso(lim.valid_end)),
            )
        for category in q.specific_disease:
            self._conn.execute("INSERT INTO specific_disease_certificates VALUES (?, ?)", (qid, category))

    # -- look-ups -------------------------------------------------------------------------------

    def person_for_certificate(self, serial: int, on: dt.date) -> str | None:
        """The person linked to this certificate on `on`, or None (no 利用登録, or cancelled)."""
        with self._lock:
            row = self._conn.execute(
                "SELECT person_id FROM card_links WHERE certificate_serial = ? AND registered_on <= ?"
                " AND (cancelled_on IS NULL OR cancelled_on > ?)",
                (serial, on.isoformat(), on.isoformat()),
            ).fetchone()
        return row["person_id"] if row else None

    def records_of_person(self, person_id: str) -> list[StoredQualification]:
        return self._records("WHERE q.person_id = ?", (person_id,))

    def records_by_numbers(self, insurer_number: str, symbol: str, number: str, branch: str = "") -> list[StoredQualification]:
        """Records with these numbers. An empty branch (old cards had no 枝番) matches any branch."""
        sql = "WHERE q.insurer_number = ? AND q.insured_card_symbol = ? AND q.insured_identification_number = ?"
        params: tuple[str, ...] = (normalize_insurer_number(insurer_number), symbol, number)
        if branch:
            sql += " AND q.insured_branch_number = ?"
            params += (branch,)
        return self._records(sql, params)

    def revoked(self, serial: int, on: dt.date) -> bool:
        """Whether J-LIS had revoked this certificate by `on`."""
        with self._lock:
            row = self._conn.execute(
                "SELECT 1 FROM revocations WHERE certificate_serial = ? AND revoked_on <= ?", (serial, on.isoformat())
            ).fetchone()
        return row is not None

    def cancel_link(self, serial: int, on: dt.date) -> bool:
        """利用登録の解除 from `on`. False when the serial has no active link."""
        with self._lock, self._conn:
            cur = self._conn.execute(
                "UPDATE card_links SET cancelled_on = ? WHERE certificate_serial = ? AND cancelled_on IS NULL",
                (on.isoformat(), serial),
            )
        return cur.rowcount == 1

    def counts(self) -> dict[str, int]:
        with self._lock:
            return {
                table: self._conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]  # noqa: S608
                for table in ("persons", "qualifications", "card_links")
            }

    def _records(self, where: str, params: tuple[str, ...]) -> list[StoredQualification]:
        with self._lock:
            rows = self._conn.execute(f"{_RECORD_SELECT} {where} ORDER BY q.valid_from, q.id", params).fetchall()
            diseases: dict[int, list[str]] = {}
            if rows:
                marks = ",".join("?" * len(rows))
                for d in self._conn.execute(
                    f"SELECT qualification_id, category FROM specific_disease_certificates WHERE qualification_id IN ({marks})"
                    " ORDER BY category",
                    [r["id"] for r in rows],
                ):
                    diseases.setdefault(d["qualification_id"], []).append(d["category"])
        return [self._stored(row, diseases.get(row["id"], [])) for row in rows]

    @staticmethod
    def _stored(row: sqlite3.Row, diseases: list[str]) -> StoredQualification:
        elderly = None
        if row["e_valid_start"] is not None:
            elderly = ElderlyRecipientInfo(
                certificate_date=_day(row["e_certificate_date"]),
                valid_start=_day(row["e_valid_start"]),
                valid_end=_day(row["e_valid_end"]),
                contribution_ratio=row["e_contribution_ratio"],
            )
        limit = None
        if row["l_classification"] is not None:
            limit = LimitInfo(
                classification=row["l_classification"],
                classification_flag=row["l_classification_flag"],
                valid_start=_day(row["l_valid_start"]),
                valid_end=_day(row["l_valid_end"]),
            )
        record = QualificationRecord(
            insured_card_classification=row["insured_card_classification"],
            insurer_number=row["insurer_number"],
            insured_card_symbol=row["insured_card_symbol"],
            insured_identification_number=row["insured_identification_number"],
            insured_branch_number=row["insured_branch_number"],
            personal_family_classification=row["personal_family_classification"],
            insured_name=row["insured_name"],
            name=row["name"],
            name_kana=row["name_kana"],
            sex=row["sex"],
            birth_date=_day(row["birth_date"]),
            address=row["address"],
            post_number=row["post_number"],
            insurer_name=row["insurer_name"],
            certificate_issuance_date=_day(row["certificate_issuance_date"]),
            valid_from=_day(row["valid_from"]),
            valid_to=_day(row["valid_to"]),
            partial_contribution_ratio=row["partial_contribution_ratio"],
            reason_of_loss=row["reason_of_loss"],
            elderly_recipient=elderly,
            limit=limit,
            specific_disease=diseases,
        )
        return StoredQualification(person_id=row["person_id"], pending=bool(row["pending"]), record=record)
