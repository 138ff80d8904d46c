"""The simulated central eligibility system: authentication, grace, OQSCD006 answers, consent, faults."""

from __future__ import annotations

import datetime as dt
import stat
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from desk.attestation import AttestationError, ReaderAttestor
from desk.central import (
    CONSENT_VALIDITY,
    CentralError,
    CentralMalformedReply,
    CentralRejected,
    CentralSystem,
    CentralTimeout,
    CentralUnavailable,
    consent_valid_at,
    error_reply,
    make_consent,
)
from desk.certificate_grace import CertificateStatus, add_months, certificate_status, grace_end, renewal_alert_from
from desk.models import (
    AuthMethod,
    CardProof,
    CardQuery,
    ConsentItem,
    FacilityType,
    FailureName,
    NumbersQuery,
    Validity,
)
from sim.central import CENTRAL_PRESETS, CentralFaults, SimCentralSystem, preschool_until
from sim.fixtures import REFERENCE_DATE, list_card_fixtures, load_card_fixture
from sim.jpki import CardKeyMaterial, SimJpkiCa
from sim.population import PopulationDb, load_population

R = CentralRejected.Reason
MIC = "1311234567"
T0 = dt.datetime(2026, 12, 1, 9, 30, 0)


# -- fixtures --------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def sim_key_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Shared by every test module through the session's base temp dir: RSA keys are made once.
    return tmp_path_factory.getbasetemp() / "sim-keys"


@pytest.fixture(scope="session")
def ca(sim_key_dir: Path) -> SimJpkiCa:
    return SimJpkiCa(sim_key_dir)


@pytest.fixture(scope="session")
def attestor(tmp_path_factory: pytest.TempPathFactory) -> ReaderAttestor:
    return ReaderAttestor(tmp_path_factory.mktemp("terminal") / "reader-attestation.pem")


@pytest.fixture(scope="session")
def card_keys(ca: SimJpkiCa):
    cache: dict[tuple[int, dt.date, dt.date], CardKeyMaterial] = {}

    def get(name: str, *, serial: int | None = None, not_before: dt.date | None = None, not_after: dt.date | None = None) -> CardKeyMaterial:
        fixture = load_card_fixture(name)
        key = (
            serial or fixture.certificate.serial,
            not_before or fixture.certificate.not_before,
            not_after or fixture.certificate.not_after,
        )
        if key not in cache:
            cache[key] = ca.card_keys(*key)
        return cache[key]

    return get


@dataclass
class Clock:
    now: dt.datetime = T0

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += dt.timedelta(**kwargs)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def population() -> PopulationDb:
    return PopulationDb.from_fixture(load_population())


@pytest.fixture
def central(population: PopulationDb, ca: SimJpkiCa, attestor: ReaderAttestor, clock: Clock, sleeps: list[float]) -> SimCentralSystem:
    return SimCentralSystem(population, ca, terminal_public_key=attestor.public_key_bytes, clock=clock, sleep=sleeps.append)


def pin_query(
    central: SimCentralSystem,
    keys: CardKeyMaterial,
    *,
    day: dt.date = REFERENCE_DATE,
    nonce: bytes | None = None,
    consent=None,
    facility: FacilityType = FacilityType.NORMAL,
) -> CardQuery:
    nonce = nonce if nonce is not None else central.request_nonce()
    signature = keys.private_key.sign(nonce, padding.PKCS1v15(), hashes.SHA256())
    return CardQuery(
        certificate_der=keys.certificate_der,
        nonce=nonce,
        proof=CardProof(method=AuthMethod.PIN, signature=signature),
        confirmation_date=day,
        medical_institution_code=MIC,
        consent=consent,
        facility_type=facility,
    )


def attested_query(
    central: SimCentralSystem,
    attestor: ReaderAttestor,
    keys: CardKeyMaterial,
    method: AuthMethod,
    staff_id: str | None = None,
    *,
    day: dt.date = REFERENCE_DATE,
) -> CardQuery:
    nonce = central.request_nonce()
    return CardQuery(
        certificate_der=keys.certificate_der,
        nonce=nonce,
        proof=CardProof(method=method, attestation=attestor.attest(nonce, keys.certificate_der, method, staff_id), staff_id=staff_id),
        confirmation_date=day,
        medical_institution_code=MIC,
    )


def rejected(excinfo: pytest.ExceptionInfo[CentralRejected]) -> CentralRejected.Reason:
    return excinfo.value.reason


# -- certificate grace: pure date rules ------------------------------------------------------------


