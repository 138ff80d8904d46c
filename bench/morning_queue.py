"""The morning queue at the face-auth readers: waiting time with 1, 2 and 3 readers.

    .venv/bin/python bench/morning_queue.py [--profile small|medium|large] [--mix 2024|2026|70] [--days N]
                                    [--seed S] [--software-ms face=255,pin=9,visual=66] [--paper-at-reader]

Replays a clinic morning (8:30 doors open, last reception 12:00) many times: arrivals per minute
from a documented profile, each patient's path (顔認証, 暗証番号, 目視, スマートフォン, 資格確認書 at the
counter), and the time each holds a reader = the desk's software time for that path (measured
here by bench/e2e.py on the simulated reader, unless --software-ms gives it) + the human steps
(docs/queue.md gives every figure and its source or assumption). Readers are servers; patients
queue FIFO for the first free one. Prints the wait (median, p90, max), reader patients served
per hour, reader utilisation and the longest queue. Seeded: the same options print the same
figures (the measured software times vary by milliseconds, which moves nothing at this scale).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

import argparse  # noqa: E402
import random  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
from collections.abc import Mapping  # noqa: E402

from bench.morning_model import (  # noqa: E402
    ARRIVAL_PROFILES,
    LABELS,
    MIXES,
    PATHS,
    make_day,
    percentile,
    service_time,
    simulate,
    summarise,
)

READERS = (1, 2, 3)
# bench/e2e.py on SimTransport, from the README's table: used when nothing can be measured here.
README_SOFTWARE_MS = {"pin": 9.0, "visual": 66.0, "face": 255.0}


def measure_software_ms(runs: int) -> tuple[dict[str, float], str]:
    """Median software time per path (ms) of a whole confirmation on the simulated reader, from
    bench/e2e.py's own measurement (a few runs; the face path loads the face model once)."""
    try:
        from bench.e2e import sim_rows
    except ImportError as exc:  # no face engine, no desk: fall back to the README's figures
        return dict(README_SOFTWARE_MS), f"not measured ({exc}); the README's bench/e2e.py figures"
    with tempfile.TemporaryDirectory(prefix="madoguchi-queue-") as tmp:
        rows = sim_rows(Path(tmp), runs)
    return {row.path: row.median_ms for row in rows}, f"measured now by bench/e2e.py (SimTransport, median of {runs} runs)"


def parse_software_ms(text: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for part in text.split(","):
        path, _, value = part.partition("=")
        if path.strip() not in PATHS or not value:
            raise SystemExit(f"--software-ms: expected path=ms with path one of {', '.join(PATHS)}, got {part!r}")
        out[path.strip()] = float(value)
    return out


def clock(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}:{rest:02d}"


def service_table(software_ms: Mapping[str, float], seed: int, draws: int = 4000) -> list[tuple[str, float, float, float]]:
    rng = random.Random(seed ^ 0x5EED)
    rows = []
    for path in PATHS:
        times = [service_time(path, rng, software_ms) for _ in range(draws)]
        rows.append((path, statistics.median(times), percentile(times, 90), software_ms.get(path, software_ms.get("pin", 0.0))))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--profile", choices=sorted(ARRIVAL_PROFILES), default="medium", help="arrivals in the morning")
    parser.add_argument("--mix", choices=sorted(MIXES), default="2026", help="share of patients per path")
    parser.add_argument("--days", type=int, default=50, help="mornings replayed per reader count")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--software-ms", help="the desk's software time per path instead of measuring it, e.g. face=255,pin=9,visual=66")
    parser.add_argument("--runs", type=int, default=3, help="confirmations per path when measuring the software time")
    parser.add_argument("--paper-at-reader", action="store_true",
                        help="資格確認書 patients are served at the reader's counter too (one receptionist at the reader)")
    args = parser.parse_args(argv)
    if args.days < 1:
        parser.error("--days must be at least 1")

    if args.software_ms:
        software_ms, source = parse_software_ms(args.software_ms), "given with --software-ms"
    else:
        software_ms, source = measure_software_ms(args.runs)
    profile, mix = ARRIVAL_PROFILES[args.profile], MIXES[args.mix]

    # the same mornings for every reader count (common random numbers)
    rng = random.Random(args.seed)
    days = [make_day(profile, mix, software_ms, rng, paper_at_reader=args.paper_at_reader) for _ in range(args.days)]
    summaries = [summarise([simulate(day, readers) for day in days]) for readers in READERS]

    shares = ", ".join(f"{LABELS[p]} {mix[p] * 100:.1f}%" for p in PATHS if mix.get(p))
    print(f"Morning queue at the readers: profile `{profile.name}` ({profile.patients} patients, {profile.at_door} at the door "
          f"at 8:30, reception to {8 + (30 + profile.minutes) // 60}:{(30 + profile.minutes) % 60:02d}), "
          f"mix `{args.mix}` ({shares}), {args.days} mornings, seed {args.seed}"
          + (", 資格確認書 at the reader's counter" if args.paper_at_reader else ""))
    print("software time per confirmation: " + ", ".join(f"{p} {ms:.0f} ms" for p, ms in software_ms.items()) + f" — {source}")
    print()
    print("| path | time at the reader, median (m:ss) | p90 (m:ss) | of which software (ms) |")
    print("|---|---:|---:|---:|")
    for path, med, high, soft in service_table(software_ms, args.seed):
        where = "" if path != "paper" or args.paper_at_reader else " (at the counter, not a reader)"
        print(f"| {LABELS[path]} ({path}){where} | {clock(med)} | {clock(high)} | {soft:.0f} |")
    print()
    print("| readers | patients / morning (at a reader) | wait median (m:ss) | wait p90 (m:ss) | wait max (m:ss) "
          "| arrived 8:30-9:00: median / p90 (m:ss) | served / hour (busiest hour) | reader utilisation | longest queue |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for s in summaries:
        print(f"| {s.readers} | {s.patients:.0f} ({s.reader_patients:.1f}) | {clock(s.wait_median)} | {clock(s.wait_p90)} "
              f"| {clock(s.wait_max)} | {clock(s.rush_median)} / {clock(s.rush_p90)} | {s.per_hour:.1f} ({s.peak_hour:.0f}) "
              f"| {s.utilisation * 100:.0f}% | {s.max_queue} |")
    one = summaries[0]
    print(f"mean time at a reader {one.mean_service:.0f} s: one reader serves at most {3600 / one.mean_service:.0f} patients an hour; "
          "served / hour: reader patients over the span from the first one's arrival to the last one leaving a reader "
          "(busiest hour: the median morning's most in any 60 minutes); waits pool every morning, max and queue are the worst one's")
    return 0


if __name__ == "__main__":
    sys.exit(main())
