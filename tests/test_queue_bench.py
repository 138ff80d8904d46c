"""The morning-queue model behind bench/morning_queue.py: hand-computed waits, the queue's length, and that
more readers never make anyone wait longer on the same morning. No wall-clock time is asserted."""

from __future__ import annotations

import random

import pytest

from bench.morning_model import (
    ARRIVAL_PROFILES,
    MIXES,
    PATHS,
    Patient,
    arrival_times,
    busiest_hour,
    make_day,
    percentile,
    service_time,
    simulate,
    summarise,
)

SOFTWARE_MS = {"face": 255.0, "pin": 9.0, "visual": 66.0}


def _fixed(arrivals: list[float], service: float) -> list[Patient]:
    return [Patient(a, "pin", service) for a in arrivals]


def test_one_reader_fixed_arrivals_and_service_give_the_hand_computed_waits():
    # arrivals 0, 10, 20 s, 30 s each: starts 0, 30, 60 → waits 0, 20, 40; ends 30, 60, 90
    day = simulate(_fixed([0, 10, 20], 30), readers=1)
    assert [s.wait for s in day.served] == [0, 20, 40]
    assert [s.end for s in day.served] == [30, 60, 90]
    assert day.busy == (90,)
    assert day.max_queue == 2  # at 20 s: the 2nd and 3rd wait while the 1st is at the reader


def test_two_readers_fixed_case():
    # the 3rd (at 20 s) waits for the first reader to be free at 30 s
    day = simulate(_fixed([0, 10, 20], 30), readers=2)
    assert [s.wait for s in day.served] == [0, 0, 10]
    assert sorted({s.reader for s in day.served}) == [0, 1]
    assert day.max_queue == 1


def test_a_patient_arriving_as_a_reader_frees_up_does_not_wait():
    day = simulate(_fixed([0, 30], 30), readers=1)
    assert [s.wait for s in day.served] == [0, 0]
    assert day.max_queue == 0


def test_arrivals_faster_than_service_make_the_wait_grow_with_one_reader():
    day = simulate(_fixed([10.0 * i for i in range(20)], 25), readers=1)
    waits = [s.wait for s in day.served]
    assert all(later > earlier for earlier, later in zip(waits, waits[1:], strict=False))
    assert waits[-1] == pytest.approx(19 * 15)  # each arrival adds 25 - 10 s
    assert day.max_queue > 5


def test_the_door_queue_at_opening():
    # five at the door at once, 40 s each, one reader: waits 0, 40, 80, 120, 160 and four in line
    day = simulate(_fixed([0, 0, 0, 0, 0], 40), readers=1)
    assert [s.wait for s in day.served] == [0, 40, 80, 120, 160]
    assert day.max_queue == 4


def test_patients_who_never_use_a_reader_neither_wait_nor_delay_others():
    patients = [Patient(0, "paper", 0, uses_reader=False), Patient(0, "pin", 30), Patient(5, "paper", 0, uses_reader=False)]
    day = simulate(patients, readers=1)
    assert day.others == 2
    assert [s.wait for s in day.served] == [0]


@pytest.mark.parametrize("seed", [1, 7, 2026])
def test_more_readers_never_make_anyone_wait_longer_on_the_same_morning(seed):
    rng = random.Random(seed)
    day = make_day(ARRIVAL_PROFILES["large"], MIXES["70"], SOFTWARE_MS, rng, paper_at_reader=True)
    one, two, three = (simulate(day, r) for r in (1, 2, 3))
    for fewer, more in ((one, two), (two, three)):
        assert all(m.wait <= f.wait + 1e-9 for f, m in zip(fewer.served, more.served, strict=True))
        assert summarise([more]).wait_median <= summarise([fewer]).wait_median
        assert more.max_queue <= fewer.max_queue
    assert summarise([one]).wait_p90 > 0  # a crowded morning with one reader does queue


def test_the_same_seed_gives_the_same_morning_and_another_seed_another():
    def morning(seed: int) -> list[Patient]:
        return make_day(ARRIVAL_PROFILES["medium"], MIXES["2026"], SOFTWARE_MS, random.Random(seed))

    assert morning(3) == morning(3)
    assert morning(3) != morning(4)


@pytest.mark.parametrize("name", sorted(ARRIVAL_PROFILES))
def test_a_profile_gives_exactly_its_patients_within_the_morning(name):
    profile = ARRIVAL_PROFILES[name]
    times = arrival_times(profile, random.Random(11))
    assert len(times) == profile.patients
    assert times == sorted(times)
    assert 0 <= times[0] and times[-1] < profile.minutes * 60
    assert times[: profile.at_door][0] == 0  # the door queue comes in from opening


def test_mixes_cover_every_path_and_add_up():
    for mix in MIXES.values():
        assert set(mix) == set(PATHS)
        assert sum(mix.values()) == pytest.approx(1.0)


def test_service_times_are_human_scale_and_include_the_software_time():
    rng = random.Random(5)
    for path in PATHS:
        times = [service_time(path, rng, SOFTWARE_MS) for _ in range(500)]
        assert 10 < min(times) and max(times) < 400, path
    # the software time is added, not drawn: same draws, +1 s software → +1 s
    base = service_time("pin", random.Random(9), {"pin": 0.0})
    assert service_time("pin", random.Random(9), {"pin": 1000.0}) == pytest.approx(base + 1)


def test_percentile_and_busiest_hour():
    assert percentile([], 90) == 0
    assert percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90) == pytest.approx(9.1)
    assert percentile([4.0], 50) == 4.0
    # 5 patients of 1000 s each back to back: ends 1000 … 5000; 4 of them end within an hour
    assert busiest_hour(simulate(_fixed([0, 0, 0, 0, 0], 1000), readers=1)) == 4