@pytest.mark.parametrize(
    ("not_after", "end"),
    [
        (dt.date(2026, 2, 15), dt.date(2026, 5, 31)),  # the seed's example: expiry in Feb → end of May
        (dt.date(2026, 2, 28), dt.date(2026, 5, 31)),
        (dt.date(2028, 2, 29), dt.date(2028, 5, 31)),  # leap day
        (dt.date(2026, 1, 31), dt.date(2026, 4, 30)),  # 31st → a 30-day month
        (dt.date(2026, 8, 31), dt.date(2026, 11, 30)),
        (dt.date(2026, 10, 31), dt.date(2027, 1, 31)),  # crosses the year
        (dt.date(2026, 11, 30), dt.date(2027, 2, 28)),  # ends in February
        (dt.date(2027, 11, 30), dt.date(2028, 2, 29)),  # ends in a leap February
        (dt.date(2026, 12, 31), dt.date(2027, 3, 31)),  # year-end expiry
        (dt.date(2026, 12, 1), dt.date(2027, 3, 31)),
        (dt.date(2026, 8, 1), dt.date(2026, 11, 30)),  # the cert-expired-4m card
        (dt.date(2026, 10, 1), dt.date(2027, 1, 31)),  # the cert-expired-2m card
    ],
)
def test_grace_ends_on_the_last_day_of_the_third_month_after_expiry(not_after: dt.date, end: dt.date) -> None:
    assert grace_end(not_after) == end
    assert certificate_status(not_after, end) is CertificateStatus.GRACE
    assert certificate_status(not_after, end + dt.timedelta(days=1)) is CertificateStatus.BEYOND_GRACE


@pytest.mark.parametrize("not_after", [dt.date(2026, 1, 31), dt.date(2026, 2, 28), dt.date(2026, 12, 31), dt.date(2027, 5, 31)])
def test_status_around_expiry(not_after: dt.date) -> None:
    alert = renewal_alert_from(not_after)
    assert certificate_status(not_after, alert - dt.timedelta(days=1)) is CertificateStatus.VALID
    assert certificate_status(not_after, alert) is CertificateStatus.EXPIRING
    assert certificate_status(not_after, not_after) is CertificateStatus.EXPIRING  # the last valid day
    assert certificate_status(not_after, not_after + dt.timedelta(days=1)) is CertificateStatus.GRACE
    assert not CertificateStatus.VALID.renewal_alert
    assert CertificateStatus.EXPIRING.renewal_alert and CertificateStatus.GRACE.renewal_alert
    assert not CertificateStatus.BEYOND_GRACE.usable and CertificateStatus.GRACE.usable


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (dt.date(2027, 5, 31), -3, dt.date(2027, 2, 28)),
        (dt.date(2028, 5, 31), -3, dt.date(2028, 2, 29)),
        (dt.date(2027, 1, 12), -3, dt.date(2026, 10, 12)),
        (dt.date(2026, 12, 31), 2, dt.date(2027, 2, 28)),
        (dt.date(2026, 1, 15), 0, dt.date(2026, 1, 15)),
    ],
)
def test_add_months_clamps_to_month_end(day: dt.date, months: int, expected: dt.date) -> None:
    assert add_months(day, months) == expected


# -- card fixtures: the answer for each ------------------------------------------------------------

# (fixture, method, expected validity or the rejection, records, renewal alert on the reference date)
CARD_CASES = [
    ("adult", AuthMethod.PIN, Validity.VALID, 1, False),
    ("pin-blocked", AuthMethod.FACE, Validity.VALID, 1, False),
    ("pin-one-try", AuthMethod.PIN, Validity.VALID, 1, False),
    ("cert-expired-2m", AuthMethod.PIN, Validity.VALID, 1, True),
    ("cert-expired-4m", AuthMethod.PIN, R.CERTIFICATE_BEYOND_GRACE, 0, None),
    ("cert-expiring-6w", AuthMethod.PIN, Validity.VALID, 1, True),
    ("non-jis-name", AuthMethod.PIN, Validity.VALID, 1, False),
    ("child-5", AuthMethod.PIN, Validity.VALID, 1, False),
    ("elder-72", AuthMethod.PIN, Validity.VALID, 1, False),
    ("elder-80", AuthMethod.PIN, Validity.VALID, 1, False),
    ("no-pin", AuthMethod.FACE, Validity.VALID, 1, False),
    # A 住基カード: the desk stops it by its token; its certificate is past the grace anyway.
    ("not-mynumber", AuthMethod.VISUAL, R.CERTIFICATE_BEYOND_GRACE, 0, None),
    ("lost", AuthMethod.PIN, Validity.INVALID, 1, False),
    ("lost-new", AuthMethod.PIN, Validity.INVALID_NEW_EXISTS, 1, False),
    ("unregistered", AuthMethod.PIN, Validity.NOT_FOUND, 0, False),
    ("multiple", AuthMethod.PIN, Validity.MULTIPLE, 2, False),
]


