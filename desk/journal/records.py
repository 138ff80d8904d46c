"""What the journal keeps, whatever holds it: the records, the errors, and the rules every back end
applies the same way (the secret-key check of outage payloads, the 目視 lockout's clock, the
history's order). No database is imported here.

Never stored: the PIN, the facility's 目視 password, the My Number. A card is identified only by the
SHA-256 fingerprint of its user-auth certificate (which carries no name or number).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from enum import Enum
from typing import Any

from pydantic import Field, model_validator

from desk.models import STAFF_ID_MAX, AuthMethod, Channel, Device, FacilityType, FailureName, Model, Validity
from reader.staff_facing import StaffFacingError

__all__ = [
    "MONTH_COUNTS_SELECT",
    "month_counts_from",
    "confirmation_from_row",
    "outage_from_row",
    "device_of_payload",
    "JST",
    "SMARTPHONE_COUNT",
    "VISUAL_LOCK_THRESHOLD",
    "VISUAL_LOCK_DURATION",
    "JournalConflict",
    "JournalDamaged",
    "JournalError",
    "JournalUnavailable",
    "ConfirmationRecord",
    "OutageItem",
    "OutageStatus",
    "FaceAuthState",
    "VisualLockState",
    "HistoryKind",
    "HistoryItem",
    "check_payload",
    "payload_json",
    "to_jst",
    "visual_state",
    "history",
]

JST = dt.timezone(dt.timedelta(hours=9), "JST")
# month_counts' key for the マイナ保険証 confirmations made through a phone (a part of "myna")
SMARTPHONE_COUNT = "smartphone"
VISUAL_LOCK_THRESHOLD = 5
VISUAL_LOCK_DURATION = dt.timedelta(minutes=5)

# Keys an outage payload must never carry (compared after lower-casing and dropping "_" and "-").
_FORBIDDEN_PAYLOAD_KEYS = frozenset(
    {"pin", "pincode", "password", "passwd", "visualpassword", "mynumber", "individualnumber", "kojinbango"}
)


class JournalError(StaffFacingError):
    """The journal could not be opened, read or written. Nothing was half-written."""

    title = "受付記録のエラー"


class JournalUnavailable(JournalError):
    """The journal cannot be reached now (locked, read-only, its server down): a write waits in
    the outbox and is applied once it is back."""

    title = "受付記録を保存できません"


class JournalConflict(JournalError):
    """A write the journal refuses for good, whatever its state (a re-run already recorded, a
    constraint): retrying cannot help, so it must not block the writes behind it."""

    title = "受付記録に入らない記録です"


class JournalDamaged(JournalError):
    """The journal is damaged or unexpectedly empty: the desk stops rather than paper over it."""

    title = "受付記録が壊れています"


class ConfirmationRecord(Model):
    """One confirmation attempt as journalled. Exactly one of `validity` and `failure` is set."""

    id: int | None = None
    at: dt.datetime
    channel: Channel
    method: AuthMethod
    validity: Validity | None = None
    failure: FailureName | None = None
    facility_type: FacilityType
    cert_fingerprint: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    staff_id: str | None = Field(default=None, max_length=STAFF_ID_MAX)
    rerun_of: int | None = None  # the outage queue item this confirmation re-ran
    demo: bool = False  # a real card answered by the simulated central system: not a confirmation
    result_stem: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,120}$")  # its files in res/
    # what was held over the reader: a phone's confirmation counts as マイナ保険証 usage (channel myna)
    device: Device = Device.CARD

    @model_validator(mode="after")
    def _one_outcome(self) -> ConfirmationRecord:
        if (self.validity is None) == (self.failure is None):
            raise ValueError("exactly one of validity and failure must be set")
        return self

    @property
    def outcome_label(self) -> str:
        return self.validity.label if self.validity is not None else self.failure.label  # type: ignore[union-attr]


class OutageStatus(str, Enum):
    PENDING = "pending"
    DONE = "done"


class OutageItem(Model):
    """A confirmation that could not reach the central system, waiting to be re-run."""

    id: int
    enqueued_at: dt.datetime
    channel: Channel  # the channel to re-run with (myna or numbers)
    method: AuthMethod
    facility_type: FacilityType
    cert_fingerprint: str | None = None
    payload: dict[str, Any] = Field(default_factory=dict)
    status: OutageStatus
    done_at: dt.datetime | None = None
    result_confirmation_id: int | None = None
    result_validity: Validity | None = None
    result_failure: FailureName | None = None


class FaceAuthState(Model):
    cert_fingerprint: str
    consecutive_failures: int
    locked: bool


class VisualLockState(Model):
    facility_code: str
    consecutive_failures: int
    locked_until: dt.datetime | None
    locked: bool

    @property
    def tries_left(self) -> int:
        return 0 if self.locked else max(0, VISUAL_LOCK_THRESHOLD - self.consecutive_failures)


class HistoryKind(str, Enum):
    CONFIRMATION = "confirmation"
    VISUAL_USE = "visual_use"
    OUTAGE = "outage"

    @property
    def label(self) -> str:
        return {"confirmation": "資格確認", "visual_use": "目視確認", "outage": "障害時の再照会"}[self.value]


class HistoryItem(Model):
    kind: HistoryKind
    id: int
    at: dt.datetime
    summary: str
    details: dict[str, Any] = Field(default_factory=dict)


def to_jst(at: dt.datetime | None) -> dt.datetime:
    if at is None:
        return dt.datetime.now(JST)
    if at.tzinfo is None:
        return at.replace(tzinfo=JST)  # the desk runs on Japan time
    return at.astimezone(JST)


def check_payload(payload: Any, where: str = "payload") -> None:
    if isinstance(payload, dict):
        for key, value in payload.items():
            norm = str(key).lower().replace("_", "").replace("-", "")
            if norm in _FORBIDDEN_PAYLOAD_KEYS:
                raise JournalError(
                    f"再照会の情報に保存できない項目（{key}）があります。暗証番号・パスワード・マイナンバーは記録しません。",
                    "記録できない情報です",
                )
            check_payload(value, f"{where}.{key}")
    elif isinstance(payload, list):
        for item in payload:
            check_payload(item, where)


# The per-month tally both back ends run (their placeholders and booleans differ): answered
# confirmations per channel, and of the マイナ保険証 ones those through a phone.
MONTH_COUNTS_SELECT = (
    "SELECT channel, COUNT(*) AS n, SUM(CASE WHEN device <> 'card' THEN 1 ELSE 0 END) AS phones"
    " FROM confirmations WHERE month = {param} AND validity IS NOT NULL AND {not_demo} GROUP BY channel"
)


def month_counts_from(rows: Iterable[Any]) -> dict[str, int]:
    """{"myna": …, "numbers": …, "outage": 0, "smartphone": …} from MONTH_COUNTS_SELECT's rows."""
    counts = {c.value: 0 for c in Channel}
    counts[SMARTPHONE_COUNT] = 0
    for row in rows:
        counts[row["channel"]] = int(row["n"])
        if row["channel"] == Channel.MYNA.value:
            counts[SMARTPHONE_COUNT] = int(row["phones"] or 0)
    return counts


