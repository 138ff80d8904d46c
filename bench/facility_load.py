"""Facility load benchmark (#18 part 4): N desks × M whole confirmations against one PostgreSQL
journal, beside the same M on one desk's SQLite journal.

    .venv/bin/python bench/facility_load.py [--desks 1,2,4] [--confirmations 200] [--no-restart]

Each desk is a process of its own running the real desk code: a training desk (desk/wiring.py)
whose facility config names the facility database, the virtual card over SimTransport, the
simulated central system, PIN confirmations (card read, VERIFY + signature, consent, central
query, journal op, result files). The desks start together (a barrier) and confirm back to back.
Afterwards the records are counted in the database: every confirmation a desk answered has its
result files in that desk's folder, and its row in the journal once — "lost" is a result file
with no row, "duplicated" a row more than once.

Printed per run: throughput (confirmations/s over the wall time from the start to the last desk's
end), median and p99 confirmation time (card placed → outcome recorded), and the desks' own CPU
time per confirmation, and the database server's (its processes' CPU over the run, from /proc):
on a machine whose cores others share, the wall-clock figures follow the load and these do not. A last run stops the
database server mid-run and starts it again: the records wait in each desk's outbox and are
written once it answers (0 lost, 0 duplicated), with how many went that way.

The PostgreSQL cluster is a throwaway one (bench/pg_cluster.py): initdb in a temporary folder,
fsync off, 127.0.0.1 — the figures are the desk's software and the server's work, not a disk's.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import secrets
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from bench.pg_cluster import PgCluster, PgUnavailable, throwaway_cluster  # noqa: E402

__all__ = ["DeskRun", "LoadResult", "make_keys", "run_load"]

CARD = "adult"
PIN = "1234"
START_TIMEOUT_S = 120.0


@dataclass
class DeskRun:
    """What one desk process did."""

    desk: int
    durations_ms: list[float] = field(default_factory=list)
    stems: list[str] = field(default_factory=list)  # the result files it wrote: one per confirmation
    not_valid: int = 0  # confirmations that did not end 有効 (none expected)
    via_outbox: int = 0  # records that waited in the outbox before reaching the journal
    not_recorded: int = 0  # records kept nowhere (none expected)
    outbox_left: int = 0  # still waiting when the desk gave up flushing (none expected)
    cpu_s: float = 0.0  # the desk process's own CPU time over its confirmations
    started: float = 0.0  # time.monotonic(): one clock for every process of the machine
    ended: float = 0.0
    error: str | None = None


@dataclass
class LoadResult:
    backend: str
    desks: int
    confirmations: int  # per desk
    runs: list[DeskRun]
    rows: Counter[str]  # result_stem → rows in the journal
    server_cpu_s: float | None = None  # the database server's CPU time over the run (PostgreSQL)

    @property
    def expected(self) -> int:
        return self.desks * self.confirmations

    @property
    def answered(self) -> set[str]:
        return {stem for run in self.runs for stem in run.stems}

    @property
    def found(self) -> int:
        return sum(self.rows.values())

    @property
    def lost(self) -> int:
        return len(self.answered - set(self.rows)) + (self.expected - len(self.answered))

    @property
    def duplicated(self) -> int:
        return sum(n - 1 for n in self.rows.values() if n > 1)

    @property
    def wall_s(self) -> float:
        return max(r.ended for r in self.runs) - min(r.started for r in self.runs)

    @property
    def throughput(self) -> float:
        return self.expected / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def durations_ms(self) -> list[float]:
        return sorted(d for r in self.runs for d in r.durations_ms)

    def percentile(self, p: float) -> float:
        values = self.durations_ms
        if not values:
            return 0.0
        return values[min(len(values) - 1, max(0, round(p / 100 * len(values) + 0.5) - 1))]

    @property
    def cpu_ms_per_confirmation(self) -> float:
        """The desks' own CPU per confirmation (the server's not included): what the machine must
        give each confirmation whatever else runs on it."""
        return sum(r.cpu_s for r in self.runs) * 1000 / self.expected if self.expected else 0.0

    @property
    def errors(self) -> list[str]:
        return [f"desk {r.desk}: {r.error}" for r in self.runs if r.error]


# -- one desk, in its own process --------------------------------------------------------------------


def _desk_process(sim_dir: str, desk: int, confirmations: int, barrier: Barrier, out: Any) -> None:
    logging.disable(logging.WARNING)  # each record kept in the outbox is logged: the table says how many
    run = DeskRun(desk)
    try:
        _confirm_back_to_back(Path(sim_dir), confirmations, barrier, run)
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which prints it
        run.error = f"{type(exc).__name__}: {exc}"
        barrier.abort()  # the others must not wait for a desk that will never come
    out.put(run)


def _confirm_back_to_back(sim_dir: Path, confirmations: int, barrier: Barrier, run: DeskRun) -> None:
    from desk.models import AuthMethod
    from desk.wiring import training_desk

    session, training = training_desk(None, base_dir=sim_dir, camera=None)
    card = training.world.card(CARD)  # one patient's card, placed again and again
    try:
        barrier.wait(START_TIMEOUT_S)
        run.started = time.monotonic()
        cpu = time.process_time()
        for _ in range(confirmations):
            t0 = time.perf_counter()
            training.transport.insert(card)  # the reader reports it and the session reads the card
            outcome = session.confirm_unattended(AuthMethod.PIN, pin=PIN)
            run.durations_ms.append((time.perf_counter() - t0) * 1000)
            place = session.log.record_place
            run.not_valid += outcome.code != 1
            run.via_outbox += place == "outbox"
            run.not_recorded += place == "none"
            training.remove()
            session.next_patient()
        run.ended = time.monotonic()
        run.cpu_s = time.process_time() - cpu
        run.outbox_left = _flush(session)
    finally:
        session.ports.journal.close()
    res_dir = session.ports.facility.res_dir
    run.stems = sorted(p.stem for p in res_dir.glob("*.xml"))


def _flush(session: Any, timeout_s: float = 60.0) -> int:
    """Write what waits in the outbox (a server that was restarted takes a moment to answer)."""
    deadline = time.monotonic() + timeout_s
    while not session.recorder.flush() and time.monotonic() < deadline:
        time.sleep(0.2)
    return int(session.recorder.waiting)


# -- the facility ------------------------------------------------------------------------------------


def make_keys(base: Path) -> Path:
    """The simulated CA's and the card's RSA keys, made once and shared by every desk's world."""
    from sim.world import SimWorld

    world = SimWorld(base / "keys-world")
    world.card(CARD)  # makes the CA and the card's keys
    return world.directory / "keys"


