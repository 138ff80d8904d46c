"""Date rules for the card's user-auth certificate (利用者証明用電子証明書).

From 2024-12-02 an expired certificate still works as マイナ保険証 until the end of the 3rd month
after the month of expiry (expiry in February → usable to the end of May). The face-auth reader
shows a renewal alert once 3 months or less remain, and keeps showing it during the grace.
Sources: shared/research/eligibility-anchors.md §2, seed 000 (電子証明書の有効期限の状況に応じた…).

Pure functions on dates, shared by the simulated central system and the desk's rules. `not_after`
is always the certificate's last valid day in Japan time (AuthCertificate.expiry_date).
"""

from __future__ import annotations

import calendar
import datetime as dt
from enum import Enum

__all__ = [
    "GRACE_MONTHS",
    "RENEWAL_ALERT_MONTHS",
    "CertificateStatus",
    "add_months",
    "certificate_status",
    "grace_end",
    "renewal_alert_from",
]

GRACE_MONTHS = 3
RENEWAL_ALERT_MONTHS = 3


class CertificateStatus(str, Enum):
    VALID = "valid"  # more than 3 months left
    EXPIRING = "expiring"  # 3 months or less left: renewal alert
    GRACE = "grace"  # expired, still accepted until grace_end(): renewal alert
    BEYOND_GRACE = "beyond_grace"  # no longer accepted as マイナ保険証

    @property
    def usable(self) -> bool:
        return self is not CertificateStatus.BEYOND_GRACE

    @property
    def expired(self) -> bool:
        """Past its last valid day: in the grace a card has, or beyond it (a phone has none)."""
        return self in (CertificateStatus.GRACE, CertificateStatus.BEYOND_GRACE)

    @property
    def renewal_alert(self) -> bool:
        return self in (CertificateStatus.EXPIRING, CertificateStatus.GRACE)

    @property
    def label(self) -> str:
        return {
            "valid": "有効",
            "expiring": "有効（まもなく期限切れ）",
            "grace": "期限切れ（猶予期間中）",
            "beyond_grace": "期限切れ（猶予期間経過）",
        }[self.value]


def _last_day(year: int, month: int) -> dt.date:
    return dt.date(year, month, calendar.monthrange(year, month)[1])


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day-of-month `months` later (or earlier), clamped to the end of a shorter month."""
    index = day.year * 12 + (day.month - 1) + months
    year, month0 = divmod(index, 12)
    last = _last_day(year, month0 + 1)
    return last if day.day > last.day else last.replace(day=day.day)


def grace_end(not_after: dt.date) -> dt.date:
    """Last day an expired certificate is still accepted: end of the 3rd month after expiry's month."""
    first_of_month = not_after.replace(day=1)
    target = add_months(first_of_month, GRACE_MONTHS)
    return _last_day(target.year, target.month)


def renewal_alert_from(not_after: dt.date) -> dt.date:
    """First day of the renewal alert: 3 months before the last valid day (same day-of-month, clamped)."""
    return add_months(not_after, -RENEWAL_ALERT_MONTHS)


def certificate_status(not_after: dt.date, today: dt.date) -> CertificateStatus:
    if today > not_after:
        return CertificateStatus.GRACE if today <= grace_end(not_after) else CertificateStatus.BEYOND_GRACE
    if today >= renewal_alert_from(not_after):
        return CertificateStatus.EXPIRING
    return CertificateStatus.VALID