def confirmation_from_row(row: Any, at: dt.datetime) -> ConfirmationRecord:
    """A `confirmations` row of either back end; `at` already read as the back end stores time."""
    return ConfirmationRecord(
        id=row["id"], at=at, channel=Channel(row["channel"]), method=AuthMethod(row["method"]),
        validity=Validity(row["validity"]) if row["validity"] is not None else None,
        failure=FailureName(row["failure"]) if row["failure"] is not None else None,
        facility_type=FacilityType(row["facility_type"]), cert_fingerprint=row["cert_fingerprint"],
        staff_id=row["staff_id"], rerun_of=row["rerun_of"], demo=bool(row["demo"]), result_stem=row["result_stem"],
        device=Device(row["device"]),
    )


def outage_from_row(row: Any, enqueued_at: dt.datetime, done_at: dt.datetime | None) -> OutageItem:
    """An `outage_queue` row joined with its re-run's outcome (validity, failure), of either back end."""
    return OutageItem(
        id=row["id"], enqueued_at=enqueued_at, channel=Channel(row["channel"]), method=AuthMethod(row["method"]),
        facility_type=FacilityType(row["facility_type"]), cert_fingerprint=row["cert_fingerprint"],
        payload=json.loads(row["payload"]), status=OutageStatus(row["status"]), done_at=done_at,
        result_confirmation_id=row["result_confirmation_id"],
        result_validity=Validity(row["validity"]) if row["validity"] is not None else None,
        result_failure=FailureName(row["failure"]) if row["failure"] is not None else None,
    )


