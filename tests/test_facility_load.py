"""The facility load benchmark (bench/facility_load.py) in small: desks as processes, every
confirmation in the journal once — none lost, none twice. No wall-clock time is asserted."""

from __future__ import annotations

import pytest

from bench.facility_load import run_load, run_on_postgres
from tests.conftest import key_cache


def _assert_complete(result, desks: int, confirmations: int) -> None:
    assert result.errors == []
    assert len(result.runs) == desks and all(len(r.durations_ms) == confirmations for r in result.runs)
    assert len(result.answered) == desks * confirmations  # one result file per confirmation
    assert result.found == desks * confirmations and result.lost == 0 and result.duplicated == 0
    assert all(r.not_valid == 0 and r.not_recorded == 0 and r.outbox_left == 0 for r in result.runs)


@pytest.mark.postgresql
def test_two_desks_on_one_database_lose_and_duplicate_nothing(pg_cluster, tmp_path):
    result = run_on_postgres(pg_cluster, tmp_path, 2, 3, keys=key_cache())
    assert result.backend == "PostgreSQL"
    _assert_complete(result, 2, 3)


def test_one_desk_on_sqlite_loses_and_duplicates_nothing(tmp_path):
    result = run_load(tmp_path, 1, 3, keys=key_cache())
    assert result.backend == "SQLite"
    _assert_complete(result, 1, 3)


@pytest.mark.postgresql
def test_a_server_restarted_mid_run_loses_and_duplicates_nothing(pg_cluster, tmp_path):
    from bench.facility_load import restart_midway

    # stopped soon after the desks start (in a trial run 23 of the 40 records waited in the
    # outboxes; whether the desks are done by then or not, nothing may be lost or doubled)
    result = run_on_postgres(pg_cluster, tmp_path, 2, 20, keys=key_cache(), during=restart_midway(pg_cluster, 0.2, 0.5))
    _assert_complete(result, 2, 20)
