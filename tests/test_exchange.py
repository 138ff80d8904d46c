"""The req/res folder exchange end to end: ReqResCentral (desk/exchange/) against the simulated
連携アプリ (sim/renkei.py) in a folder pair of its own, and every fault the adapter must survive."""

from __future__ import annotations

import datetime as dt
import threading
import time
from pathlib import Path

import pytest

from desk.central import (
    CentralMalformedReply,
    CentralNotOffered,
    CentralRequestRefused,
    CentralTimeout,
    CentralUnavailable,
)
from desk.exchange.codec import Encoding
from desk.exchange.names import Business, error_name, parse_request_name, request_name, response_name
from desk.exchange.reqres_central import ReqResCentral
from desk.exchange.requests import SingleRequest, parse_single_request, single_request_to_xml
from desk.models import NumbersQuery, Validity
from sim.central import SimCentralSystem
from sim.renkei import RenkeiFaults, SimRenkeiApp

MIC = "1311234567"
DAY = dt.date(2026, 12, 1)
SATO = NumbersQuery(insurer_number="01130012", insured_card_symbol="4012", insured_identification_number="1508",
                    insured_branch_number="00", birth_date=dt.date(1985, 4, 12))


@pytest.fixture(scope="module")
def central() -> SimCentralSystem:
    return SimCentralSystem.from_fixtures()


def _terminal(root: Path, central: SimCentralSystem, **kwargs: object) -> SimRenkeiApp:
    return SimRenkeiApp(root, central, poll_s=0.005, today=lambda: DAY, **kwargs)  # type: ignore[arg-type]


def _desk(root: Path, **kwargs: object) -> ReqResCentral:
    options: dict[str, object] = {"poll_s": 0.005, "timeout_s": 5.0, "settle_s": 0.3}
    options.update(kwargs)
    return ReqResCentral(root, **options)  # type: ignore[arg-type]


def _ask(desk: ReqResCentral, query: NumbersQuery = SATO):
    return desk.confirm_numbers(query, confirmation_date=DAY, medical_institution_code=MIC)


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# -- names ----------------------------------------------------------------------------------------


def test_file_names_follow_the_terminal() -> None:
    name = request_name(Business.SINGLE, "202612010001")
    assert name == "OQSsiquc01req_202612010001.xml"
    assert response_name(name) == "OQSsiquc01res_202612010001.xml"
    assert error_name(name) == "OQSsiquc01req_202612010001.err"
    assert parse_request_name("OQSmuquc02req_X-1.xml") == ("OQSmuquc02", "X-1")
    for bad in (".OQSsiquc01req_1.xml.tmp", "OQSsiquc01res_1.xml", "OQSsiquc01req_../x.xml", "readme.txt"):
        assert parse_request_name(bad) is None, bad
    with pytest.raises(ValueError):
        request_name(Business.SINGLE, "../etc")


# -- the happy road -------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", list(Encoding))
def test_numbers_query_through_the_folders(central: SimCentralSystem, tmp_path: Path, encoding: Encoding) -> None:
    with _terminal(tmp_path, central, encoding=encoding):
        reply = _ask(_desk(tmp_path, encoding=encoding))
    assert reply.validity is Validity.VALID and reply.reference_classification == 2
    assert [r.name for r in reply.records] == ["佐藤\u3000花子"]
    # the same answer as in process (the folders add nothing and lose nothing)
    direct = central.confirm_numbers(SATO, confirmation_date=DAY, medical_institution_code=MIC)
    assert reply.records == direct.records and reply.query_echo == direct.query_echo
    # nothing is left behind: the request was taken, the answer read and removed
    assert _files(tmp_path / "req") == [] and _files(tmp_path / "res") == []


def test_the_request_file_is_what_the_terminal_reads(tmp_path: Path) -> None:
    query = SATO.model_copy(update={"insurer_number": "131128", "insured_card_symbol": "世田", "limit_consent": True})
    for encoding in Encoding:
        data = single_request_to_xml(SingleRequest(query, MIC, "MDG1", DAY, encoding))
        assert (b"Shift_JIS" in data.splitlines()[0]) is (encoding is Encoding.SHIFT_JIS)
        back = parse_single_request(data, today=DAY)
        assert back.query == query.model_copy(update={"insurer_number": "  131128"}) and back.encoding is encoding
        assert back.medical_institution_code == MIC and back.identifier == "MDG1"