def test_card_cases_cover_every_fixture() -> None:
    assert sorted(case[0] for case in CARD_CASES) == list_card_fixtures()


@pytest.mark.parametrize(("name", "method", "expected", "n_records", "alert"), CARD_CASES, ids=[c[0] for c in CARD_CASES])
def test_each_card_fixture(central, attestor, card_keys, name, method, expected, n_records, alert) -> None:
    keys = card_keys(name)
    fixture = load_card_fixture(name)
    if method is AuthMethod.PIN:
        query = pin_query(central, keys)
    else:
        query = attested_query(central, attestor, keys, method, "staff-07" if method is AuthMethod.VISUAL else None)
    if isinstance(expected, CentralRejected.Reason):
        with pytest.raises(CentralRejected) as excinfo:
            central.confirm_card(query)
        assert rejected(excinfo) is expected
        assert excinfo.value.failure_name is FailureName.CERT_BEYOND_GRACE
        return
    reply = central.confirm_card(query)
    assert reply.validity is expected
    assert reply.method is method
    assert reply.reference_classification == 1
    assert (reply.segment_of_result, reply.processing_result_status, reply.error_code) == (1, 1, None)
    assert reply.medical_institution_code == MIC
    assert len(reply.records) == n_records
    for record in reply.records:  # the records are the card holder's
        assert (record.name, record.birth_date) == (fixture.holder.name, fixture.holder.birth_date)
    assert reply.certificate_not_after == fixture.certificate.not_after
    assert certificate_status(reply.certificate_not_after, REFERENCE_DATE).renewal_alert is alert


def test_record_details_on_the_reference_date(central, card_keys) -> None:
    def records(name: str, limit_consent: bool = False):
        query = pin_query(central, card_keys(name)).model_copy(update={"limit_consent": limit_consent})
        return central.confirm_card(query).records

    (child,) = records("child-5")
    assert child.preschool and child.personal_family_classification == "2" and child.insured_name == "中村　健太"
    (elder72,) = records("elder-72")
    assert elder72.elderly_recipient is not None and elder72.elderly_recipient.contribution_ratio == 20
    assert elder72.insurer_number == "  261008"  # 国保: 6 digits, space-padded
    (elder80,) = records("elder-80")
    assert elder80.partial_contribution_ratio == 10 and elder80.insurer_number.startswith("39")
    (adult,) = records("adult", limit_consent=True)
    assert adult.limit is not None and adult.limit.classification_flag == "A03"
    (without_consent,) = records("adult")  # 限度額 information only with the consent to its provision
    assert without_consent.limit is None
    assert adult.valid_to is None and adult.insurer_number == "01130012"
    (lost,) = records("lost")
    assert lost.valid_to == dt.date(2026, 10, 31) and lost.reason_of_loss == "99"
    (old,) = records("lost-new")
    assert old.valid_to == dt.date(2026, 11, 15) and old.reason_of_loss == "03"
    assert {r.insurer_number for r in records("multiple")} == {"01470012", "06472013"}


def test_preschool_flag_follows_the_confirmation_date(central, card_keys) -> None:
    keys = card_keys("child-5")
    (last_day,) = central.confirm_card(pin_query(central, keys, day=dt.date(2028, 3, 31))).records
    (next_day,) = central.confirm_card(pin_query(central, keys, day=dt.date(2028, 4, 1))).records
    assert last_day.preschool and not next_day.preschool


@pytest.mark.parametrize(
    ("birth", "until"),
    [
        (dt.date(2021, 6, 10), dt.date(2028, 3, 31)),
        (dt.date(2020, 4, 1), dt.date(2026, 3, 31)),  # reaches 6 on 31 March: that very day
        (dt.date(2020, 4, 2), dt.date(2027, 3, 31)),
        (dt.date(2016, 2, 29), dt.date(2022, 3, 31)),
    ],
)
def test_preschool_until(birth: dt.date, until: dt.date) -> None:
    assert preschool_until(birth) == until


def test_not_mynumber_certificate_has_no_link(central, card_keys) -> None:
    reply = central.confirm_card(pin_query(central, card_keys("not-mynumber"), day=dt.date(2025, 6, 1)))
    assert reply.validity is Validity.NOT_FOUND and reply.records == []


