"""A real card on a desk whose central system is the simulator: refused with its cause named, or,
in demo mode, accepted on its valid signature and marked as a demo everywhere (result, journal,
result files) and never counted as a confirmation.

A "real" card here is a virtual card whose certificate names the real JPKI 利用者証明用 CA (with
a key of ours, so the simulator cannot check the chain, as with a real card).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from desk.journal import Journal
from desk.models import AuthMethod, FailureName
from desk.wiring import DeskConfig, ReaderSpec, open_desk
from sim.card import VirtualCard
from sim.card_state import CardStateStore
from sim.fixtures import REFERENCE_DATE, load_card_fixture
from sim.jpki import REAL_JPKI_USER_AUTH_CA_NAME, SimJpkiCa
from sim.training import SimTraining


def real_card(directory: Path) -> VirtualCard:
    ca = SimJpkiCa(directory / "real-jpki", name=REAL_JPKI_USER_AUTH_CA_NAME)
    return VirtualCard(load_card_fixture("adult"), ca, CardStateStore(directory / "real-cards"))


def _desk(sim_base: Path, *, demo: bool):
    desk = open_desk(DeskConfig(reader=ReaderSpec("sim"), camera=None, demo=demo, sim_dir=sim_base, today=REFERENCE_DATE))
    assert isinstance(desk.training, SimTraining)
    return desk


def test_a_real_card_is_refused_with_its_cause_not_a_retry_hint(sim_base, tmp_path):
    desk = _desk(sim_base, demo=False)
    desk.training.transport.insert(real_card(tmp_path))  # the reader reports it; the desk reads it
    outcome = desk.session.confirm_unattended(AuthMethod.PIN, pin="1234")
    assert outcome.failure is FailureName.CERT_UNTRUSTED
    assert "実際のマイナンバーカード" in outcome.message and "--demo" in outcome.message
    codes = [step.code for step in outcome.steps]
    assert codes[0] == "cert_untrusted" and "auth_retry" not in codes
    rows = desk.session.journal.confirmations()
    assert [(r.failure, r.demo) for r in rows] == [(FailureName.CERT_UNTRUSTED, False)]
    desk.close()


def test_an_unknown_issuer_is_named(sim_base, tmp_path):
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    stranger = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Somebody Else CA")])
    card = VirtualCard(load_card_fixture("adult"), SimJpkiCa(tmp_path / "other", name=stranger), CardStateStore(None))
    desk = _desk(sim_base, demo=True)  # demo accepts the real JPKI name only
    desk.training.transport.insert(card)
    outcome = desk.session.confirm_unattended(AuthMethod.PIN, pin="1234")
    assert outcome.failure is FailureName.CERT_UNTRUSTED and "Somebody Else CA" in outcome.message
    desk.close()


@pytest.mark.parametrize("method", ["pin", "visual"])
def test_demo_mode_accepts_a_real_card_and_marks_it_everywhere(sim_base, tmp_path, method):
    from desk.wiring import SIM_VISUAL_PASSWORD

    desk = _desk(sim_base, demo=True)
    session = desk.session
    desk.training.transport.insert(real_card(tmp_path))
    outcome = session.confirm_unattended(
        AuthMethod(method), pin="1234", staff_id="S001", visual_password=SIM_VISUAL_PASSWORD
    )
    assert outcome.code == 1 and outcome.demo
    assert "デモ" in outcome.label and outcome.to_check_json()["demo"] is True
    assert outcome.person_name == "佐藤　花子"  # the demo person of the population
    (row,) = session.journal.confirmations()
    assert row.demo and row.validity == 1
    month = f"{REFERENCE_DATE:%Y-%m}"
    assert session.journal.month_counts(month)["myna"] == 0  # a demo is no confirmation
    res = session.facility.res_dir
    files = sorted(p.name for p in res.iterdir())
    assert files and all(name.startswith("DEMO_OQS_") for name in files)  # never picked up as OQS_*
    (js,) = [p for p in res.iterdir() if p.suffix == ".json"]
    assert json.loads(js.read_text(encoding="utf-8"))["reply"]["demo"] is True
    desk.close()


def test_demo_rows_are_kept_out_of_the_statistics(sim_base, tmp_path):
    desk = _desk(sim_base, demo=True)
    training = desk.training
    session = desk.session
    training.transport.insert(real_card(tmp_path))
    session.confirm_unattended(AuthMethod.PIN, pin="1234")
    training.remove()
    training.place("adult")  # a training card: a confirmation of the simulated world
    session.confirm_unattended(AuthMethod.PIN, pin="1234")
    month = f"{REFERENCE_DATE:%Y-%m}"
    assert session.journal.month_counts(month)["myna"] == 1
    journal = Journal(session.facility.journal_path)
    assert [r.demo for r in journal.confirmations()] == [False, True]
    journal.close()
    desk.close()


# -- `desk check --reader pcsc…` through the real pcscd, the virtual card served by vpcd -------------


def _check_over_pcsc(capsys, *args: str) -> dict:
    import io
    import sys

    from desk.cli import main
    from sim.vpcd import VPCD_READER

    saved, sys.stdin = sys.stdin, io.StringIO("1234\n")  # never on the command line with a real reader
    try:
        code = main(["check", "--reader", f"pcsc:{VPCD_READER}", "--method", "pin", "--pin-stdin", "--json", *args])
    finally:
        sys.stdin = saved
    out = capsys.readouterr()
    assert code == 0, out.err
    return json.loads(out.out)


@pytest.mark.pcsc
def test_desk_check_over_pcsc_in_demo_mode_takes_a_real_card_as_a_demo(pcsc_stack, sim_base, tmp_path, capsys):
    from tests.pcsc_stack import place_card

    place_card(pcsc_stack, real_card(tmp_path))
    out = _check_over_pcsc(capsys, "--demo", "--sim-dir", str(sim_base), "--today", REFERENCE_DATE.isoformat())
    assert out["outcome"]["code"] == 1 and out["demo"] is True


@pytest.mark.pcsc
def test_desk_check_over_pcsc_on_the_facility_desk(pcsc_stack, sim_base, tmp_path, capsys):
    """`--reader pcsc` without --demo is the facility's desk: its journal and result folder, its
    central system; nothing reaches the training world."""
    from desk.cli import main
    from tests.pcsc_stack import place_card

    config, data = tmp_path / "facility.json", tmp_path / "data"
    assert main([
        "facility", "init", "--config", str(config), "--code", "1398765432", "--name", "テスト診療所",
        "--category", "medical_clinic", "--prefecture", "東京都", "--res-dir", str(data / "res"),
        "--journal", str(data / "journal.sqlite3"),
    ]) == 0
    capsys.readouterr()
    # a card of the CA the facility's (simulated) central system trusts
    ca = SimJpkiCa(data / "central-sim" / "keys")
    place_card(pcsc_stack, VirtualCard(load_card_fixture("adult"), ca, CardStateStore(None)))
    out = _check_over_pcsc(capsys, "--config", str(config), "--sim-dir", str(sim_base))
    assert out["outcome"]["code"] == 1 and out["demo"] is False
    journal = Journal(data / "journal.sqlite3")
    assert [r.validity for r in journal.confirmations()] == [1]
    journal.close()
    assert len(list((data / "res").glob("OQS_*.xml"))) == 1
    assert not (sim_base / "journal.sqlite3").exists()  # the training world saw nothing
