"""The req/res folder exchange: figures for a レセコン-side integrator (prints, asserts nothing).

    .venv/bin/python bench/exchange.py [--patients N] [--requests N]

- 一括照会 of N patients (default 1,000) through the folders, in parts of 100 as `desk bulk` sends
  them: wall time, patients per second, files per second (requests and answers crossing the share).
- One 個別照会 round trip (request written → answer read), median and p90, at the desk's default
  poll (20 ms) against the simulated 連携アプリ's default (20 ms), and with both at 5 ms: the floor
  the file system and the two parsers leave.
Both UTF-8 and Shift_JIS. Local disk (tmpfs-like page cache); a real SMB share adds its latency.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from desk.exchange.bulk import PatientRow, run_bulk, summarize  # noqa: E402
from desk.exchange.codec import Encoding  # noqa: E402
from desk.exchange.reqres_central import ReqResCentral  # noqa: E402
from desk.models import NumbersQuery  # noqa: E402
from sim.central import SimCentralSystem  # noqa: E402
from sim.population import load_population  # noqa: E402
from sim.renkei import SimRenkeiApp  # noqa: E402

MIC = "1312345678"
DAY = dt.date(2026, 12, 2)


def _queries(n: int) -> list[NumbersQuery]:
    """N queries cycling through every qualification of the fixtures (and a wrong birth date now and then)."""
    known = [
        NumbersQuery(insurer_number=q.insurer_number, insured_card_symbol=q.insured_card_symbol,
                     insured_identification_number=q.insured_identification_number,
                     insured_branch_number=q.insured_branch_number, birth_date=p.birth_date)
        for p in load_population(None).persons for q in p.qualifications
    ]
    out = []
    for i in range(n):
        query = known[i % len(known)]
        if i % 7 == 6:
            query = query.model_copy(update={"birth_date": query.birth_date + dt.timedelta(days=1)})
        out.append(query)
    return out


def bulk(n: int, encoding: Encoding, central: SimCentralSystem) -> None:
    with tempfile.TemporaryDirectory() as root:
        rows = [PatientRow(i + 2, f"P{i:05d}", q) for i, q in enumerate(_queries(n))]
        with SimRenkeiApp(Path(root), central, encoding=encoding, today=lambda: DAY):
            desk = ReqResCentral(Path(root), encoding=encoding)
            started = time.perf_counter()
            outcomes = run_bulk(desk, rows, confirmation_date=DAY, medical_institution_code=MIC, chunk=100, poll_s=0.05)
            elapsed = time.perf_counter() - started
        files = 2 * (2 * ((n + 99) // 100))  # per part: upload + answer, fetch + answer (ready at once here)
        summary = " ".join(f"{k}{v}" for k, v in summarize(outcomes).items() if v)
        print(f"一括照会 {n} patients, {encoding.declaration:9}: {elapsed:6.2f} s wall, {n / elapsed:7.0f} patients/s, "
              f"{files / elapsed:5.1f} files/s ({files} files; {summary})")


def round_trips(count: int, encoding: Encoding, central: SimCentralSystem, desk_poll: float, terminal_poll: float) -> None:
    query = _queries(1)[0]
    with tempfile.TemporaryDirectory() as root:
        with SimRenkeiApp(Path(root), central, encoding=encoding, poll_s=terminal_poll, today=lambda: DAY):
            desk = ReqResCentral(Path(root), encoding=encoding, poll_s=desk_poll)
            times = []
            for _ in range(count):
                started = time.perf_counter()
                desk.confirm_numbers(query, confirmation_date=DAY, medical_institution_code=MIC)
                times.append((time.perf_counter() - started) * 1000)
    times.sort()
    p90 = times[int(0.9 * (len(times) - 1))]
    print(f"個別照会 round trip, {encoding.declaration:9}, poll desk {desk_poll * 1000:.0f} ms / terminal {terminal_poll * 1000:.0f} ms: "
          f"median {statistics.median(times):5.1f} ms, p90 {p90:5.1f} ms ({count} requests)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--patients", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=100)
    args = parser.parse_args()
    central = SimCentralSystem.from_fixtures()
    for encoding in Encoding:
        bulk(args.patients, encoding, central)
    for encoding in Encoding:
        round_trips(args.requests, encoding, central, 0.02, 0.02)
        round_trips(args.requests, encoding, central, 0.005, 0.005)


if __name__ == "__main__":
    main()
