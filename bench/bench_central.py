"""Figures for the simulated central system and the result export (prints, asserts nothing).

    python bench/bench_central.py [--n 200]

Keys live in a temporary directory, so the first line includes RSA key generation.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
import time
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from desk.attestation import ReaderAttestor
from desk.export import ResultExporter, reply_from_xml, reply_to_xml
from desk.models import AuthMethod, CardProof, CardQuery, NumbersQuery
from sim.central import SimCentralSystem
from sim.fixtures import REFERENCE_DATE, load_card_fixture
from sim.jpki import SimJpkiCa
from sim.population import PopulationDb, load_population

MIC = "1311234567"


def timed(label: str, n: int, fn) -> None:
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    print(f"{label:<38} median {statistics.median(samples):7.3f} ms   p95 {samples[int(0.95 * (n - 1))]:7.3f} ms   (n={n})")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200)
    n = parser.parse_args().n
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        start = time.perf_counter()
        ca = SimJpkiCa(base / "keys")
        fixture = load_card_fixture("adult")
        keys = ca.card_keys(fixture.certificate.serial, fixture.certificate.not_before, fixture.certificate.not_after)
        print(f"{'CA + one card key (RSA-2048 keygen)':<38} {(time.perf_counter() - start) * 1000:7.1f} ms")
        start = time.perf_counter()
        db = PopulationDb.from_fixture(load_population())
        print(f"{'population.json → SQLite':<38} {(time.perf_counter() - start) * 1000:7.1f} ms")
        attestor = ReaderAttestor(base / "reader.pem")
        central = SimCentralSystem(db, ca, terminal_public_key=attestor.public_key_bytes)

        def pin() -> None:
            nonce = central.request_nonce()
            signature = keys.private_key.sign(nonce, padding.PKCS1v15(), hashes.SHA256())
            central.confirm_card(
                CardQuery(
                    certificate_der=keys.certificate_der,
                    nonce=nonce,
                    proof=CardProof(method=AuthMethod.PIN, signature=signature),
                    confirmation_date=REFERENCE_DATE,
                    medical_institution_code=MIC,
                )
            )

        def face() -> None:
            nonce = central.request_nonce()
            central.confirm_card(
                CardQuery(
                    certificate_der=keys.certificate_der,
                    nonce=nonce,
                    proof=CardProof(method=AuthMethod.FACE, attestation=attestor.attest(nonce, keys.certificate_der, AuthMethod.FACE)),
                    confirmation_date=REFERENCE_DATE,
                    medical_institution_code=MIC,
                )
            )

        numbers = NumbersQuery(
            insurer_number="01130012", insured_card_symbol="4012", insured_identification_number="1508", insured_branch_number="00", birth_date=dt.date(1985, 4, 12)
        )
        timed("confirm_card, PIN (incl. card signing)", n, pin)
        timed("confirm_card, face attestation", n, face)
        timed("confirm_numbers", n, lambda: central.confirm_numbers(numbers, confirmation_date=REFERENCE_DATE, medical_institution_code=MIC))
        reply = central.replies[-1]
        timed("result XML write + parse", n, lambda: reply_from_xml(reply_to_xml(reply)))
        exporter = ResultExporter(base / "res")
        timed("export XML + JSON (atomic, fsync)", n, lambda: exporter.write(reply.model_copy(update={"arbitrary_file_identifier": None})))


if __name__ == "__main__":
    main()
