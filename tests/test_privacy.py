"""Privacy checks: no path selects the My Number; no PIN, facility password or 12-digit number
ends up in logs, the journal, the result files or anything else the terminal writes."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest

from desk.cli import main
from desk.models import AuthMethod, NumbersQuery
from desk.wiring import SIM_VISUAL_PASSWORD, training_desk
from reader.trace import TRAFFIC, TracingTransport, forbidden_selections
from sim.card import _fake_my_number
from sim.central import CentralFaults
from sim.fixtures import load_card_fixture

PIN = "1234"
TWELVE_DIGITS = re.compile(rb"(?<![0-9])[0-9]{12}(?![0-9])")


def _secrets() -> list[bytes]:
    return [
        SIM_VISUAL_PASSWORD.encode(),
        # the PIN as typed, and as it travels in the VERIFY APDU
        f"00 20 00 80 04 {' '.join(f'{b:02X}' for b in PIN.encode())}".encode(),
        ("00200080" + PIN.encode().hex()).encode(),
    ]


@pytest.fixture
def logfile(sim_base: Path):
    path = sim_base / "madoguchi.log"
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setLevel(1)
    root, apdu = logging.getLogger(), logging.getLogger("madoguchi.apdu")
    old, old_apdu = root.level, apdu.level
    root.addHandler(handler)
    root.setLevel(1)
    apdu.setLevel(TRAFFIC)  # the APDU traffic is logged, so the redaction below is really checked
    yield path
    root.removeHandler(handler)
    root.setLevel(old)
    apdu.setLevel(old_apdu)
    handler.close()


def _every_path(sim_base: Path) -> list[TracingTransport]:
    traces = []
    for path in ("pin", "face", "visual"):
        session, controls = training_desk(None, base_dir=sim_base, camera="holder" if path == "face" else None)
        traced = TracingTransport(controls.transport)
        session.ports.transport = traced
        traces.append(traced)
        controls.place("adult")
        session.confirm_unattended(AuthMethod(path), pin=PIN, staff_id="S001", visual_password=SIM_VISUAL_PASSWORD)
        assert session.outcome is not None and session.outcome.code == 1, path
        # a wrong PIN, the blocked card, 目視 with a wrong password
        controls.place("pin-one-try")
        if path == "pin":
            session.choose(AuthMethod.PIN)
            session.enter_pin("9999")
        controls.place("adult")
        if path == "visual":
            session.choose(AuthMethod.VISUAL)
            session.submit_visual("S001", "not-the-password", True)
        # the central system down, then the queued re-run, then a numbers query
        controls.central.faults = CentralFaults(outage=True)
        controls.place("adult")
        session.confirm_unattended(AuthMethod(path), pin=PIN, staff_id="S001", visual_password=SIM_VISUAL_PASSWORD)
        controls.central.faults = CentralFaults()
        assert [o.code for o in session.retry_outage_queue()] == [1]
        holder = load_card_fixture("adult").holder
        session.query_numbers(NumbersQuery(
            insurer_number="01130012", insured_card_symbol="4012", insured_identification_number="1508",
            insured_branch_number="00", birth_date=holder.birth_date,
        ))
    return traces


def test_no_path_selects_the_my_number(sim_base):
    for traced in _every_path(sim_base):
        assert traced.entries and forbidden_selections(traced.entries) == []


def test_nothing_written_holds_a_secret_or_a_my_number(sim_base, logfile, capsys):
    _every_path(sim_base)
    # the CLI with tracing, and the facility password set through the CLI
    assert main(["card", "info", "--reader", "sim:adult", "--trace", "--json"]) == 0
    assert main(["card", "photo", "--reader", "sim:adult", "--trace", "--out", str(sim_base / "photo.jp2")]) == 0
    assert main(["check", "--card", "adult", "--method", "pin", "--pin", PIN, "--sim-dir", str(sim_base), "--json"]) == 0
    captured = capsys.readouterr()
    assert "** ** ** **" in captured.err  # the trace shows the VERIFY, redacted

    written = [p for p in sim_base.rglob("*") if p.is_file() and "keys" not in p.parts and p.suffix != ".jp2"]
    kinds = {p.suffix for p in written}
    assert {".sqlite3", ".xml", ".json", ".log"} <= kinds, kinds
    my_numbers = {_fake_my_number(load_card_fixture(n).certificate.serial) for n in ("adult", "pin-one-try")}
    blobs = [(p.name, p.read_bytes()) for p in written]
    blobs += [("stdout", captured.out.encode()), ("stderr", captured.err.encode())]
    for name, data in blobs:
        for secret in _secrets():
            assert secret not in data, (name, secret)
        for number in my_numbers:
            assert number not in data, (name, "My Number")
        assert not TWELVE_DIGITS.search(data), (name, TWELVE_DIGITS.search(data))
    log = logfile.read_text(encoding="utf-8")
    assert "SEND: 00 20 00 80 04 ** ** ** **" in log  # the VERIFY is in the log, its PIN redacted


def test_the_facility_password_is_only_a_scrypt_hash(sim_base):
    training_desk(None, base_dir=sim_base, camera=None)
    config = json.loads((sim_base / "facility.json").read_text(encoding="utf-8"))
    stored = json.dumps(config)
    assert SIM_VISUAL_PASSWORD not in stored
    assert config["visual_password"]["algorithm"] == "scrypt"
    assert {"salt", "n", "r", "p"} <= set(config["visual_password"]), config["visual_password"].keys()
