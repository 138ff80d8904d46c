"""The simulated central eligibility system (オンライン資格確認等システム), implementing desk.central.CentralSystem.

It authenticates like the real one is described (nonce, card signature or the terminal's
attestation, the JPKI chain, the certificate's validity with the 3-month grace), looks the person
up in the population (sim/population.py) and answers with the OQSCD006 codes. Every reply crosses
a simulated wire: it is serialised to the result XML and parsed back, so the parser is exercised
on every confirmation and a "malformed reply" fault is a real parse failure.

Proofs: PIN → the card's PKCS#1 v1.5 SHA-256 signature over the nonce; face / 目視 → the
terminal's Ed25519 attestation (desk/attestation.py). A PIN confirmation the terminal re-sends
after an outage (事後確認) carries the terminal's attestation instead of a fresh signature.
During the certificate's grace no consent is recorded: medical information is not provided then.
Times in replies are naive Japan time.

Answer rules (the population's README section has the cases):
- card: the person's provided records valid on the date: one → 1 有効, several → 5 複数該当;
  none valid but a lost one → 2 無効, or 3 無効（新しい資格あり） when a newer qualification is
  known (still being registered, or starting later); the latest lost record is shown. No link,
  a cancelled link or no provided record → 4 該当資格なし.
- numbers: the records with these numbers whose birth date matches; a wrong birth date or a
  qualification still being registered → 4; otherwise as above, for the matched record.
"""

from __future__ import annotations

import datetime as dt
import secrets
import threading
import time
from collections.abc import Callable
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.x509.oid import NameOID
from pydantic import BaseModel, ConfigDict, Field

from desk.attestation import verify_attestation
from desk.central import (
    NONCE_TTL,
    CentralMalformedReply,
    CentralRejected,
    CentralTimeout,
    CentralUnavailable,
    japan_time,
    make_consent,
)
from desk.certificate_grace import CertificateStatus, certificate_status
from desk.export import ResultFileError, new_file_identifier, reply_from_xml, reply_to_xml
from desk.models import (
    AuthMethod,
    CardQuery,
    Consent,
    EligibilityReply,
    FacilityType,
    NumbersQuery,
    QualificationRecord,
    Validity,
)
from sim.fixtures import UnknownFixture
from sim.jpki import SimJpkiCa
from sim.population import PopulationDb, StoredQualification, load_population, normalize_insurer_number

__all__ = ["CENTRAL_PRESETS", "DEMO_PERSON", "CentralFaults", "SimCentralSystem", "issued_by_real_jpki", "preschool_until"]

_JST = dt.timezone(dt.timedelta(hours=9))
REFERENCE_CARD = 1
REFERENCE_NUMBERS = 2