def test_cancelled_registration_finds_no_one(central, card_keys, population) -> None:
    keys = card_keys("adult", serial=100016)  # 森 千尋: registration cancelled from 2026-10-01
    assert central.confirm_card(pin_query(central, keys, day=dt.date(2026, 9, 30))).validity is Validity.VALID
    assert central.confirm_card(pin_query(central, keys, day=dt.date(2026, 10, 1))).validity is Validity.NOT_FOUND

    adult = card_keys("adult")
    assert population.cancel_link(100001, REFERENCE_DATE)
    assert central.confirm_card(pin_query(central, adult)).validity is Validity.NOT_FOUND
    assert not population.cancel_link(100001, REFERENCE_DATE)  # nothing left to cancel


# -- grace through the central system --------------------------------------------------------------


@pytest.mark.parametrize(
    "not_after",
    [dt.date(2026, 1, 31), dt.date(2026, 2, 28), dt.date(2026, 10, 31), dt.date(2026, 12, 31)],
    ids=["31st", "february", "october-31", "year-end"],
)
def test_grace_boundary_through_the_central(central, card_keys, not_after: dt.date) -> None:
    keys = card_keys("adult", not_before=dt.date(2021, 1, 1), not_after=not_after)
    last = grace_end(not_after)
    reply = central.confirm_card(pin_query(central, keys, day=last))
    assert reply.validity is Validity.VALID and reply.certificate_not_after == not_after
    with pytest.raises(CentralRejected) as excinfo:
        central.confirm_card(pin_query(central, keys, day=last + dt.timedelta(days=1)))
    assert rejected(excinfo) is R.CERTIFICATE_BEYOND_GRACE
    assert excinfo.value.failure_name is FailureName.CERT_BEYOND_GRACE
    assert excinfo.value.title and "猶予" in excinfo.value.msg


def test_certificate_not_yet_valid(central, card_keys) -> None:
    keys = card_keys("adult")
    with pytest.raises(CentralRejected) as excinfo:
        central.confirm_card(pin_query(central, keys, day=dt.date(2023, 4, 9)))
    assert rejected(excinfo) is R.CERTIFICATE_NOT_YET_VALID


# -- PIN signature, chain, nonce -------------------------------------------------------------------


def test_signature_over_another_nonce_is_rejected(central, card_keys) -> None:
    keys = card_keys("adult")
    good = pin_query(central, keys)
    other_nonce = central.request_nonce()
    forged = good.model_copy(update={"nonce": other_nonce})
    with pytest.raises(CentralRejected) as excinfo:
        central.confirm_card(forged)
    assert rejected(excinfo) is R.BAD_SIGNATURE
    assert excinfo.value.failure_name is FailureName.AUTH_FAILED


def test_signature_by_another_card_is_rejected(central, card_keys) -> None:
    adult, other = card_keys("adult"), card_keys("lost")
    nonce = central.request_nonce()
    query = pin_query(central, other, nonce=nonce).model_copy(update={"certificate_der": adult.certificate_der})
    with pytest.raises(CentralRejected) as excinfo:
        central.confirm_card(query)
    assert rejected(excinfo) is R.BAD_SIGNATURE


def test_missing_or_tampered_signature(central, card_keys) -> None:
    keys = card_keys("adult")
    query = pin_query(central, keys)
    tampered = bytearray(query.proof.signature or b"")
    tampered[10] ^= 0x01
    bad = query.model_copy(update={"proof": CardProof(method=AuthMethod.PIN, signature=bytes(tampered))})
    with pytest.raises(CentralRejected) as excinfo:
        central.confirm_card(bad)
    assert rejected(excinfo) is R.BAD_SIGNATURE
    none = pin_query(central, keys).model_copy(update={"proof": CardProof(method=AuthMethod.PIN)})
    with pytest.raises(CentralRejected) as excinfo:
        central.confirm_card(none)
    assert rejected(excinfo) is R.MISSING_PROOF
    no_method = pin_query(central, keys).model_copy(update={"proof": CardProof(method=AuthMethod.NONE)})
    with pytest.raises(CentralRejected) as excinfo:
        central.confirm_card(no_method)
    assert rejected(excinfo) is R.MISSING_PROOF


def test_certificate_from_another_ca_is_rejected(central, tmp_path_factory) -> None:
    other_ca = SimJpkiCa(tmp_path_factory.getbasetemp() / "other-ca-keys")
    fake = other_ca.card_keys(100001, dt.date(2023, 4, 10), dt.date(2028, 4, 9))
    with pytest.raises(CentralRejected) as excinfo:
        central.confirm_card(pin_query(central, fake))
    assert rejected(excinfo) is R.UNKNOWN_CA


