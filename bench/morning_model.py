"""The morning queue at the face-auth readers: a small discrete-event model (pure Python).

`bench/morning_queue.py` runs it; `tests/test_queue_bench.py` checks it. Every figure below is either
from a source or an assumption, and `docs/queue.md` says which. Times are seconds from the moment
the clinic opens its doors.

A patient with a マイナ保険証 (or a smartphone) waits FIFO for the first free reader and holds it
from placing the card until taking it back; the receptionist's work that follows (the result
already on the desk's screen) is not the reader's. A patient with a 資格確認書 or an old 保険証 hands
it over at the counter and never queues for a reader — unless `paper_at_reader` says the counter
and the reader are one place (a small clinic where the one receptionist sits at the reader).
"""

from __future__ import annotations

import heapq
import math
import random
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

__all__ = [
    "ARRIVAL_PROFILES",
    "MIXES",
    "PATHS",
    "STEPS",
    "ArrivalProfile",
    "DayResult",
    "Patient",
    "Served",
    "Step",
    "Summary",
    "busiest_hour",
    "make_day",
    "percentile",
    "service_time",
    "simulate",
    "summarise",
]

PATHS = ("face", "pin", "visual", "phone", "paper")
READER_PATHS = frozenset({"face", "pin", "visual", "phone"})
LABELS = {"face": "顔認証", "pin": "暗証番号", "visual": "目視確認", "phone": "スマートフォン", "paper": "資格確認書・保険証"}


@dataclass(frozen=True)
class Patient:
    arrival: float  # seconds after opening
    path: str  # one of PATHS
    service: float  # seconds holding a reader (0 for a patient who never uses one)
    uses_reader: bool = True


@dataclass(frozen=True)
class Served:
    patient: Patient
    start: float
    end: float
    reader: int

    @property
    def wait(self) -> float:
        return self.start - self.patient.arrival


@dataclass(frozen=True)
class DayResult:
    readers: int
    served: tuple[Served, ...]  # reader users, in arrival order
    others: int  # patients who never queued for a reader
    max_queue: int  # most patients waiting for a reader at once (not counting those at one)
    busy: tuple[float, ...]  # seconds each reader was in use

    @property
    def waits(self) -> list[float]:
        return [s.wait for s in self.served]

    @property
    def span(self) -> float:
        """From the first reader user's arrival to the last one leaving a reader (seconds)."""
        if not self.served:
            return 0.0
        return max(s.end for s in self.served) - min(s.patient.arrival for s in self.served)


def simulate(patients: Iterable[Patient], readers: int) -> DayResult:
    """FIFO for the first free reader. A patient's service time belongs to the patient (common random
    numbers): the same day with more readers differs only in who waits, so waits never grow."""
    if readers < 1:
        raise ValueError("at least one reader")
    ordered = sorted(patients, key=lambda p: p.arrival)  # stable: equal arrivals keep their order
    users = [p for p in ordered if p.uses_reader]
    free: list[tuple[float, int]] = [(0.0, i) for i in range(readers)]  # (free from, reader)
    heapq.heapify(free)
    busy = [0.0] * readers
    served: list[Served] = []
    for patient in users:
        free_from, reader = heapq.heappop(free)
        start = max(patient.arrival, free_from)
        end = start + patient.service
        busy[reader] += patient.service
        served.append(Served(patient, start, end, reader))
        heapq.heappush(free, (end, reader))
    return DayResult(readers, tuple(served), len(ordered) - len(users), _max_queue(served), tuple(busy))


def _max_queue(served: Sequence[Served]) -> int:
    """Most patients waiting at once: each waits over [arrival, start); a start at the very moment of
    another's arrival is counted first (that reader is no longer free to the newcomer anyway)."""
    events: list[tuple[float, int]] = []
    for s in served:
        if s.start > s.patient.arrival:
            events.append((s.patient.arrival, 1))
            events.append((s.start, -1))
    events.sort()  # at equal times -1 comes before +1
    depth = most = 0
    for _, delta in events:
        depth += delta
        most = max(most, depth)
    return most


# -- the morning ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ArrivalProfile:
    """Arrivals between opening and the last reception, as relative weights per 15-minute slot,
    plus the patients already waiting at the door when it opens."""

    name: str
    patients: int  # in the whole morning, door queue included
    at_door: int  # waiting outside at opening; they come in one after another
    weights: tuple[float, ...]  # one per 15 minutes from opening
    note: str = ""

    @property
    def minutes(self) -> int:
        return 15 * len(self.weights)


# 8:30 doors open (the desk confirms from then; consultations from 9:00), last reception 12:00.
# The shape (sources in docs/queue.md): a queue at the door, a busy first hour, a lull about
# 10:45-11:15 and a smaller rush of latecomers before reception closes.
_SHAPE = (
    # 8:30 8:45 9:00 9:15 | 9:30 9:45 10:00 10:15 | 10:30 10:45 11:00 11:15 | 11:30 11:45
    1.6, 1.5, 1.4, 1.2,
    1.1, 1.0, 0.9, 0.8,
    0.7, 0.5, 0.5, 0.8,
    0.9, 0.6,
)

