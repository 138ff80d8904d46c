"""The throwaway PostgreSQL cluster (bench/pg_cluster.py) as pytest fixtures, for the journal's
PostgreSQL half: one cluster per test session, a fresh database per test.

Where it cannot run:
- as root or with CI set, the PostgreSQL tests FAIL with the reason (CI must run them, not skip);
- for a developer without the packages, they skip with the reason.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator

import pytest

from bench.pg_cluster import DESK_USER, PgCluster, PgUnavailable, throwaway_cluster
from tests.pcsc_stack import STRICT

__all__ = ["DESK_USER", "PgCluster", "pg_cluster", "pg_database"]


def _unavailable(reason: str) -> None:
    if STRICT:
        pytest.fail(f"PostgreSQL のテスト環境が使えません（root または CI では必須）: {reason}", pytrace=False)
    pytest.skip(f"PostgreSQL unavailable: {reason}")


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    cluster = throwaway_cluster()
    try:
        running = cluster.__enter__()
    except PgUnavailable as exc:
        _unavailable(str(exc))
    try:
        yield running
    finally:
        cluster.__exit__(None, None, None)


@pytest.fixture
def pg_database(pg_cluster: PgCluster) -> Iterator[str]:
    """A fresh, empty database for one test (owned by the desks' role), dropped after."""
    name = f"facility_{secrets.token_hex(6)}"
    pg_cluster.create_database(name)
    try:
        yield name
    finally:
        with contextlib.suppress(Exception):
            pg_cluster.drop_database(name)