def _device_note(device: Device) -> str:
    return f"（{device.label}）" if device.is_phone else ""


def device_of_payload(payload: str) -> Device:
    """The device a queued card confirmation was made with (desk/confirmation_log.py puts it in the
    payload); a card for older items and numbers queries."""
    try:
        value = json.loads(payload).get("device", Device.CARD.value)
        return Device(value)
    except (ValueError, AttributeError):
        return Device.CARD


def payload_json(channel: Channel, payload: dict[str, Any] | None) -> str:
    """An outage payload checked and as stored: a real channel, no secret keys, JSON."""
    if channel is Channel.OUTAGE:
        raise JournalError("再照会する経路（マイナ保険証か被保険者番号等）を指定してください。", "再照会の経路が不正です")
    payload = payload or {}
    check_payload(payload)
    try:
        return json.dumps(payload, ensure_ascii=False, sort_keys=True, default=str)
    except (TypeError, ValueError) as exc:
        raise JournalError(f"再照会の情報を保存できる形にできません：{exc}", "記録できない情報です") from exc


def visual_state(
    facility_code: str, consecutive: int | None, locked_until: dt.datetime | None, now: dt.datetime
) -> VisualLockState:
    """The 目視 lockout as stored (`consecutive` None: no row), read at `now`."""
    if consecutive is None or (locked_until is not None and now >= locked_until):
        # no failures, or the lock has run out: the facility starts again with five tries
        return VisualLockState(facility_code=facility_code, consecutive_failures=0, locked_until=None, locked=False)
    return VisualLockState(
        facility_code=facility_code, consecutive_failures=consecutive, locked_until=locked_until,
        locked=locked_until is not None,
    )


def history(
    confirmations: Iterable[ConfirmationRecord],
    visual_uses: Iterable[dict[str, Any]],
    outages: Iterable[OutageItem],
    limit: int,
) -> list[HistoryItem]:
    """The screen's history from what a back end read (each newest first, at most `limit`):
    merged, newest first. `visual_uses` rows carry id, at, staff_id, cert_fingerprint, confirmation_id."""
    items: list[HistoryItem] = []
    for rec in confirmations:
        items.append(HistoryItem(
            kind=HistoryKind.CONFIRMATION, id=rec.id or 0, at=rec.at,
            summary=f"{rec.channel.label}{_device_note(rec.device)}・{rec.method.label}：{rec.outcome_label}"
            + ("（再照会）" if rec.rerun_of is not None else ""),
            details=rec.model_dump(mode="json", exclude={"id", "at"}),
        ))
    for row in visual_uses:
        items.append(HistoryItem(
            kind=HistoryKind.VISUAL_USE, id=row["id"], at=row["at"], summary=f"目視確認（職員ID {row['staff_id']}）",
            details={k: row[k] for k in ("staff_id", "cert_fingerprint", "confirmation_id")},
        ))
    for item in outages:
        if item.status is OutageStatus.PENDING:
            summary = f"障害時の確認：再照会待ち（{item.channel.label}）"
        else:
            result = item.result_validity or item.result_failure
            summary = f"障害時の確認：再照会済み（{result.label if result else '不明'}）"
        items.append(HistoryItem(
            kind=HistoryKind.OUTAGE, id=item.id, at=item.enqueued_at, summary=summary,
            details=item.model_dump(mode="json", exclude={"id", "enqueued_at", "payload"}),
        ))
    items.sort(key=lambda i: (i.at, i.kind.value, i.id), reverse=True)
    return items[:limit]