def _ensure_card_keys(sim_dir: Path) -> None:
    from sim.world import SimWorld

    SimWorld(sim_dir).card(CARD)


def _desk_world(base: Path, desk: int, keys: Path, settings: Any | None) -> Path:
    """A desk's own simulated world (its card state, key, result folder, outbox), its facility
    config naming the facility database when there is one."""
    from desk.facility import save_config
    from desk.wiring import _training_facility, training_config_path

    sim_dir = base / f"desk-{desk}"
    sim_dir.mkdir(parents=True, mode=0o700)
    (sim_dir / "keys").symlink_to(keys, target_is_directory=True)
    facility = _training_facility(sim_dir)  # the training desk's config, as a desk makes it
    if settings is not None:
        journal = settings.model_copy(update={"desk_dir": sim_dir / "desk"})
        save_config(facility.model_copy(update={"journal": journal}), training_config_path(sim_dir))
    return sim_dir


def run_load(
    base: Path, desks: int, confirmations: int, *, keys: Path, settings: Any | None = None,
    during: Callable[[], None] | None = None, count: Callable[[], Counter[str]] | None = None,
) -> LoadResult:
    """`desks` processes each making `confirmations` PIN confirmations, on the database `settings`
    names (PostgresSettings) or, without, each on its own SQLite journal. `during` runs in this
    process once the desks have started (e.g. restart the server); `count` gives the journal's
    rows per result stem (default: the SQLite journals')."""
    worlds = [_desk_world(base, d, keys, settings) for d in range(desks)]
    _ensure_card_keys(worlds[0])  # made here once, not by desks racing each other to make them
    ctx = multiprocessing.get_context("spawn")  # a clean process per desk: no inherited connection
    barrier = ctx.Barrier(desks + 1)
    out = ctx.Queue()
    processes = [
        ctx.Process(target=_desk_process, args=(str(world), d, confirmations, barrier, out), daemon=True)
        for d, world in enumerate(worlds)
    ]
    for process in processes:
        process.start()
    runs: list[DeskRun] = []
    try:
        barrier.wait(START_TIMEOUT_S)
        if during is not None:
            during()
    except Exception:  # noqa: BLE001 - a desk failed to start: its run says why
        pass
    while len(runs) < desks:
        try:
            runs.append(out.get(timeout=START_TIMEOUT_S + 60))
        except Exception:  # noqa: BLE001 - a desk process died without a word
            break
    for process in processes:
        process.join(10)
    for d in range(desks):
        if all(r.desk != d for r in runs):
            runs.append(DeskRun(d, error="the desk process ended without reporting"))
    rows = count() if count is not None else _sqlite_rows(worlds)
    return LoadResult("PostgreSQL" if settings is not None else "SQLite", desks, confirmations, sorted(runs, key=lambda r: r.desk), rows)


def _sqlite_rows(worlds: list[Path]) -> Counter[str]:
    rows: Counter[str] = Counter()
    for world in worlds:
        with sqlite3.connect(world / "journal.sqlite3") as conn:
            rows.update(stem for (stem,) in conn.execute("SELECT result_stem FROM confirmations WHERE result_stem IS NOT NULL"))
    return rows


