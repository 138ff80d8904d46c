"""Smartphones carrying the スマホ用電子証明書 (docs/smartphone.md), over SimTransport and through
pcscd+vpcd: the virtual phones answer as the research says a phone does, and the desk confirms
through them — Android with its own PIN typed at the desk, iPhone with Face ID done on the phone —
with no face or 目視 (a phone has no photo), no 3-month grace, and the device on record."""

from __future__ import annotations

import json

import pytest
from cryptography import x509

from desk.cli import main
from reader.errors import PhoneNotUnlocked
from reader.models import Device
from sim.fixtures import list_phone_fixtures, load_card_fixture

SELECT_JPKI = bytes.fromhex("00A4040C0AD392F000260100000001")
SELECT_AUTH_CERT = bytes.fromhex("00A4020C02000A")
SELECT_AUTH_PIN = bytes.fromhex("00A4020C020018")
SELECT_AUTH_KEY = bytes.fromhex("00A4020C020017")
READ_4 = bytes.fromhex("00B0000004")
SELECT_SURFACE = bytes.fromhex("00A4040C0AD3921000310001010402")
DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420") + bytes(32)


def _sw(response: bytes) -> str:
    return response[-2:].hex().upper()


def test_the_phone_fixtures() -> None:
    assert list_phone_fixtures() == [
        "android", "android-cert-expired", "android-pin-blocked", "android-revoked", "android-unregistered", "iphone",
        "iphone-locked",
    ]
    for name in list_phone_fixtures():
        fixture = load_card_fixture(name)  # placed on the reader like a card
        assert fixture.device in {"android", "iphone"} and fixture.atr != load_card_fixture("adult").atr


@pytest.mark.parametrize(("name", "device"), [("android", Device.ANDROID), ("iphone", Device.IPHONE), ("adult", Device.CARD)])
def test_the_desk_tells_a_phone_from_a_card(card_on_reader, fresh_card, name: str, device: Device) -> None:
    card, _ = card_on_reader(fresh_card(name))
    info = card.read_info()
    assert info.device is device
    if device is Device.ANDROID:  # the certificate opens after the PIN; its own PIN's tries
        assert info.certificate is None and info.pin_tries_left == 3
    elif device is Device.IPHONE:  # Face ID on the phone: the certificate is open, no PIN at the desk
        assert info.certificate is not None and info.pin_tries_left is None
    else:
        assert info.certificate is not None and info.pin_tries_left == 3


def test_android_signs_and_opens_its_certificate_with_its_own_pin(card_on_reader, fresh_card, world) -> None:
    card, trace = card_on_reader(fresh_card("android"))
    card.read_info()
    certificate = card.unlock_phone("5678")
    signature = card.sign(b"challenge")  # the application still selected: what the PIN opened stays open
    cert = x509.load_der_x509_certificate(certificate.der)
    assert world.ca.smartphone_ca.verify_issued(cert) and len(signature) == 256


def test_a_locked_iphone_is_told_to_open_it_on_the_phone(card_on_reader, fresh_card) -> None:
    card, _ = card_on_reader(fresh_card("iphone-locked"))
    with pytest.raises(PhoneNotUnlocked) as caught:
        card.read_info()
    assert "Face ID" in caught.value.msg


def test_android_opens_its_certificate_only_after_the_pin(card_on_reader, fresh_card, world) -> None:
    _, phone = card_on_reader(fresh_card("android"))
    assert _sw(phone.transmit(SELECT_SURFACE)) == "6A82"  # only the JPKI application
    assert _sw(phone.transmit(SELECT_JPKI)) == "9000"
    assert _sw(phone.transmit(SELECT_AUTH_CERT)) == "9000"
    assert _sw(phone.transmit(READ_4)) == "6982"  # unlike the card: no certificate before the PIN
    assert _sw(phone.transmit(SELECT_AUTH_PIN)) == "9000"
    assert _sw(phone.transmit(bytes.fromhex("0020008004") + b"1234")) == "63C2"  # the card's PIN is not the phone's
    assert _sw(phone.transmit(bytes.fromhex("0020008004") + b"5678")) == "9000"
    assert _sw(phone.transmit(SELECT_AUTH_CERT)) == "9000"
    der_head = phone.transmit(READ_4)
    assert _sw(der_head) == "9000" and der_head[0] == 0x30
    assert _sw(phone.transmit(SELECT_AUTH_KEY)) == "9000"
    assert _sw(phone.transmit(bytes.fromhex("802A008033") + DIGEST_INFO + b"\x00")) == "9000"