def test_bulk_upload_then_fetch_until_ready(central: SimCentralSystem, tmp_path: Path) -> None:
    others = NumbersQuery(insurer_number="06114011", insured_card_symbol="210", insured_identification_number="6051",
                          insured_branch_number="00", birth_date=dt.date(1987, 9, 9))
    wrong = SATO.model_copy(update={"birth_date": dt.date(1985, 4, 13)})
    with _terminal(tmp_path, central, faults=RenkeiFaults(bulk_ready_after=2)):
        desk = _desk(tmp_path)
        accepted = desk.bulk_upload([SATO, others, wrong], confirmation_date=DAY + dt.timedelta(days=1), medical_institution_code=MIC)
        first, second, third = (desk.bulk_fetch(accepted.reception_number, medical_institution_code=MIC) for _ in range(3))
    assert first.processing and second.processing and not third.processing
    assert [u.index for u in third.units] == [1, 2, 3]
    assert [u.reply.validity for u in third.units if u.reply] == [Validity.VALID, Validity.INVALID, Validity.NOT_FOUND]
    assert third.units[0].reply.confirmation_date == DAY + dt.timedelta(days=1)  # the day asked for
    assert third.units[1].reply.records[0].name == "山本\u3000京子"
    assert _files(tmp_path / "req") == [] and _files(tmp_path / "res") == []


def test_an_unknown_reception_number_is_refused(central: SimCentralSystem, tmp_path: Path) -> None:
    with _terminal(tmp_path, central), pytest.raises(CentralRequestRefused, match="受付番号 999 の一括照会はありません"):
        _desk(tmp_path).bulk_fetch("999", medical_institution_code=MIC)


# -- what the terminal cannot read ------------------------------------------------------------------


def test_a_malformed_request_gets_an_err_beside_itself(central: SimCentralSystem, tmp_path: Path) -> None:
    app = _terminal(tmp_path, central)
    (tmp_path / "req" / "OQSsiquc01req_202612010001.xml").write_bytes(b"<XmlMsg><MessageHeader>")
    (tmp_path / "req" / "OQSxxquc01req_202612010002.xml").write_bytes(single_request_to_xml(SingleRequest(SATO, MIC, "2", DAY)))
    (tmp_path / "req" / ".OQSsiquc01req_3.xml.tmp").write_bytes(b"half")  # someone still writing: not touched
    assert app.run_once() == 2
    res = tmp_path / "res"
    assert "XMLとして読めません" in (res / "OQSsiquc01req_202612010001.err").read_text()
    assert "OQSxxquc01 の照会に対応していません" in (res / "OQSxxquc01req_202612010002.err").read_text()
    assert (res / "OQSsiquc01req_202612010001.xml").exists()  # the request, put back beside its .err
    assert _files(tmp_path / "req") == [".OQSsiquc01req_3.xml.tmp"]


@pytest.mark.parametrize(("change", "reason"), [
    (lambda q: q.replace(b"<Birthdate>19850412", b"<Birthdate>19851341"), "Birthdate の日付が正しくありません"),
    (lambda q: q.replace(b"<MedicalInstitutionCode>1311234567", b"<MedicalInstitutionCode>131"), "医療機関コードは10桁"),
    (lambda q: q.replace(b"<InsuredIdentificationNumber>1508</InsuredIdentificationNumber>", b""), "InsuredIdentificationNumber がありません"),
    (lambda q: q.replace(b"UTF-8", b"EUC-JP"), "euc-jp には対応していません"),
    (lambda q: b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]>' + q.split(b"?>", 1)[1], "DOCTYPE"),
])
def test_every_unreadable_request_is_refused_with_its_reason(central: SimCentralSystem, tmp_path: Path, change, reason: str) -> None:
    app = _terminal(tmp_path, central)
    data = change(single_request_to_xml(SingleRequest(SATO, MIC, "1", DAY)))
    (tmp_path / "req" / "OQSsiquc01req_1.xml").write_bytes(data)
    app.run_once()
    assert reason in (tmp_path / "res" / "OQSsiquc01req_1.err").read_text()