class CentralFaults(BaseModel):
    """Faults the simulated central system injects. Deterministic: no randomness."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    latency_ms: int = Field(default=0, ge=0, description="added before every answer")
    timeout: bool = Field(default=False, description="the system never answers: CentralTimeout after timeout_s")
    timeout_s: float = Field(default=10.0, gt=0, description="how long the terminal waits for an answer")
    outage: bool = Field(default=False, description="the system cannot be reached: CentralUnavailable at once")
    malformed: bool = Field(default=False, description="the answer arrives truncated: CentralMalformedReply")


# The presets `desk check --central` offers.
CENTRAL_PRESETS: dict[str, CentralFaults] = {
    "ok": CentralFaults(),
    "slow": CentralFaults(latency_ms=1000),
    "down": CentralFaults(outage=True),
    "timeout": CentralFaults(timeout=True, timeout_s=3.0),
    "malformed": CentralFaults(malformed=True),
}


def _now_jst() -> dt.datetime:
    return dt.datetime.now(_JST).replace(tzinfo=None, microsecond=0)


def preschool_until(birth_date: dt.date) -> dt.date:
    """Last day of 未就学: the first 31 March on or after the day the child reaches 6.

    By law one reaches an age on the day before the birthday, so a child born on 1 April is
    未就学 only until the 31 March just before the 6th birthday.
    """
    try:
        sixth_birthday = birth_date.replace(year=birth_date.year + 6)
    except ValueError:  # 29 February: the anniversary falls on 1 March
        sixth_birthday = dt.date(birth_date.year + 6, 3, 1)
    reached = sixth_birthday - dt.timedelta(days=1)
    march_31 = dt.date(reached.year, 3, 31)
    return march_31 if reached <= march_31 else dt.date(reached.year + 1, 3, 31)


def _jst_date(moment: dt.datetime) -> dt.date:
    return moment.astimezone(_JST).date()


class SimCentralSystem:
    """In-process central system. Thread-safe (the TUI calls it from worker threads)."""

    def __init__(
        self,
        population: PopulationDb | Path | str | None,
        ca: SimJpkiCa,
        *,
        terminal_public_key: Ed25519PublicKey | bytes | None = None,
        faults: CentralFaults | None = None,
        clock: Callable[[], dt.datetime] = _now_jst,
        sleep: Callable[[float], None] = time.sleep,
        nonce_ttl: dt.timedelta = NONCE_TTL,
        accept_real_cards_as_demo: bool = False,
    ) -> None:
        # A ready database, or a population file to load into memory (None: fixtures/population.json).
        if not isinstance(population, PopulationDb):
            population = PopulationDb.from_fixture(load_population(population))
        self.population = population
        self.ca = ca
        # The face-auth reader's attestation key, registered once with the central system.
        self.terminal_public_key = terminal_public_key
        self.faults = faults or CentralFaults()
        self._clock = clock
        self.sleep = sleep
        self.nonce_ttl = nonce_ttl
        # Demo mode: a real card (issuer: the JPKI 利用者証明用 CA, whose key we do not hold) is
        # accepted on its valid signature and answered for DEMO_PERSON, marked as a demo.
        self.accept_real_cards_as_demo = accept_real_cards_as_demo
        self.replies: list[EligibilityReply] = []  # every answer given, for tests and training review
        self._lock = threading.Lock()
        self._issued: dict[bytes, dt.datetime] = {}
        self._used: dict[bytes, dt.datetime] = {}

    def clock(self) -> dt.datetime:
        """Now, as naive Japan time to the second (the result files carry no zone)."""
        return japan_time(self._clock())

    def set_mode(self, mode: str) -> None:
        """Switch to one of CENTRAL_PRESETS (ok, slow, down, timeout, malformed)."""
        try:
            self.faults = CENTRAL_PRESETS[mode]
        except KeyError:
            raise UnknownFixture(
                f"オンライン資格確認等システムの模擬状態 {mode!r} はありません（{', '.join(CENTRAL_PRESETS)} から選んでください）"
            ) from None

    def health(self) -> tuple[bool, str]:
        """For the status bar: can the terminal reach the system right now?"""
        faults = self.faults
        if faults.outage:
            return False, "接続できません（障害中・模擬）"
        if faults.timeout or faults.latency_ms / 1000 >= faults.timeout_s:
            return False, "応答がありません（模擬）"
        if faults.latency_ms:
            return True, f"接続中（応答 約{faults.latency_ms / 1000:g}秒・模擬）"
        return True, "接続中（模擬）"

    @classmethod
    def from_fixtures(
        cls,
        *,
        key_dir: Path | None = None,
        population_path: Path | None = None,
        db_path: Path | str = ":memory:",
        **kwargs: object,
    ) -> SimCentralSystem:
        db = PopulationDb.from_fixture(load_population(population_path), db_path)
        return cls(db, SimJpkiCa(key_dir), **kwargs)  # type: ignore[arg-type]

    # -- the wire -------------------------------------------------------------------------------

    def _transport(self) -> None:
        faults = self.faults
        if faults.outage:
            raise CentralUnavailable("オンライン資格確認等システムに接続できません。回線と資格確認端末の状態を確認してください。")
        if faults.timeout or faults.latency_ms / 1000 >= faults.timeout_s:
            self.sleep(faults.timeout_s)
            raise CentralTimeout(f"{faults.timeout_s:g}秒待ちましたが応答がありません。時間をおいて再照会してください。")
        if faults.latency_ms:
            self.sleep(faults.latency_ms / 1000)

    def _deliver(self, reply: EligibilityReply) -> EligibilityReply:
        with self._lock:
            self.replies.append(reply)
        payload = reply_to_xml(reply)
        if self.faults.malformed:
            payload = payload[: len(payload) // 2]
        try:
            parsed = reply_from_xml(payload)
        except ResultFileError as exc:
            raise CentralMalformedReply(f"資格確認結果を読み取れませんでした。再照会してください。（{exc.msg}）") from exc
        # the demo mark is ours, not the interface's: it travels beside the message
        return parsed.model_copy(update={"demo": reply.demo}) if reply.demo else parsed

    # -- nonce ----------------------------------------------------------------------------------

    def request_nonce(self) -> bytes:
        self._transport()
        nonce = secrets.token_bytes(32)
        now = self.clock()
        with self._lock:
            self._prune(now)
            self._issued[nonce] = now
        return nonce

    def _prune(self, now: dt.datetime) -> None:
        # Used nonces are remembered a while longer than they live, to tell "reused" from "unknown".
        horizon = now - 2 * self.nonce_ttl
        for table in (self._issued, self._used):
            for nonce in [n for n, at in table.items() if at < horizon]:
                del table[nonce]

    def _consume_nonce(self, nonce: bytes) -> None:
        now = self.clock()
        with self._lock:
            if nonce in self._used:
                raise CentralRejected(CentralRejected.Reason.NONCE_REUSED)
            issued = self._issued.pop(nonce, None)
            if issued is None:
                raise CentralRejected(CentralRejected.Reason.NONCE_UNKNOWN)
            self._used[nonce] = issued
        if now - issued > self.nonce_ttl:
            raise CentralRejected(CentralRejected.Reason.NONCE_EXPIRED)

    # -- card (照会区分 1) -----------------------------------------------------------------------

    def confirm_card(self, query: CardQuery) -> EligibilityReply:
        self._transport()
        self._consume_nonce(query.nonce)
        cert, demo, phone = self._authenticate(query)
        day = query.confirmation_date
        if day < _jst_date(cert.not_valid_before_utc):
            raise CentralRejected(CentralRejected.Reason.CERTIFICATE_NOT_YET_VALID)
        not_after = _jst_date(cert.not_valid_after_utc)
        status = certificate_status(not_after, day)
        if not demo and self.population.revoked(cert.serial_number, day):
            raise CentralRejected(CentralRejected.Reason.CERTIFICATE_REVOKED)
        if phone and status.expired:
            # the 3-month grace is the physical card's alone (MHLW KB0012286, docs/smartphone.md §0)
            raise CentralRejected(CentralRejected.Reason.SMARTPHONE_CERTIFICATE_EXPIRED, f"有効期限 {not_after:%Y-%m-%d}")
        if status is CertificateStatus.BEYOND_GRACE:
            raise CentralRejected(CentralRejected.Reason.CERTIFICATE_BEYOND_GRACE, f"有効期限 {not_after:%Y-%m-%d}")

        person = DEMO_PERSON if demo else self.population.person_for_certificate(cert.serial_number, day)
        stored = self.population.records_of_person(person) if person is not None else []
        validity, records = _card_answer(stored, day)
        now = self.clock()
        reply = EligibilityReply(
            process_execution_time=now,
            confirmation_date=day,
            reference_classification=REFERENCE_CARD,
            validity=validity,
            records=[_as_of(r, day, query.limit_consent) for r in records],
            limit_consent=query.limit_consent,
            certificate_not_after=not_after,
            consent=self._consent(query, status, validity, now),
            method=query.proof.method,
            demo=demo,
            medical_institution_code=query.medical_institution_code,
            arbitrary_file_identifier=new_file_identifier(),
        )
        return self._deliver(reply)

    def _authenticate(self, query: CardQuery) -> tuple[x509.Certificate, bool, bool]:
        """The certificate, once the proof holds; whether it is a real card taken as a demo; and
        whether it is a phone's スマホ用電子証明書 (issued by the phones' CA)."""
        try:
            cert = x509.load_der_x509_certificate(query.certificate_der)
        except ValueError:
            raise CentralRejected(CentralRejected.Reason.MALFORMED_CERTIFICATE) from None
        demo = phone = False
        if not self.ca.verify_issued(cert):
            phone = self.ca.smartphone_ca.verify_issued(cert)
            real = issued_by_real_jpki(cert)
            if not phone and not (real and self.accept_real_cards_as_demo):
                raise CentralRejected(CentralRejected.Reason.UNKNOWN_CA, _issuer_detail(cert, real))
            demo = not phone
        if query.proof.method is AuthMethod.DEVICE and not phone:
            raise CentralRejected(CentralRejected.Reason.MISSING_PROOF)  # only a phone opens its key itself
        return self._check_proof(query, cert), demo, phone

    def _check_proof(self, query: CardQuery, cert: x509.Certificate) -> x509.Certificate:
        proof = query.proof
        if proof.method is AuthMethod.NONE:
            raise CentralRejected(CentralRejected.Reason.MISSING_PROOF)
        if proof.method in (AuthMethod.PIN, AuthMethod.DEVICE) and proof.signature is not None:
            key = cert.public_key()
            if not isinstance(key, rsa.RSAPublicKey):
                raise CentralRejected(CentralRejected.Reason.BAD_SIGNATURE)
            try:
                key.verify(proof.signature, query.nonce, padding.PKCS1v15(), hashes.SHA256())
            except InvalidSignature:
                raise CentralRejected(CentralRejected.Reason.BAD_SIGNATURE) from None
            return cert
        # Face, 目視, or the terminal re-sending a PIN confirmation queued during an outage:
        # the terminal's attestation stands in for the card's signature.
        if proof.attestation is None:
            raise CentralRejected(CentralRejected.Reason.MISSING_PROOF)
        if self.terminal_public_key is None:
            raise CentralRejected(CentralRejected.Reason.BAD_ATTESTATION, "端末の公開鍵が登録されていません")
        ok = verify_attestation(
            self.terminal_public_key, proof.attestation, query.nonce, query.certificate_der, proof.method, proof.staff_id
        )
        if not ok:
            raise CentralRejected(CentralRejected.Reason.BAD_ATTESTATION)
        return cert

    def _consent(self, query: CardQuery, status: CertificateStatus, validity: Validity, now: dt.datetime) -> Consent | None:
        if query.consent is None or validity is Validity.NOT_FOUND:
            return None
        if query.facility_type is FacilityType.QUALIFICATION_ONLY:
            return None  # 資格確認限定型: qualification only, no medical information, no consent
        if status is CertificateStatus.GRACE:
            return None  # during the grace 薬剤情報 etc. are not provided (eligibility-anchors.md §2)
        # Recorded with the central system's own clock: the registration time is authoritative.
        return make_consent(query.consent.items, now)

    # -- numbers (照会区分 2) --------------------------------------------------------------------

    def confirm_numbers(
        self, query: NumbersQuery, *, confirmation_date: dt.date, medical_institution_code: str
    ) -> EligibilityReply:
        self._transport()
        insurer = normalize_insurer_number(query.insurer_number)
        matches = self.population.records_by_numbers(
            insurer, query.insured_card_symbol, query.insured_identification_number, query.insured_branch_number
        )
        matches = [s for s in matches if s.record.birth_date == query.birth_date and not s.pending]
        validity, records = self._numbers_answer(matches, confirmation_date)
        reply = EligibilityReply(
            process_execution_time=self.clock(),
            confirmation_date=confirmation_date,
            reference_classification=REFERENCE_NUMBERS,
            validity=validity,
            records=[_as_of(r, confirmation_date, query.limit_consent) for r in records],
            limit_consent=query.limit_consent,
            query_echo={
                "InsurerNumber": insurer,
                "InsuredCardSymbol": query.insured_card_symbol,
                "InsuredIdentificationNumber": query.insured_identification_number,
                "InsuredBranchNumber": query.insured_branch_number,
                "Birthdate": f"{query.birth_date:%Y%m%d}",
                "LimitApplicationCertificateRelatedConsFlg": "1" if query.limit_consent else "0",
            },
            method=AuthMethod.NONE,
            medical_institution_code=medical_institution_code,
            arbitrary_file_identifier=new_file_identifier(),
        )
        return self._deliver(reply)

    def _numbers_answer(self, matches: list[StoredQualification], day: dt.date) -> tuple[Validity, list[QualificationRecord]]:
        if not matches:
            return Validity.NOT_FOUND, []
        valid = [s.record for s in matches if s.record.valid_on(day)]
        if len(valid) > 1:
            return Validity.MULTIPLE, valid
        if valid:
            return Validity.VALID, valid
        target = max(matches, key=lambda s: s.record.valid_from)
        others = self.population.records_of_person(target.person_id)
        newer = any(s.record.valid_from > target.record.valid_from for s in others)
        return (Validity.INVALID_NEW_EXISTS if newer else Validity.INVALID), [target.record]


# The real JPKI user-authentication CA's name (Japan Agency for Local Authority Information
# Systems); our simulated CA marks its own name "(SIMULATED)", so the two never match.
_REAL_JPKI_ORGANIZATION = "JPKI"
_REAL_JPKI_USER_AUTH_UNIT = "JPKI for user authentication"
# Whom a demo confirmation answers for: the adult card's holder in fixtures/population.json.
DEMO_PERSON = "sato-hanako"


def issued_by_real_jpki(cert: x509.Certificate) -> bool:
    """The issuer names the real JPKI 利用者証明用 CA (the name only: its key is not ours to check)."""
    issuer = cert.issuer
    organizations = [a.value for a in issuer.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
    units = [a.value for a in issuer.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)]
    return _REAL_JPKI_ORGANIZATION in organizations and _REAL_JPKI_USER_AUTH_UNIT in units


def _issuer_detail(cert: x509.Certificate, real: bool) -> str:
    if real:
        return (
            "実際のマイナンバーカードです。接続先は訓練用のシミュレータのため資格を確認できません。"
            "デモとして読み取るには --demo を付けて起動してください"
        )
    return f"発行元: {cert.issuer.rfc4514_string()}"


def _card_answer(stored: list[StoredQualification], day: dt.date) -> tuple[Validity, list[QualificationRecord]]:
    provided = [s.record for s in stored if not s.pending]
    valid = [r for r in provided if r.valid_on(day)]
    if len(valid) > 1:
        return Validity.MULTIPLE, valid
    if valid:
        return Validity.VALID, valid
    lost = [r for r in provided if r.valid_to is not None and r.valid_to < day]
    if not lost:
        return Validity.NOT_FOUND, []
    latest = max(lost, key=lambda r: r.valid_to or day)
    assert latest.valid_to is not None
    newer = any(s.record.valid_from > latest.valid_to for s in stored)
    return (Validity.INVALID_NEW_EXISTS if newer else Validity.INVALID), [latest]


def _as_of(record: QualificationRecord, day: dt.date, limit_consent: bool) -> QualificationRecord:
    """The record as answered on `day`: 未就学区分 is derived from the birth date; the 限度額 and
    特定疾病 information only with the patient's consent to their provision."""
    update: dict[str, object] = {}
    preschool = day <= preschool_until(record.birth_date)
    if record.preschool != preschool:
        update["preschool"] = preschool
    if not limit_consent and (record.limit is not None or record.specific_disease):
        update.update(limit=None, specific_disease=[])
    return record.model_copy(update=update) if update else record