def test_garbage_certificate_is_rejected(central, card_keys) -> None:
    query = pin_query(central, card_keys("adult")).model_copy(update={"certificate_der": b"\x30\x03\x02\x01\x01"})
    with pytest.raises(CentralRejected) as excinfo:
        central.confirm_card(query)
    assert rejected(excinfo) is R.MALFORMED_CERTIFICATE


def test_nonce_is_single_use(central, card_keys) -> None:
    query = pin_query(central, card_keys("adult"))
    assert central.confirm_card(query).validity is Validity.VALID
    with pytest.raises(CentralRejected) as excinfo:
        central.confirm_card(query)
    assert rejected(excinfo) is R.NONCE_REUSED


def test_failed_attempt_uses_up_the_nonce(central, card_keys) -> None:
    keys = card_keys("adult")
    nonce = central.request_nonce()
    with pytest.raises(CentralRejected):
        central.confirm_card(pin_query(central, card_keys("lost"), nonce=nonce).model_copy(update={"certificate_der": keys.certificate_der}))
    with pytest.raises(CentralRejected) as excinfo:
        central.confirm_card(pin_query(central, keys, nonce=nonce))
    assert rejected(excinfo) is R.NONCE_REUSED


def test_unknown_nonce(central, card_keys) -> None:
    with pytest.raises(CentralRejected) as excinfo:
        central.confirm_card(pin_query(central, card_keys("adult"), nonce=b"\x00" * 32))
    assert rejected(excinfo) is R.NONCE_UNKNOWN


def test_nonce_expires_after_five_minutes(central, card_keys, clock) -> None:
    keys = card_keys("adult")
    on_time = pin_query(central, keys)
    clock.advance(minutes=5)
    assert central.confirm_card(on_time).validity is Validity.VALID
    late = pin_query(central, keys)
    clock.advance(minutes=5, seconds=1)
    with pytest.raises(CentralRejected) as excinfo:
        central.confirm_card(late)
    assert rejected(excinfo) is R.NONCE_EXPIRED


def test_nonces_are_fresh(central) -> None:
    nonces = {central.request_nonce() for _ in range(20)}
    assert len(nonces) == 20 and all(len(n) == 32 for n in nonces)


# -- face / 目視: the terminal's attestation --------------------------------------------------------


def test_face_and_visual_are_recorded(central, attestor, card_keys) -> None:
    keys = card_keys("pin-blocked")
    face = central.confirm_card(attested_query(central, attestor, keys, AuthMethod.FACE))
    visual = central.confirm_card(attested_query(central, attestor, keys, AuthMethod.VISUAL, "staff-07"))
    assert (face.method, visual.method) == (AuthMethod.FACE, AuthMethod.VISUAL)
    assert face.validity is visual.validity is Validity.VALID


def test_attestation_is_bound_to_method_staff_and_certificate(central, attestor, card_keys) -> None:
    keys, other = card_keys("pin-blocked"), card_keys("adult")
    face = attested_query(central, attestor, keys, AuthMethod.FACE)
    as_visual = face.model_copy(update={"proof": CardProof(method=AuthMethod.VISUAL, attestation=face.proof.attestation, staff_id="staff-07")})
    visual = attested_query(central, attestor, keys, AuthMethod.VISUAL, "staff-07")
    other_staff = visual.model_copy(update={"proof": visual.proof.model_copy(update={"staff_id": "staff-99"})})
    moved = attested_query(central, attestor, keys, AuthMethod.FACE).model_copy(update={"certificate_der": other.certificate_der})
    for query in (as_visual, other_staff, moved):
        with pytest.raises(CentralRejected) as excinfo:
            central.confirm_card(query)
        assert rejected(excinfo) is R.BAD_ATTESTATION


def test_attestation_from_an_unregistered_terminal(central, population, ca, card_keys, tmp_path) -> None:
    stranger = ReaderAttestor(tmp_path / "other-terminal.pem")
    keys = card_keys("adult")
    with pytest.raises(CentralRejected) as excinfo:
        central.confirm_card(attested_query(central, stranger, keys, AuthMethod.FACE))
    assert rejected(excinfo) is R.BAD_ATTESTATION

    no_terminal = SimCentralSystem(population, ca)
    with pytest.raises(CentralRejected) as excinfo:
        no_terminal.confirm_card(attested_query(no_terminal, stranger, keys, AuthMethod.FACE))
    assert rejected(excinfo) is R.BAD_ATTESTATION
    missing = attested_query(central, stranger, keys, AuthMethod.FACE).model_copy(update={"proof": CardProof(method=AuthMethod.FACE)})
    with pytest.raises(CentralRejected) as excinfo:
        central.confirm_card(missing)
    assert rejected(excinfo) is R.MISSING_PROOF