def test_the_adapter_reports_an_err_as_a_refusal_and_cleans_up(central: SimCentralSystem, tmp_path: Path) -> None:
    with _terminal(tmp_path, central, encoding=Encoding.SHIFT_JIS):
        desk = _desk(tmp_path)
        with pytest.raises(CentralRequestRefused, match="医療機関コードは10桁") as caught:
            desk.confirm_numbers(SATO, confirmation_date=DAY, medical_institution_code="131")  # a wrong facility setting
        assert caught.value.failure_name.value == "request_refused"  # never queued for a retry
        assert _ask(desk).validity is Validity.VALID  # the folders still work afterwards
    assert _files(tmp_path / "req") == [] and _files(tmp_path / "res") == []  # .err and the request put back: taken


def test_a_query_the_request_encoding_cannot_carry_is_refused_before_sending(tmp_path: Path) -> None:
    (tmp_path / "req").mkdir()
    (tmp_path / "res").mkdir()
    desk = _desk(tmp_path, encoding=Encoding.SHIFT_JIS)
    with pytest.raises(CentralRequestRefused, match="Shift_JIS で書けない"):
        _ask(desk, SATO.model_copy(update={"insured_card_symbol": "😀"}))
    assert _files(tmp_path / "req") == []


# -- faults of the terminal -------------------------------------------------------------------------


def test_a_terminal_that_never_answers_times_out_and_the_request_is_taken_back(central: SimCentralSystem, tmp_path: Path) -> None:
    with _terminal(tmp_path, central, faults=RenkeiFaults(silent=True)):
        with pytest.raises(CentralTimeout, match="照会は取り下げました"):
            _ask(_desk(tmp_path, timeout_s=0.2))
    assert _files(tmp_path / "req") == []  # a terminal waking later answers nobody


def test_a_half_written_answer_is_read_once_it_is_whole(central: SimCentralSystem, tmp_path: Path) -> None:
    with _terminal(tmp_path, central, faults=RenkeiFaults(half_written_ms=150)):
        reply = _ask(_desk(tmp_path, settle_s=1.0))
    assert reply.validity is Validity.VALID and reply.records[0].insurer_number == "01130012"


def test_an_answer_that_stays_broken_is_malformed(central: SimCentralSystem, tmp_path: Path) -> None:
    with _terminal(tmp_path, central, faults=RenkeiFaults(truncated=True)):
        with pytest.raises(CentralMalformedReply, match="応答を読み取れませんでした"):
            _ask(_desk(tmp_path, settle_s=0.2))
    assert _files(tmp_path / "res") == []  # the broken answer does not stay behind with patient data


def test_a_duplicate_answer_is_never_taken_for_the_next_one(central: SimCentralSystem, tmp_path: Path) -> None:
    other = NumbersQuery(insurer_number="06114011", insured_card_symbol="210", insured_identification_number="6051",
                         insured_branch_number="00", birth_date=dt.date(1987, 9, 9))
    with _terminal(tmp_path, central, faults=RenkeiFaults(duplicate=True)):
        desk = _desk(tmp_path)
        first = _ask(desk)
        second = _ask(desk, other)
        time.sleep(0.1)  # the terminal writes its second copies
    assert first.records[0].name == "佐藤\u3000花子" and second.records[0].name == "山本\u3000京子"
    leftovers = _files(tmp_path / "res")
    assert len(leftovers) == 2 and all(n.startswith("OQSsiquc01res_MDG") for n in leftovers)
    assert desk.sweep() == 0  # just written: maybe still awaited by another desk on the folder
    assert desk.sweep(older_than_s=0) == 2 and _files(tmp_path / "res") == []


def test_an_answer_to_someone_elses_request_is_refused(central: SimCentralSystem, tmp_path: Path) -> None:
    desk = _desk(tmp_path)
    app = _terminal(tmp_path, central)

    def terminal_mixes_up() -> None:  # answers our request with another request's identifier
        while not list((tmp_path / "req").glob("OQSsiquc01req_*.xml")):
            time.sleep(0.005)
        (request,) = (tmp_path / "req").glob("OQSsiquc01req_*.xml")
        data = request.read_bytes()
        request.write_bytes(data.replace(b"<ArbitraryFileIdentifier>MDG", b"<ArbitraryFileIdentifier>XYZ"))
        app.run_once()

    helper = threading.Thread(target=terminal_mixes_up)
    helper.start()
    with pytest.raises(CentralMalformedReply, match="別の照会への応答"):
        _ask(desk)
    helper.join()


