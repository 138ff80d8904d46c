"""The population fixture and its SQLite store."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest

from sim.fixtures import FixtureError, list_card_fixtures, load_card_fixture
from sim.population import (
    POPULATION_PATH,
    PopulationDb,
    PopulationFixture,
    insurer_check_digit,
    load_population,
    normalize_insurer_number,
)

# Cards whose certificate is deliberately linked to no one.
UNLINKED_CARDS = {"unregistered", "not-mynumber"}


@pytest.fixture(scope="module")
def population() -> PopulationFixture:
    return load_population()


@pytest.fixture
def raw() -> dict:
    return json.loads(POPULATION_PATH.read_text(encoding="utf-8"))


def _write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "population.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def test_every_card_fixture_has_its_person(population: PopulationFixture) -> None:
    by_card = {p.card: p for p in population.persons if p.card}
    assert sorted(by_card) == list_card_fixtures()
    links = {link.certificate_serial: link.person for link in population.card_links}
    for name, person in by_card.items():
        card = load_card_fixture(name)
        assert (person.name, person.name_kana, person.birth_date, person.sex, person.address) == (
            card.holder.name,
            card.holder.name_kana,
            card.holder.birth_date,
            card.holder.sex,
            card.holder.address,
        ), name
        if name in UNLINKED_CARDS:
            assert card.certificate.serial not in links, name
        else:
            assert links[card.certificate.serial] == person.id, name


def test_population_has_the_extra_cases(population: PopulationFixture) -> None:
    without_card = [p for p in population.persons if p.card is None]
    assert {p.id for p in without_card} >= {"ono-jiro", "mori-chihiro", "sato-sho"}
    cancelled = [link for link in population.card_links if link.cancelled_on is not None]
    assert [link.person for link in cancelled] == ["mori-chihiro"]
    assert any(q.pending for p in population.persons for q in p.qualifications)


def test_insurer_numbers_are_realistic(population: PopulationFixture) -> None:
    for person in population.persons:
        for q in person.qualifications:
            digits = q.insurer_number.strip()
            assert len(q.insurer_number) == 8
            assert digits[-1] == insurer_check_digit(digits[:-1])
            if len(digits) == 6:
                continue  # 国保
            assert digits[:2] in {"01", "06", "39"}, digits
            if digits.startswith("39"):
                assert q.partial_contribution_ratio in (10, 20, 30)


def test_no_twelve_digit_number_in_the_file() -> None:
    assert not re.search(r"(?<!\d)\d{12}(?!\d)", POPULATION_PATH.read_text(encoding="utf-8"))


def test_a_twelve_digit_number_is_refused(tmp_path: Path, raw: dict) -> None:
    raw["persons"][0]["comment"] = "個人番号 123456789012"
    with pytest.raises(FixtureError, match="12桁"):
        load_population(_write(tmp_path, raw))


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (lambda d: d["persons"][0]["qualifications"][1].update(insurer_number="01130013"), "検証番号"),
        (lambda d: d["persons"][0].update(nickname="x"), "nickname"),
        (lambda d: d["card_links"].append({"certificate_serial": 999, "person": "nobody", "registered_on": "2024-01-01"}), "nobody"),
        (lambda d: d["card_links"].append(dict(d["card_links"][0])), "linked once"),
        (lambda d: d["persons"].append(dict(d["persons"][0])), "unique"),
        (lambda d: d["persons"][1]["qualifications"][0].update(insured_branch_number="00"), "used by"),
        (lambda d: d["persons"][0]["qualifications"][0].update(valid_to=None), "reason_of_loss"),
        (lambda d: d["persons"][1]["qualifications"][0].update(insured_name=""), "insured_name"),
    ],
    ids=["check-digit", "extra-field", "unknown-person", "serial-twice", "duplicate-id", "duplicate-numbers", "loss-without-date", "family-without-insured"],
)
def test_invalid_population_is_refused(tmp_path: Path, raw: dict, mutate, needle: str) -> None:
    mutate(raw)
    with pytest.raises(FixtureError, match=needle):
        load_population(_write(tmp_path, raw))


def test_missing_or_broken_file(tmp_path: Path) -> None:
    with pytest.raises(FixtureError):
        load_population(tmp_path / "absent.json")
    (tmp_path / "broken.json").write_text("{", encoding="utf-8")
    with pytest.raises(FixtureError, match="JSON"):
        load_population(tmp_path / "broken.json")


def test_sqlite_holds_every_field(population: PopulationFixture) -> None:
    db = PopulationDb.from_fixture(population)
    assert db.counts() == {
        "persons": len(population.persons),
        "qualifications": sum(len(p.qualifications) for p in population.persons),
        "card_links": len(population.card_links),
    }
    for person in population.persons:
        stored = db.records_of_person(person.id)
        assert len(stored) == len(person.qualifications)
        for q, s in zip(sorted(person.qualifications, key=lambda q: q.valid_from), stored, strict=True):
            r = s.record
            assert s.pending == q.pending
            assert (r.name, r.name_kana, r.sex, r.birth_date, r.address, r.post_number) == (
                person.name,
                person.name_kana,
                person.sex,
                person.birth_date,
                person.address,
                person.post_number,
            )
            for field in (
                "insured_card_classification",
                "insurer_number",
                "insured_card_symbol",
                "insured_identification_number",
                "insured_branch_number",
                "personal_family_classification",
                "insured_name",
                "insurer_name",
                "certificate_issuance_date",
                "valid_from",
                "valid_to",
                "partial_contribution_ratio",
                "reason_of_loss",
                "elderly_recipient",
                "limit",
                "specific_disease",
            ):
                assert getattr(r, field) == getattr(q, field), (person.id, field)


def test_link_lookup_respects_registration_and_cancellation(population: PopulationFixture) -> None:
    db = PopulationDb.from_fixture(population)
    assert db.person_for_certificate(100001, dt.date(2023, 4, 19)) is None  # before 利用登録
    assert db.person_for_certificate(100001, dt.date(2023, 4, 20)) == "sato-hanako"
    assert db.person_for_certificate(100016, dt.date(2026, 9, 30)) == "mori-chihiro"
    assert db.person_for_certificate(100016, dt.date(2026, 10, 1)) is None
    assert db.person_for_certificate(100014, dt.date(2026, 12, 1)) is None  # unregistered
    assert db.cancel_link(100001, dt.date(2026, 12, 1))
    assert db.person_for_certificate(100001, dt.date(2026, 11, 30)) == "sato-hanako"
    assert db.person_for_certificate(100001, dt.date(2026, 12, 1)) is None


def test_numbers_lookup(population: PopulationFixture) -> None:
    db = PopulationDb.from_fixture(population)
    family = db.records_by_numbers("01130012", "4012", "1508")
    assert sorted(s.person_id for s in family) == ["sato-hanako", "sato-sho"]
    assert [s.person_id for s in db.records_by_numbers("01130012", "4012", "1508", "01")] == ["sato-sho"]
    assert [s.person_id for s in db.records_by_numbers("231001", "名中", "204417", "01")] == ["takahashi-yumi"]
    assert db.records_by_numbers("01130012", "4012", "1509") == []


def test_normalize_insurer_number() -> None:
    assert normalize_insurer_number("231001") == "  231001"
    assert normalize_insurer_number("  231001") == "  231001"
    assert normalize_insurer_number("01130012") == "01130012"


def test_file_backed_database_keeps_the_population(tmp_path: Path, population: PopulationFixture) -> None:
    path = tmp_path / "central.sqlite3"
    PopulationDb.from_fixture(population, path).close()
    reopened = PopulationDb(path)
    assert reopened.person_for_certificate(100010, dt.date(2026, 12, 1)) == "kato-kiyo"
    reopened.load(population)  # loading again replaces, never duplicates
    assert reopened.counts()["persons"] == len(population.persons)