ARRIVAL_PROFILES: dict[str, ArrivalProfile] = {
    "small": ArrivalProfile("small", 60, 8, _SHAPE, "a quiet 内科 morning (one doctor)"),
    "medium": ArrivalProfile("medium", 90, 14, _SHAPE, "a busy 内科 or 整形外科 morning (one doctor)"),
    "large": ArrivalProfile("large", 120, 20, _SHAPE, "a crowded morning (two doctors, or winter)"),
}

# Share of the morning's patients per path. Sources and reasoning in docs/queue.md.
MIXES: dict[str, dict[str, float]] = {
    # 医科診療所, Nov 2024 (seed 001): マイナ保険証 14,317,957 of 91,542,420 online confirmations = 15.6 %
    "2024": {"face": 0.125, "pin": 0.023, "visual": 0.008, "phone": 0.0, "paper": 0.844},
    # late 2026 assumption: a clinic at 45 % (half of the facilities below 40 % in late 2025, 保団連)
    "2026": {"face": 0.36, "pin": 0.07, "visual": 0.02, "phone": 0.01, "paper": 0.54},
    # a clinic at the 70 % the 2026-03 加算1 asked for
    "70": {"face": 0.56, "pin": 0.105, "visual": 0.025, "phone": 0.01, "paper": 0.30},
}


@dataclass(frozen=True)
class Step:
    """A human (or hardware) step with a triangular distribution in seconds: low, most likely, high."""

    name: str
    low: float
    mode: float
    high: float

    def draw(self, rng: random.Random) -> float:
        return rng.triangular(self.low, self.high, self.mode)


# The steps at the reader, per path. Sources and which are assumptions: docs/queue.md.
STEPS: dict[str, Step] = {
    "card_out": Step("カードを取り出す（財布・ケースから）", 3, 8, 40),
    "place": Step("カードを置く（ケースから出して・置き直し）", 2, 4, 12),
    "reader_read": Step("リーダーの読み取り（券面撮影・IC 読み取り）", 1, 2, 4),
    "choose": Step("方法を選ぶ", 1, 2, 6),
    "face_capture": Step("顔を枠に合わせて撮影・照合", 3, 5, 12),
    "face_retry": Step("顔認証やり直しの案内", 2, 3, 6),
    "pin_typing": Step("暗証番号4桁を入力", 4, 7, 15),
    "visual_staff": Step("職員が来て目視確認・目視用パスワード", 10, 20, 45),
    "phone": Step("スマホを選び・Face ID か暗証番号・スマホをかざす", 10, 20, 60),
    "consent": Step("同意の画面", 3, 6, 15),
    "central": Step("資格確認の応答待ち（実回線）", 1, 2, 5),
    "card_back": Step("カードを取って離れる", 2, 4, 10),
    "paper": Step("資格確認書を渡し・職員が番号で照会・返す", 20, 40, 90),
}

FACE_FAIL = 0.10  # chance a face attempt fails (assumption: masks, backlight, card in a sleeve)
FACE_ATTEMPTS = 3  # attempts before the patient gives up on face (assumption)
AFTER_FACE_TO_PIN = 0.6  # after giving up: PIN if remembered, else staff 目視 (assumption)
PIN_WRONG = 0.08  # chance the first PIN is wrong and typed again (assumption)
READY_IN_LINE = 0.5  # share who get their card out while queueing (assumption)


def service_time(path: str, rng: random.Random, software_ms: Mapping[str, float]) -> float:
    """Seconds one patient holds a reader on `path`: the human steps drawn here plus the desk's own
    software time (`software_ms`, per path, measured by bench/e2e.py or given)."""
    if path == "paper":
        return STEPS["paper"].draw(rng) + software_ms.get("paper", software_ms.get("pin", 0.0)) / 1000
    seconds = 0.0 if rng.random() < READY_IN_LINE else STEPS["card_out"].draw(rng)
    if path == "phone":
        seconds += STEPS["phone"].draw(rng) + STEPS["choose"].draw(rng)
        software = software_ms.get("phone", software_ms.get("pin", 0.0))
    else:
        seconds += STEPS["place"].draw(rng) + STEPS["reader_read"].draw(rng) + STEPS["choose"].draw(rng)
        software = software_ms.get(path, 0.0)
        if path == "face":
            attempts = 1
            seconds += STEPS["face_capture"].draw(rng)
            while rng.random() < FACE_FAIL:
                if attempts == FACE_ATTEMPTS:  # gives up on the face: PIN, or staff 目視
                    fallback = "pin" if rng.random() < AFTER_FACE_TO_PIN else "visual"
                    seconds += STEPS["choose"].draw(rng) + _auth(fallback, rng)
                    break
                attempts += 1
                seconds += STEPS["face_retry"].draw(rng) + STEPS["face_capture"].draw(rng)
            # each further match is the face path's software time over the PIN path's, once more
            extra = max(0.0, software_ms.get("face", 0.0) - software_ms.get("pin", 0.0))
            software += (attempts - 1) * extra
        else:
            seconds += _auth(path, rng)
    seconds += STEPS["consent"].draw(rng) + STEPS["central"].draw(rng) + STEPS["card_back"].draw(rng)
    return seconds + software / 1000