def postgres_rows(cluster: PgCluster, dbname: str) -> Callable[[], Counter[str]]:
    def count() -> Counter[str]:
        with cluster.admin(dbname) as conn:
            return Counter(stem for (stem,) in conn.execute("SELECT result_stem FROM confirmations WHERE result_stem IS NOT NULL"))

    return count


def run_on_postgres(
    cluster: PgCluster, base: Path, desks: int, confirmations: int, *, keys: Path,
    during: Callable[[], None] | None = None,
) -> LoadResult:
    """One run on a fresh database of `cluster`."""
    dbname = f"load_{secrets.token_hex(4)}"
    cluster.create_database(dbname)
    folder = base / dbname
    folder.mkdir(mode=0o700)
    settings = cluster.settings(dbname, password_file=cluster.password_file(folder))
    cpu = cluster.server_cpu_s()
    try:
        result = run_load(folder, desks, confirmations, keys=keys, settings=settings, during=during,
                          count=postgres_rows(cluster, dbname))
        if not during:  # a restart starts a new server: its CPU is not comparable
            result.server_cpu_s = cluster.server_cpu_s() - cpu
        return result
    finally:
        cluster.drop_database(dbname)


def restart_midway(cluster: PgCluster, after_s: float, down_s: float) -> Callable[[], None]:
    def restart() -> None:
        time.sleep(after_s)
        cluster.stop("fast")
        time.sleep(down_s)
        cluster.start()

    return restart


# -- the report --------------------------------------------------------------------------------------


def _line(result: LoadResult, label: str = "") -> str:
    outbox = sum(r.via_outbox for r in result.runs)
    server = f"{result.server_cpu_s * 1000 / result.expected:>7.1f}" if result.server_cpu_s else f"{'—':>7}"
    extra = f", via the outbox {outbox}" if outbox else ""
    return (
        f"{result.backend:<10} {result.desks:>5} × {result.confirmations:<5} {result.throughput:>8.1f}/s "
        f"{statistics.median(result.durations_ms) if result.durations_ms else 0:>9.1f} {result.percentile(99):>9.1f} "
        f"{result.cpu_ms_per_confirmation:>7.1f} {server} {result.found:>6}/{result.expected:<6} {result.lost:>4} {result.duplicated:>4}{extra}{label}"
    )


def _check(result: LoadResult) -> list[str]:
    problems = list(result.errors)
    if result.lost or result.duplicated:
        problems.append(f"{result.backend} {result.desks} desks: {result.lost} lost, {result.duplicated} duplicated")
    for run in result.runs:
        if run.not_valid or run.not_recorded or run.outbox_left:
            problems.append(f"desk {run.desk}: {run.not_valid} not 有効, {run.not_recorded} not recorded, {run.outbox_left} left in the outbox")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--desks", default="1,2,4", help="desk counts to run, comma-separated (default 1,2,4)")
    parser.add_argument("--confirmations", type=int, default=200, help="confirmations per desk (default 200)")
    parser.add_argument("--no-restart", action="store_true", help="skip the run with the server restarted mid-run")
    args = parser.parse_args(argv)
    counts = [int(n) for n in args.desks.split(",") if n.strip()]
    m = args.confirmations
    header = f"{'journal':<10} {'desks':>5} × {'M':<5} {'throughput':>10} {'median ms':>9} {'p99 ms':>9} {'CPU ms':>7} {'server':>7} {'rows':>13} {'lost':>4} {'dup':>4}"
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="madoguchi-load-") as tmp:
        base = Path(tmp)
        keys = make_keys(base)
        print(f"whole PIN confirmations, SimTransport, each desk a process; {m} per desk; "
              f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} before (other work shares them)")
        print(header)
        sqlite_result = run_load(base / "sqlite", 1, m, keys=keys)
        print(_line(sqlite_result))
        problems += _check(sqlite_result)
        try:
            with throwaway_cluster() as cluster:
                for n in counts:
                    result = run_on_postgres(cluster, base, n, m, keys=keys)
                    print(_line(result))
                    problems += _check(result)
                if not args.no_restart:
                    n = max(2, min(counts))
                    # stopped about a third of the way in, for a second: the desks carry on through their outbox
                    guess_s = m * n / max(1.0, result.throughput) / 3
                    result = run_on_postgres(cluster, base, n, m, keys=keys, during=restart_midway(cluster, guess_s, 1.0))
                    print(_line(result, "  (server stopped mid-run for 1 s)"))
                    problems += _check(result)
        except PgUnavailable as exc:
            print(f"PostgreSQL skipped: {exc}")
    print(f"load average {os.getloadavg()[0]:.1f} after; the PostgreSQL cluster runs with fsync off, "
          "the SQLite journal syncs every write")
    for problem in problems:
        print(f"PROBLEM: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