def test_a_blocked_android_pin(card_on_reader, fresh_card) -> None:
    _, phone = card_on_reader(fresh_card("android-pin-blocked"))
    phone.transmit(SELECT_JPKI)
    phone.transmit(SELECT_AUTH_PIN)
    assert _sw(phone.transmit(bytes.fromhex("00200080"))) == "63C0"
    assert _sw(phone.transmit(bytes.fromhex("0020008004") + b"5678")) == "6984"


def test_iphone_after_face_id_signs_without_a_pin_and_a_locked_one_does_not(card_on_reader, fresh_card, world) -> None:
    _, phone = card_on_reader(fresh_card("iphone"))
    phone.transmit(SELECT_JPKI)
    phone.transmit(SELECT_AUTH_KEY)
    assert _sw(phone.transmit(bytes.fromhex("802A008033") + DIGEST_INFO + b"\x00")) == "9000"
    phone.transmit(SELECT_AUTH_CERT)
    assert _sw(phone.transmit(READ_4)) == "9000"
    _, locked = card_on_reader(fresh_card("iphone-locked"))
    locked.transmit(SELECT_JPKI)
    locked.transmit(SELECT_AUTH_CERT)
    assert _sw(locked.transmit(READ_4)) == "6982"


def test_the_phone_certificate_comes_from_the_phone_ca(fresh_card, world) -> None:
    phone = fresh_card("iphone")
    der = phone._apps[SELECT_JPKI[5:]].files[0x000A].data  # the certificate as the phone holds it
    cert = x509.load_der_x509_certificate(der)
    assert world.ca.smartphone_ca.verify_issued(cert) and not world.ca.verify_issued(cert)
    assert "smartphone" in cert.issuer.rfc4514_string()


def _check(tmp_path, capsys, name: str, *extra: str) -> dict:
    args = ["check", "--sim-dir", str(tmp_path), "--card", name, "--json", *extra]
    assert main(args) == 0
    return json.loads(capsys.readouterr().out)


def test_android_confirms_with_its_own_pin_and_counts_as_myna(tmp_path, capsys) -> None:
    from desk.journal import Journal

    out = _check(tmp_path, capsys, "android", "--method", "pin", "--pin", "5678")
    assert out["outcome"]["code"] == 1 and out["device"] == "android" and out["method"] == "pin"
    assert out["record"] == "journal"
    # the desk's own result file says so; the XML for the レセコン has no such field (research §4)
    json_files = sorted(tmp_path.rglob("OQS_*.json"))
    assert json_files and json.loads(json_files[-1].read_text(encoding="utf-8"))["reply"]["device"] == "android"
    xml = sorted(tmp_path.rglob("OQS_*.xml"))[-1].read_text(encoding="utf-8")
    assert "android" not in xml.lower() and "smartphone" not in xml.lower()
    journal_path = next(tmp_path.rglob("journal.sqlite3"))
    with Journal(journal_path, read_only=True) as journal:
        record = journal.confirmations()[0]
        assert record.device is Device.ANDROID and record.channel.value == "myna"
        assert record.cert_fingerprint is not None  # the phone's certificate, read after the PIN
        counts = journal.month_counts(record.at.strftime("%Y-%m"))
        assert counts["myna"] == 1 and counts["smartphone"] == 1  # マイナ保険証 usage, through a phone
        assert "スマートフォン（Android）" in journal.history()[0].summary


def test_iphone_confirms_without_a_pin(tmp_path, capsys) -> None:
    out = _check(tmp_path, capsys, "iphone", "--method", "device")
    assert out["outcome"]["code"] == 1 and out["device"] == "iphone" and out["method"] == "device"


@pytest.mark.parametrize(("name", "extra", "failure", "first"), [
    ("iphone-locked", ("--method", "device"), "smartphone_not_unlocked", "smartphone_not_unlocked"),
    ("android-pin-blocked", ("--method", "pin", "--pin", "5678"), "smartphone_pin_blocked", "smartphone_pin_blocked"),
    # a card would be in its 3-month grace; a phone has none, and no PIN is spent on it
    ("android-cert-expired", ("--method", "pin", "--pin", "5678"), "smartphone_cert_expired", "smartphone_cert_expired"),
])
def test_a_phone_that_cannot_confirm_gets_the_card_first_then_the_fallback(tmp_path, capsys, name, extra, failure, first) -> None:
    out = _check(tmp_path, capsys, name, *extra)
    assert out["outcome"]["name"] == failure and out["outcome"]["code"] is None
    codes = [s["code"] for s in out["steps"]]
    assert codes[:2] == [first, "phone_use_card"] and "show_portal_or_notice" in codes