def test_attestor_rules_and_key_file(tmp_path) -> None:
    path = tmp_path / "keys" / "reader.pem"
    first = ReaderAttestor(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert ReaderAttestor(path).public_key_bytes == first.public_key_bytes  # created once, then reused
    with pytest.raises(AttestationError):
        first.attest(b"n" * 32, b"cert", AuthMethod.VISUAL)  # 目視 names the staff member
    with pytest.raises(AttestationError):
        first.attest(b"n" * 32, b"cert", AuthMethod.NONE)  # a numbers query has no card to vouch for
    path.write_text("not a key")
    with pytest.raises(AttestationError):
        ReaderAttestor(path)


# -- numbers (照会区分 2) -----------------------------------------------------------------------------

NUMBER_CASES = [
    # (insurer, symbol, number, branch, birth, validity, name of the record shown)
    ("01130012", "4012", "1508", "00", dt.date(1985, 4, 12), Validity.VALID, "佐藤　花子"),
    ("01130012", "4012", "1508", "00", dt.date(1985, 4, 13), Validity.NOT_FOUND, None),  # numbers exist, birth date differs
    ("01130012", "4012", "1508", "", dt.date(2015, 5, 5), Validity.VALID, "佐藤　翔"),  # no 枝番: the birth date decides
    ("01130012", "4012", "9999", "00", dt.date(1985, 4, 12), Validity.NOT_FOUND, None),
    ("231001", "名中", "204417", "01", dt.date(1990, 7, 21), Validity.VALID, "高橋　由美"),  # 国保 typed without padding
    ("  131128", "世田", "81155", "01", dt.date(1968, 3, 15), Validity.VALID, "大野　次郎"),  # 資格確認書, no card
    ("01280015", "2207", "1164", "00", dt.date(1995, 3, 3), Validity.VALID, "井上　舞"),  # card not registered
    ("06114011", "210", "6051", "00", dt.date(1987, 9, 9), Validity.INVALID, "山本　京子"),
    ("121004", "千中", "71320", "01", dt.date(1986, 12, 12), Validity.INVALID_NEW_EXISTS, "松本　涼子"),  # old 国保 numbers
    ("01120013", "3318", "705", "00", dt.date(1986, 12, 12), Validity.NOT_FOUND, None),  # new one still being registered
    ("06132013", "1120", "3307", "00", dt.date(1985, 4, 12), Validity.INVALID_NEW_EXISTS, "佐藤　花子"),  # old 健保組合 card
    ("01470012", "9012", "377", "00", dt.date(1983, 6, 6), Validity.VALID, "木村　彩"),
]


@pytest.mark.parametrize(("insurer", "symbol", "number", "branch", "birth", "validity", "name"), NUMBER_CASES)
def test_numbers_query(central, insurer, symbol, number, branch, birth, validity, name) -> None:
    query = NumbersQuery(
        insurer_number=insurer, insured_card_symbol=symbol, insured_identification_number=number, insured_branch_number=branch, birth_date=birth
    )
    reply = central.confirm_numbers(query, confirmation_date=REFERENCE_DATE, medical_institution_code=MIC)
    assert reply.validity is validity
    assert reply.reference_classification == 2 and reply.method is AuthMethod.NONE
    assert [r.name for r in reply.records] == ([name] if name else [])
    assert reply.query_echo == {
        "InsurerNumber": insurer.strip().rjust(8),
        "InsuredCardSymbol": symbol,
        "InsuredIdentificationNumber": number,
        "InsuredBranchNumber": branch,
        "Birthdate": birth.strftime("%Y%m%d"),
        "LimitApplicationCertificateRelatedConsFlg": "0",
    }
    assert reply.certificate_not_after is None and reply.consent is None


# -- consent ------------------------------------------------------------------------------------------


def test_consent_is_recorded_for_24_hours(central, card_keys, clock) -> None:
    asked = make_consent({ConsentItem.PHARMACY, ConsentItem.DIAGNOSIS}, dt.datetime(2026, 12, 1, 8, 0))
    reply = central.confirm_card(pin_query(central, card_keys("adult"), consent=asked))
    consent = reply.consent
    assert consent is not None
    assert consent.items == {ConsentItem.PHARMACY, ConsentItem.DIAGNOSIS}
    assert consent.given_at == clock.now  # the central system's clock, not the terminal's
    assert consent.valid_until - consent.given_at == CONSENT_VALIDITY == dt.timedelta(hours=24)
    assert consent_valid_at(consent, consent.given_at + dt.timedelta(hours=24))
    assert not consent_valid_at(consent, consent.given_at + dt.timedelta(hours=24, seconds=1))
    assert not consent_valid_at(consent, consent.given_at - dt.timedelta(seconds=1))


def test_all_four_items_and_declining(central, card_keys) -> None:
    every = make_consent(set(ConsentItem), T0)
    assert central.confirm_card(pin_query(central, card_keys("adult"), consent=every)).consent.items == set(ConsentItem)
    declined = central.confirm_card(pin_query(central, card_keys("adult"), consent=make_consent(set(), T0))).consent
    assert declined is not None and declined.items == frozenset()
    assert not consent_valid_at(declined, T0)


@pytest.mark.parametrize(
    ("facility", "card", "recorded"),
    [
        (FacilityType.NORMAL, "adult", True),
        (FacilityType.HOME_CONSENT, "adult", True),  # 居宅同意取得型 obtains consent too
        (FacilityType.QUALIFICATION_ONLY, "adult", False),  # 資格確認限定型: no consent, no medical information
        (FacilityType.NORMAL, "cert-expired-2m", False),  # grace: medical information is not provided
        (FacilityType.NORMAL, "unregistered", False),  # nobody to record it for
    ],
)
def test_when_consent_is_recorded(central, card_keys, facility, card, recorded) -> None:
    asked = make_consent({ConsentItem.PHARMACY}, T0)
    reply = central.confirm_card(pin_query(central, card_keys(card), consent=asked, facility=facility))
    assert (reply.consent is not None) is recorded
    assert reply.validity is not None


def test_no_consent_asked_none_recorded(central, card_keys) -> None:
    assert central.confirm_card(pin_query(central, card_keys("adult"))).consent is None


# -- faults -------------------------------------------------------------------------------------------


def test_outage(central, card_keys) -> None:
    query = pin_query(central, card_keys("adult"))
    central.faults = CentralFaults(outage=True)
    for call in (central.request_nonce, lambda: central.confirm_card(query)):
        with pytest.raises(CentralUnavailable) as excinfo:
            call()
        assert excinfo.value.failure_name is FailureName.CENTRAL_DOWN and excinfo.value.title
    central.faults = CentralFaults()
    assert central.confirm_card(query).validity is Validity.VALID  # the request never arrived: nonce unused


def test_timeout_waits_timeout_s_then_gives_up(central, card_keys, sleeps) -> None:
    query = pin_query(central, card_keys("adult"))
    central.faults = CentralFaults(timeout=True, timeout_s=2.5)
    with pytest.raises(CentralTimeout) as excinfo:
        central.confirm_card(query)
    assert sleeps == [2.5] and excinfo.value.failure_name is FailureName.CENTRAL_DOWN
    central.faults = CentralFaults(latency_ms=4000, timeout_s=3)  # slower than the terminal waits
    with pytest.raises(CentralTimeout):
        central.confirm_numbers(
            NumbersQuery(insurer_number="01130012", insured_identification_number="1508", birth_date=dt.date(1985, 4, 12)),
            confirmation_date=REFERENCE_DATE,
            medical_institution_code=MIC,
        )
    assert sleeps == [2.5, 3]


def test_latency_delays_but_answers(central, card_keys, sleeps) -> None:
    central.faults = CentralFaults(latency_ms=250)
    reply = central.confirm_card(pin_query(central, card_keys("adult")))
    assert reply.validity is Validity.VALID
    assert sleeps == [0.25, 0.25]  # request_nonce and confirm_card


def test_malformed_reply(central, card_keys) -> None:
    central.faults = CentralFaults(malformed=True)
    with pytest.raises(CentralMalformedReply) as excinfo:
        central.confirm_card(pin_query(central, card_keys("adult")))
    assert excinfo.value.failure_name is FailureName.CENTRAL_DOWN
    assert isinstance(excinfo.value, CentralError) and excinfo.value.code == "malformed_reply"


def test_presets_and_protocol(central) -> None:
    assert set(CENTRAL_PRESETS) >= {"ok", "slow", "down"}
    assert CENTRAL_PRESETS["down"].outage and CENTRAL_PRESETS["slow"].latency_ms < CENTRAL_PRESETS["slow"].timeout_s * 1000
    assert isinstance(central, CentralSystem)


def test_error_reply_for_export() -> None:
    reply = error_reply(
        CentralRejected(R.CERTIFICATE_BEYOND_GRACE), reference_classification=1, confirmation_date=REFERENCE_DATE, at=T0, medical_institution_code=MIC
    )
    assert (reply.segment_of_result, reply.processing_result_status) == (9, 2)
    assert reply.error_code == "certificate_beyond_grace" and reply.validity is None
    assert reply.error_message and "電子証明書" in reply.error_message


def test_population_summary_on_the_reference_date(central, attestor, card_keys) -> None:
    """Counts per OQSCD006 code over every linked card (the README's population summary)."""
    population = load_population()
    counts: dict[str, int] = {}
    for link in population.card_links:
        if link.certificate_serial >= 200000:
            continue  # the phones' own certificates (fixtures/phones): tests/test_smartphone.py
        person = next(p for p in population.persons if p.id == link.person)
        # A person without a card fixture (the cancelled registration) gets a certificate made for the test.
        keys = card_keys(person.card) if person.card else card_keys("adult", serial=link.certificate_serial)
        try:
            reply = central.confirm_card(attested_query(central, attestor, keys, AuthMethod.FACE))
            label = reply.validity.label if reply.validity else "?"
        except CentralRejected as exc:
            label = exc.code
        counts[label] = counts.get(label, 0) + 1
    assert counts == {"有効": 10, "無効": 1, "無効（新しい資格あり）": 1, "該当資格なし": 1, "複数該当": 1, "certificate_beyond_grace": 1}


# -- how the desk and the simulated world use it -------------------------------------------------------


def test_built_from_a_population_file_with_an_aware_clock(ca, attestor, card_keys, tmp_path) -> None:
    jst = dt.timezone(dt.timedelta(hours=9))
    aware = dt.datetime(2026, 12, 1, 0, 30, 15, 123456, tzinfo=dt.UTC)  # 09:30:15 in Japan
    central = SimCentralSystem(population=None, ca=ca, terminal_public_key=attestor.public_key, clock=lambda: aware)
    reply = central.confirm_card(attested_query(central, attestor, card_keys("adult"), AuthMethod.FACE))
    assert reply.validity is Validity.VALID
    assert reply.process_execution_time == dt.datetime(2026, 12, 1, 9, 30, 15)  # naive Japan time

    only_one = load_population().model_copy(update={"card_links": []})
    path = tmp_path / "population.json"
    path.write_text(only_one.model_dump_json(), encoding="utf-8")
    unlinked = SimCentralSystem(population=path, ca=ca, terminal_public_key=attestor.public_key_bytes)
    assert unlinked.confirm_card(attested_query(unlinked, attestor, card_keys("adult"), AuthMethod.FACE)).validity is Validity.NOT_FOUND
    assert make_consent({ConsentItem.PHARMACY}, aware.astimezone(jst)).given_at == dt.datetime(2026, 12, 1, 9, 30, 15)


def test_modes_and_health(central, card_keys) -> None:
    from sim.fixtures import FixtureError

    assert central.health() == (True, "接続中（模擬）")
    central.set_mode("slow")
    assert central.health()[0] and central.faults == CENTRAL_PRESETS["slow"]
    central.set_mode("down")
    assert central.health()[0] is False
    with pytest.raises(CentralUnavailable):
        central.request_nonce()
    central.set_mode("timeout")
    assert central.health()[0] is False
    central.set_mode("ok")
    assert central.confirm_card(pin_query(central, card_keys("adult"))).validity is Validity.VALID
    with pytest.raises(FixtureError):
        central.set_mode("sometimes")


def test_requery_after_an_outage_uses_the_terminal_attestation(central, attestor, card_keys) -> None:
    """事後確認: a PIN confirmation queued while the system was down is re-sent by the terminal."""
    keys = card_keys("adult")
    nonce = central.request_nonce()
    attestation = attestor.attest(nonce, keys.certificate_der, AuthMethod.PIN, "outage-requery")
    query = CardQuery(
        certificate_der=keys.certificate_der,
        nonce=nonce,
        proof=CardProof(method=AuthMethod.PIN, attestation=attestation, staff_id="outage-requery"),
        confirmation_date=dt.date(2026, 11, 30),  # the day of the visit, not of the re-run
        medical_institution_code=MIC,
    )
    reply = central.confirm_card(query)
    assert reply.validity is Validity.VALID and reply.method is AuthMethod.PIN
    assert reply.confirmation_date == dt.date(2026, 11, 30)
    # Without the terminal's attestation a PIN proof still needs the card's signature.
    bare = pin_query(central, keys).model_copy(update={"proof": CardProof(method=AuthMethod.PIN, staff_id="outage-requery")})
    with pytest.raises(CentralRejected) as excinfo:
        central.confirm_card(bare)
    assert rejected(excinfo) is R.MISSING_PROOF
    face_with_staff = attested_query(central, attestor, keys, AuthMethod.FACE, "outage-requery")
    assert central.confirm_card(face_with_staff).method is AuthMethod.FACE
