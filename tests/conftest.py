"""Shared fixtures: one simulated world per test session, and the card transports under test.

`card_on_reader` is parametrized over the transports the same card tests must pass on:
in-process (`sim`) and, where pcscd can run, a real pcscd with the card served through vpcd.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from reader.card import MynaCard
from reader.trace import TracingTransport
from sim.card import SimTransport, VirtualCard
from sim.world import SimWorld
from tests.journal_backends import journal_backend  # noqa: F401  (fixtures)
from tests.pcsc_stack import pcsc_reader, pcsc_stack  # noqa: F401  (fixtures)
from tests.pg_cluster import pg_cluster, pg_database  # noqa: F401  (fixtures)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--reader", default=None, help="run tests/hardware against this physical PC/SC reader")
    parser.addoption("--camera", default=None, help="run tests/hardware against this camera index or path")


def key_cache() -> Path:
    cache = Path(os.environ.get("MADOGUCHI_TEST_KEY_CACHE", Path.home() / ".cache" / "madoguchi" / "test-keys"))
    cache.mkdir(parents=True, exist_ok=True)
    return cache


def new_sim_dir(directory: Path) -> Path:
    """A fresh simulated world in `directory` that reuses the cached simulated keys.

    Keys are costly to make (RSA-2048): they are shared through a cache dir, while each world keeps
    its own card counters, journal and facility.
    """
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "keys").symlink_to(key_cache(), target_is_directory=True)
    return directory


@pytest.fixture
def sim_base(tmp_path: Path) -> Path:
    return new_sim_dir(tmp_path / "sim")


@pytest.fixture(scope="session")
def sim_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    directory = new_sim_dir(tmp_path_factory.mktemp("sim"))
    old = os.environ.get("MADOGUCHI_SIM_DIR")
    os.environ["MADOGUCHI_SIM_DIR"] = str(directory)
    yield directory
    if old is None:
        os.environ.pop("MADOGUCHI_SIM_DIR", None)
    else:
        os.environ["MADOGUCHI_SIM_DIR"] = old


@pytest.fixture(scope="session")
def world(sim_dir: Path) -> SimWorld:
    return SimWorld(sim_dir)


@pytest.fixture
def fresh_card(world: SimWorld) -> Callable[[str], VirtualCard]:
    """A card with the fixture's own counters (earlier tests' wrong PINs forgotten)."""

    def make(name: str) -> VirtualCard:
        world.reset_card(name)
        return world.card(name)

    return make


CardOnReader = Callable[[VirtualCard], tuple[MynaCard, TracingTransport]]


def _sim_reader(card: VirtualCard) -> tuple[MynaCard, TracingTransport]:
    transport = TracingTransport(SimTransport(card))
    transport.connect()
    return MynaCard(transport), transport


TRANSPORTS: dict[str, Callable[..., CardOnReader]] = {
    "sim": lambda request: _sim_reader,
    # the real pcscd with the card served through vpcd (tests/pcsc_stack.py)
    "pcsc": lambda request: request.getfixturevalue("pcsc_reader"),
}


@pytest.fixture(params=[pytest.param(n, marks=pytest.mark.pcsc) if n == "pcsc" else n for n in sorted(TRANSPORTS)])
def card_on_reader(request: pytest.FixtureRequest) -> CardOnReader:
    """Place a virtual card on a reader and get the card protocol over it, traced."""
    return TRANSPORTS[request.param](request)


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    """Print the fault matrix's and the hostile cases' size and pass count (issue: prove it under faults)."""
    for marker, label in (("test_fault_matrix.py::", "fault matrix"), ("test_hostile.py::", "hostile cases")):
        outcomes: dict[str, str] = {}
        for key in ("passed", "failed", "skipped", "error"):
            for report in terminalreporter.stats.get(key, []):
                nodeid = getattr(report, "nodeid", "")
                if marker in nodeid and (report.when == "call" or report.outcome != "passed"):
                    outcomes[nodeid] = report.outcome
        if outcomes:
            counts = {k: sum(1 for v in outcomes.values() if v == k) for k in ("passed", "failed", "skipped")}
            terminalreporter.write_sep(
                "-", f"{label}: {len(outcomes)} cases, {counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped"
            )