def _auth(path: str, rng: random.Random) -> float:
    if path == "pin":
        seconds = STEPS["pin_typing"].draw(rng)
        if rng.random() < PIN_WRONG:
            seconds += STEPS["pin_typing"].draw(rng)
        return seconds
    return STEPS["visual_staff"].draw(rng)


def arrival_times(profile: ArrivalProfile, rng: random.Random) -> list[float]:
    """Exactly `profile.patients` arrival times: the door queue one after another from opening
    (5-15 s apart), the rest drawn from the slot weights (uniform within a slot)."""
    times: list[float] = []
    t = 0.0
    for _ in range(min(profile.at_door, profile.patients)):
        times.append(t)
        t += rng.uniform(5, 15)
    total = sum(profile.weights)
    cumulative = []
    running = 0.0
    for w in profile.weights:
        running += w / total
        cumulative.append(running)
    for _ in range(profile.patients - len(times)):
        u = rng.random()
        slot = next((i for i, c in enumerate(cumulative) if u < c), len(cumulative) - 1)
        times.append(900.0 * slot + rng.uniform(0, 900.0))
    return sorted(times)


def make_day(
    profile: ArrivalProfile,
    mix: Mapping[str, float],
    software_ms: Mapping[str, float],
    rng: random.Random,
    *,
    paper_at_reader: bool = False,
) -> list[Patient]:
    """One morning's patients: arrival, path and the time each would hold a reader."""
    paths = [p for p in PATHS if mix.get(p, 0.0) > 0]
    weights = [mix[p] for p in paths]
    day = []
    for arrival in arrival_times(profile, rng):
        path = rng.choices(paths, weights)[0]
        uses = path in READER_PATHS or paper_at_reader
        day.append(Patient(arrival, path, service_time(path, rng, software_ms), uses))
    return day


# -- figures ---------------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), linear between the closest ranks; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    k = (len(ordered) - 1) * q / 100
    lo, hi = math.floor(k), math.ceil(k)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


@dataclass
class Summary:
    readers: int
    days: int
    patients: float  # per morning, all paths
    reader_patients: float  # per morning, those who used a reader
    wait_median: float
    wait_p90: float
    wait_max: float
    per_hour: float  # reader patients served per hour of the readers' working span
    utilisation: float  # busy share of the readers over that span
    max_queue: int  # the longest queue on any morning
    mean_service: float
    rush_median: float  # the wait of those who arrive in the first half hour (the door queue's)
    rush_p90: float
    peak_hour: float  # reader patients served in a morning's busiest hour (median over mornings)
    waits: list[float] = field(default_factory=list, repr=False)


RUSH = 1800.0  # the first half hour after opening


def busiest_hour(result: DayResult) -> int:
    """Most reader patients who finished within any 60 minutes of the morning."""
    ends = sorted(s.end for s in result.served)
    most, first = 0, 0
    for last, end in enumerate(ends):
        while end - ends[first] > 3600:
            first += 1
        most = max(most, last - first + 1)
    return most


def summarise(results: Sequence[DayResult]) -> Summary:
    """Pools the waits of every morning; the queue and the maximum are the worst morning's."""
    waits = [w for r in results for w in r.waits]
    rush = [s.wait for r in results for s in r.served if s.patient.arrival < RUSH]
    served = sum(len(r.served) for r in results)
    span = sum(r.span for r in results)
    busy = sum(sum(r.busy) for r in results)
    readers = results[0].readers
    return Summary(
        readers=readers,
        days=len(results),
        patients=sum(len(r.served) + r.others for r in results) / len(results),
        reader_patients=served / len(results),
        wait_median=statistics.median(waits) if waits else 0.0,
        wait_p90=percentile(waits, 90),
        wait_max=max(waits, default=0.0),
        per_hour=served / (span / 3600) if span else 0.0,
        utilisation=busy / (readers * span) if span else 0.0,
        max_queue=max(r.max_queue for r in results),
        mean_service=busy / served if served else 0.0,
        rush_median=statistics.median(rush) if rush else 0.0,
        rush_p90=percentile(rush, 90),
        peak_hour=statistics.median(busiest_hour(r) for r in results),
        waits=waits,
    )
