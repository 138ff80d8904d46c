"""Card protocol benchmark: APDUs, bytes moved and median time per desk task, over the in-process
virtual card (SimTransport) and over a real pcscd with the card served through vpcd.

    .venv/bin/python bench/card.py [--runs N]

Times are wall-clock for the card protocol only (the card is already connected), median of N
runs after one warm-up. The pcscd half starts pcscd itself if none is running (root only) and
is skipped, with the reason printed, where it cannot run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from reader.card import MynaCard  # noqa: E402
from reader.errors import ReaderError  # noqa: E402
from reader.trace import TracingTransport  # noqa: E402
from reader.transport import Transport  # noqa: E402
from sim.card import SimTransport, VirtualCard  # noqa: E402
from sim.world import SimWorld  # noqa: E402

CHALLENGE = b"nonce-from-the-central-system"
PIN = "1234"


@dataclass(frozen=True)
class Task:
    name: str
    run: Callable[[MynaCard, VirtualCard], object]


TASKS = [
    Task("card info (token, cert, PIN tries)", lambda card, v: card.read_info()),
    Task("PIN path (verify + sign)", lambda card, v: card.authenticate(PIN, CHALLENGE)),
    Task("face photo (照合番号B)", lambda card, v: card.read_face_photo(v.fixture.check_b)),
    Task("reception (info + PIN path)", lambda card, v: (card.read_info(), card.authenticate(PIN, CHALLENGE))),
]


@dataclass(frozen=True)
class Row:
    task: str
    transport: str
    apdus: int
    bytes_moved: int
    median_ms: float
    p90_ms: float


def measure(task: Task, transport: Transport, virtual: VirtualCard, label: str, runs: int) -> Row:
    traced = TracingTransport(transport)
    task.run(MynaCard(traced), virtual)  # warm-up, and the APDU count of one run
    apdus = len(traced.entries)
    moved = sum(len(e.command) + len(e.response or b"") for e in traced.entries)
    times = []
    for _ in range(runs):
        card = MynaCard(transport)  # untraced: time the protocol, not the tracer
        began = time.perf_counter()
        task.run(card, virtual)
        times.append((time.perf_counter() - began) * 1000)
    times.sort()
    p90 = times[min(len(times) - 1, int(len(times) * 0.9))]
    return Row(task.name, label, apdus, moved, statistics.median(times), p90)


def bench_sim(world: SimWorld, runs: int) -> list[Row]:
    virtual = world.card("adult")
    transport = SimTransport(virtual)
    transport.connect()
    return [measure(task, transport, virtual, "SimTransport", runs) for task in TASKS]


def bench_pcsc(world: SimWorld, runs: int, log_dir: Path) -> tuple[list[Row], list[str]]:
    """The same tasks through pcscd + vpcd; also the PIN path with an untuned card socket."""
    notes: list[str] = []
    try:
        from reader.pcsc import PcscTransport
        from sim.pcscd import VirtualReaderStack, pcscd_running, stack_lock, stack_problems
        from sim.vpcd import VPCD_READER, VpcdCardServer
    except ImportError as exc:  # pragma: no cover - a broken checkout
        return [], [f"pcscd+vpcd skipped: {exc}"]
    problems = stack_problems()
    if problems:
        return [], ["pcscd+vpcd skipped: " + "; ".join(problems)]
    rows: list[Row] = []
    with stack_lock():
        external = pcscd_running()
        stack = VirtualReaderStack(log_dir)
        try:
            stack.start()
            virtual = world.card("adult")
            began = time.monotonic()
            stack.insert(virtual)
            transport = PcscTransport(VPCD_READER)
            if not transport.wait_for_card(5):
                return [], ["pcscd+vpcd skipped: pcscd did not see the virtual card within 5 s"]
            seen = time.monotonic() - began
            transport.connect()
            notes.append(
                f"stack: pcscd {'already running' if external else f'started in {stack.startup_seconds * 1000:.0f} ms'}, "
                f"card seen by pcscd {seen * 1000:.0f} ms after insertion (pcscd polls vpcd every 400 ms)"
            )
            rows += [measure(task, transport, virtual, "pcscd+vpcd", runs) for task in TASKS]
            transport.close()

            # The same PIN path with the socket options off, to show what they are for.
            stack.remove()
            probe = PcscTransport(VPCD_READER)
            probe.wait_for_removal(5)
            untuned = VpcdCardServer(tuned=False)
            try:
                untuned.insert(virtual)
                if probe.wait_for_card(5):
                    probe.connect()
                    rows.append(measure(TASKS[1], probe, virtual, "pcscd+vpcd, untuned socket", max(3, runs // 4)))
            finally:
                probe.close()
                untuned.remove()
        except ReaderError as exc:
            notes.append(f"pcscd+vpcd stopped early: {exc.title}: {exc}")
        finally:
            stack.stop()
    return rows, notes


def print_table(rows: list[Row]) -> None:
    header = ("task", "transport", "APDUs", "bytes", "median ms", "p90 ms", "ms/APDU")
    table = [header] + [
        (
            r.task,
            r.transport,
            str(r.apdus),
            str(r.bytes_moved),
            f"{r.median_ms:.2f}",
            f"{r.p90_ms:.2f}",
            f"{r.median_ms / r.apdus:.3f}" if r.apdus else "-",
        )
        for r in rows
    ]
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---:" if i >= 2 else "---" for i in range(len(header))) + "|")
    for line in table[1:]:
        print("| " + " | ".join(line) + " |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30, help="timed runs per task (default 30)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="madoguchi-bench-") as tmp:
        directory = Path(tmp)
        # Reuse the tests' simulated keys: making RSA-2048 keys is not what is measured.
        cache = Path(os.environ.get("MADOGUCHI_TEST_KEY_CACHE", Path.home() / ".cache" / "madoguchi" / "test-keys"))
        cache.mkdir(parents=True, exist_ok=True)
        (directory / "keys").symlink_to(cache, target_is_directory=True)
        world = SimWorld(directory)
        rows = bench_sim(world, args.runs)
        pcsc_rows, notes = bench_pcsc(world, args.runs, directory / "logs")
    print(f"bench/card.py — fixture card 'adult', {args.runs} timed runs per task, Python {sys.version.split()[0]}")
    print_table(rows + pcsc_rows)
    for note in notes:
        print(f"- {note}")
    pin = next(r for r in rows if r.task.startswith("PIN path"))
    pin_pcsc = next((r for r in pcsc_rows if r.task.startswith("PIN path") and r.transport == "pcscd+vpcd"), None)
    print(
        f"- targets: PIN path ≤ 14 APDUs: {pin.apdus} ({'ok' if pin.apdus <= 14 else 'MISSED'}); "
        f"≤ 50 ms over SimTransport: {pin.median_ms:.1f} ms ({'ok' if pin.median_ms <= 50 else 'MISSED'})"
        + (
            f"; ≤ 300 ms over pcscd+vpcd: {pin_pcsc.median_ms:.1f} ms ({'ok' if pin_pcsc.median_ms <= 300 else 'MISSED'})"
            if pin_pcsc
            else ""
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