def test_a_phone_whose_certificate_moved_to_a_new_phone_is_refused_as_revoked(tmp_path, capsys) -> None:
    out = _check(tmp_path, capsys, "android-revoked", "--method", "pin", "--pin", "5678")
    assert out["outcome"]["name"] == "cert_revoked" and out["outcome"]["code"] is None
    assert out["steps"][0]["code"] == "cert_revoked" and "機種変更" in out["steps"][0]["text"]
    # the same person's valid phone still confirms: revocation is per certificate
    assert _check(tmp_path, capsys, "android", "--method", "pin", "--pin", "5678")["outcome"]["code"] == 1


def test_a_phone_without_its_registration_finds_no_one(tmp_path, capsys) -> None:
    out = _check(tmp_path, capsys, "android-unregistered", "--method", "pin", "--pin", "5678")
    assert out["outcome"]["code"] == 4 and out["device"] == "android"


def test_a_phone_offers_no_face_and_no_visual_and_the_device_method_is_the_iphones_alone() -> None:
    from desk.flow import CardRead, Reception, State
    from desk.models import AuthMethod

    android = Reception()
    android.handle(__import__("desk.flow", fromlist=["CardInserted"]).CardInserted())
    android.handle(CardRead(certificate_fingerprint="", certificate_not_after=None, pin_tries_left=3, device=Device.ANDROID))
    assert android.state is State.CHOOSING and android.available_methods() == [AuthMethod.PIN]
    assert "顔写真" in android.unavailable_reason(AuthMethod.FACE) and "顔写真" in android.unavailable_reason(AuthMethod.VISUAL)
    card = Reception()
    card.handle(__import__("desk.flow", fromlist=["CardInserted"]).CardInserted())
    card.handle(CardRead(certificate_fingerprint="a" * 64, certificate_not_after=None, pin_tries_left=3))
    assert card.unavailable_reason(AuthMethod.DEVICE)


def test_the_central_system_gives_a_phone_no_grace_and_no_device_proof_to_a_card(world, fresh_card) -> None:
    import datetime as dt

    from desk.central import CentralRejected
    from desk.models import AuthMethod, CardProof, CardQuery
    from reader.card import MynaCard
    from sim.card import SimTransport
    from sim.central import SimCentralSystem

    central = SimCentralSystem(None, world.ca)

    def query(name: str, method: AuthMethod, day: dt.date) -> CardQuery:
        transport = SimTransport(fresh_card(name))
        transport.connect()
        card = MynaCard(transport)
        card.read_info()
        nonce = central.request_nonce()
        signature = card.sign_unlocked(nonce) if name.startswith("iphone") else card.authenticate(
            "1234" if name == "adult" else "5678", nonce)
        der = card.read_auth_certificate().der
        return CardQuery(certificate_der=der, nonce=nonce, proof=CardProof(method=method, signature=signature),
                         confirmation_date=day, medical_institution_code="1312345678")

    assert central.confirm_card(query("iphone", AuthMethod.DEVICE, dt.date(2026, 12, 1))).validity == 1
    # its last day, within the 3 months of renewal alerts: still valid, for a phone as for a card
    assert central.confirm_card(query("iphone", AuthMethod.DEVICE, dt.date(2028, 4, 9))) is not None
    with pytest.raises(CentralRejected) as caught:  # a day after the phone certificate ended (2028-04-09)
        central.confirm_card(query("iphone", AuthMethod.DEVICE, dt.date(2028, 4, 10)))
    assert caught.value.reason is CentralRejected.Reason.SMARTPHONE_CERTIFICATE_EXPIRED
    with pytest.raises(CentralRejected) as caught:  # a card never proves itself by "the phone opened it"
        central.confirm_card(query("adult", AuthMethod.DEVICE, dt.date(2026, 12, 1)))
    assert caught.value.reason is CentralRejected.Reason.MISSING_PROOF


def test_the_statistics_count_a_phone_as_myna_and_say_how_many(tmp_path, capsys) -> None:
    _check(tmp_path, capsys, "android", "--method", "pin", "--pin", "5678")
    _check(tmp_path, capsys, "adult", "--method", "pin", "--pin", "1234")
    journal_path = next(tmp_path.rglob("journal.sqlite3"))
    from desk.journal import Journal
    from desk.stats import monthly_usage, render_text

    with Journal(journal_path, read_only=True) as journal:
        month = journal.confirmations()[0].at.strftime("%Y-%m")
        usage = monthly_usage(journal, month)
    assert usage.myna_count == 2 and usage.smartphone_count == 1 and usage.rate_percent == 100.0
    assert "マイナ保険証 2件（うちスマートフォン 1件）" in render_text(usage)