def test_sweep_leaves_other_software_alone(tmp_path: Path) -> None:
    desk = _desk(tmp_path)
    for folder in ("req", "res"):
        (tmp_path / folder).mkdir()
    for name in ("OQSsiquc01res_202612010001.xml", "OQSsiquc01req_202612010002.err", "OQSsiquc01res_MDG1.xml",
                 "OQSsiquc01req_MDG2.err", "OQSsiquc01req_MDG2.xml"):
        (tmp_path / "res" / name).write_text("x")
    assert desk.sweep(older_than_s=0) == 3
    assert _files(tmp_path / "res") == ["OQSsiquc01req_202612010002.err", "OQSsiquc01res_202612010001.xml"]


def test_a_missing_or_read_only_share_is_an_outage(tmp_path: Path) -> None:
    desk = _desk(tmp_path / "not-mounted")
    ok, text = desk.health()
    assert not ok and "req がありません" in text
    with pytest.raises(CentralUnavailable, match="共有フォルダを使えません"):
        _ask(desk)
    (tmp_path / "share" / "req").mkdir(parents=True)
    (tmp_path / "share" / "res").mkdir()
    (tmp_path / "share" / "req").chmod(0o500)
    try:
        shared = _desk(tmp_path / "share")
        if shared.folders.problems():  # not root: access() already tells
            assert not shared.health()[0]
        else:  # root writes anywhere: make the write itself fail
            (tmp_path / "share" / "req").rmdir()
            (tmp_path / "share" / "req").write_text("a file where the folder should be")
            with pytest.raises(CentralUnavailable):
                _ask(shared)
    finally:
        if (tmp_path / "share" / "req").is_dir():
            (tmp_path / "share" / "req").chmod(0o700)


def test_card_confirmations_are_not_offered_over_the_folders(tmp_path: Path) -> None:
    with pytest.raises(CentralNotOffered, match="顔認証付きカードリーダー"):
        _desk(tmp_path).request_nonce()


def test_a_control_character_in_a_query_is_refused_before_it_reaches_the_terminal(tmp_path: Path) -> None:
    from desk.exchange.requests import RequestError

    typed = SATO.model_copy(update={"insured_card_symbol": "40\x0112"})
    with pytest.raises(RequestError, match="制御文字"):
        single_request_to_xml(SingleRequest(typed, MIC, "1", DAY))
    (tmp_path / "req").mkdir()
    (tmp_path / "res").mkdir()
    with pytest.raises(CentralRequestRefused, match="制御文字"):
        _ask(_desk(tmp_path), typed)
    assert _files(tmp_path / "req") == []


def test_a_facility_desk_sweeps_its_old_leftovers_when_it_starts(tmp_path: Path) -> None:
    import os

    from desk.facility import FacilityCategory, FacilityConfig
    from desk.wiring import facility_central

    res = tmp_path / "share" / "res"
    res.mkdir(parents=True)
    (tmp_path / "share" / "req").mkdir()
    old, fresh, theirs = res / "OQSsiquc01res_MDG1.xml", res / "OQSsiquc01res_MDG2.xml", res / "OQSsiquc01res_202612010001.xml"
    for path in (old, fresh, theirs):
        path.write_text("x")
    an_hour_ago = time.time() - 3600
    for path in (old, theirs):
        os.utime(path, (an_hour_ago, an_hour_ago))
    facility = FacilityConfig(
        medical_institution_code=MIC, name="テスト", category=FacilityCategory.MEDICAL_CLINIC, prefecture="東京都",
        central={"kind": "reqres", "folder": tmp_path / "share", "timeout_s": 5},
    )
    facility_central(facility)
    assert _files(res) == sorted([fresh.name, theirs.name])  # ours and old: gone; ours and fresh, or not ours: kept
