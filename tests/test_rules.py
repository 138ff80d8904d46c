"""Rules: co-pay, certificate grace, old 健康保険証, desk steps and claims.

Dates sit on the boundaries; the seed's fallback rows each have a case named after the seed's text.
"""

from __future__ import annotations

import datetime as dt

import pytest

from desk.claim import (
    UNKNOWN_INSURER_NUMBER,
    UNKNOWN_INSURER_NUMBER_ALT,
    ClaimMode,
    ClaimNumbers,
    claim_for,
    unknown_claim,
)
from desk.copay import (
    copay_percent,
    default_copay_percent,
    elderly_rate_from,
    later_elderly_from,
    preschool_until,
    reaching_day,
)
from desk.models import ElderlyRecipientInfo, FailureName, QualificationRecord, Validity
from desk.moushitate import InsuranceKind, Moushitate
from desk.rules import (
    CertificateStatus,
    Situation,
    Step,
    add_months,
    certificate_status,
    grace_end,
    renewal_alert_from,
    steps_for,
)

D = dt.date


def record(**kw) -> QualificationRecord:
    base = dict(
        insurer_number="06139999",
        insured_card_symbol="12",
        insured_identification_number="3456",
        insured_branch_number="01",
        name="山田 太郎",
        birth_date=D(1980, 5, 20),
        insurer_name="テスト健康保険組合",
        valid_from=D(2020, 4, 1),
    )
    base.update(kw)
    return QualificationRecord(**base)


def elderly(ratio: int, start: D = D(2000, 1, 1)) -> ElderlyRecipientInfo:
    return ElderlyRecipientInfo(valid_start=start, contribution_ratio=ratio)


def codes(steps: list[Step]) -> list[str]:
    return [s.code for s in steps]


def text(steps: list[Step]) -> str:
    return "\n".join(s.text for s in steps)


# ---------------------------------------------------------------------------------------------
# co-pay

COPAY_CASES = [
    # (id, birth, record extras, day, expected)
    ("adult", D(1980, 5, 20), {}, D(2026, 12, 1), 30),
    ("newborn", D(2026, 11, 1), {}, D(2026, 12, 1), 20),
    # 未就学: until the first 31 March on or after the day the child reaches 6 (the day before the 6th birthday)
    ("preschool_31_march_itself", D(2021, 6, 10), {}, D(2028, 3, 31), 20),
    ("preschool_day_after", D(2021, 6, 10), {}, D(2028, 4, 1), 30),
    ("preschool_6th_birthday_still_preschool", D(2021, 6, 10), {}, D(2027, 6, 10), 20),
    ("born_1_april_leaves_a_year_earlier_31_march", D(2020, 4, 1), {}, D(2026, 3, 31), 20),
    ("born_1_april_leaves_a_year_earlier_1_april", D(2020, 4, 1), {}, D(2026, 4, 1), 30),
    ("born_2_april_31_march_of_6th_birthday_year", D(2020, 4, 2), {}, D(2026, 3, 31), 20),
    ("born_2_april_stays_until_next_31_march", D(2020, 4, 2), {}, D(2027, 3, 31), 20),
    ("born_2_april_day_after", D(2020, 4, 2), {}, D(2027, 4, 1), 30),
    ("born_29_february", D(2020, 2, 29), {}, D(2026, 3, 31), 20),
    ("born_29_february_day_after", D(2020, 2, 29), {}, D(2026, 4, 1), 30),
    # 70-74: from the 1st of the month after the 70th birthday (the birthday itself when born on the 1st)
    ("day_before_70th_birthday", D(1956, 5, 20), {"elderly_recipient": elderly(20)}, D(2026, 5, 19), 30),
    ("70th_birthday_still_30", D(1956, 5, 20), {"elderly_recipient": elderly(20)}, D(2026, 5, 20), 30),
    ("70_last_day_of_birthday_month", D(1956, 5, 20), {"elderly_recipient": elderly(20)}, D(2026, 5, 31), 30),
    ("70_first_of_next_month", D(1956, 5, 20), {"elderly_recipient": elderly(20)}, D(2026, 6, 1), 20),
    ("70_genekinami_30", D(1956, 5, 20), {"elderly_recipient": elderly(30)}, D(2026, 6, 1), 30),
    ("70_born_on_1st_day_before_birthday", D(1956, 6, 1), {"elderly_recipient": elderly(20)}, D(2026, 5, 31), 30),
    ("70_born_on_1st_from_birthday", D(1956, 6, 1), {"elderly_recipient": elderly(20)}, D(2026, 6, 1), 20),
    ("70_december_birthday_rolls_year", D(1956, 12, 15), {"elderly_recipient": elderly(20)}, D(2026, 12, 31), 30),
    ("70_december_birthday_january", D(1956, 12, 15), {"elderly_recipient": elderly(20)}, D(2027, 1, 1), 20),
    ("70_without_elderly_info_statutory_20", D(1956, 5, 20), {}, D(2026, 6, 1), 20),
    ("70_elderly_info_not_started_falls_back", D(1956, 5, 20), {"elderly_recipient": elderly(30, D(2026, 8, 1))}, D(2026, 6, 1), 20),
    # 75: 後期高齢者医療 from the 75th birthday itself, with the record's ratio
    ("day_before_75th_birthday_elderly_rate", D(1951, 5, 20), {"elderly_recipient": elderly(20)}, D(2026, 5, 19), 20),
    ("75th_birthday_later_elderly_record", D(1951, 5, 20), {"insurer_number": "39131234", "partial_contribution_ratio": 10}, D(2026, 5, 20), 10),
    ("75th_birthday_old_record_no_ratio_unknown", D(1951, 5, 20), {"elderly_recipient": elderly(20)}, D(2026, 5, 20), None),
    ("later_elderly_80_ratio_10", D(1946, 3, 3), {"insurer_number": "39261234", "partial_contribution_ratio": 10}, D(2026, 12, 1), 10),
    ("later_elderly_ratio_20", D(1946, 3, 3), {"insurer_number": "39261234", "partial_contribution_ratio": 20}, D(2026, 12, 1), 20),
    ("later_elderly_genekinami_30", D(1946, 3, 3), {"insurer_number": "39261234", "partial_contribution_ratio": 30}, D(2026, 12, 1), 30),
    ("later_elderly_by_disability_at_68", D(1958, 3, 3), {"insurer_number": "39261234", "partial_contribution_ratio": 10}, D(2026, 12, 1), 10),
]  # fmt: skip


@pytest.mark.parametrize(("birth", "extra", "day", "expected"), [c[1:] for c in COPAY_CASES], ids=[c[0] for c in COPAY_CASES])
def test_copay_percent(birth, extra, day, expected):
    assert copay_percent(record(birth_date=birth, **extra), day) == expected


def test_preschool_flag_on_record_does_not_override_birth_date():
    # The flag describes the day of the query; the rate must hold on the day of the visit.
    assert copay_percent(record(birth_date=D(2020, 4, 2), preschool=True), D(2027, 4, 1)) == 30


def test_legal_age_dates():
    assert reaching_day(D(2020, 4, 1), 6) == D(2026, 3, 31)
    assert preschool_until(D(2021, 6, 10)) == D(2028, 3, 31)  # fixtures/cards/child-5.json comment
    assert elderly_rate_from(D(1956, 5, 20)) == D(2026, 6, 1)
    assert elderly_rate_from(D(1956, 6, 1)) == D(2026, 6, 1)
    assert elderly_rate_from(D(1956, 12, 2)) == D(2027, 1, 1)
    assert elderly_rate_from(D(1957, 1, 1)) == D(2027, 1, 1)
    assert later_elderly_from(D(1951, 5, 20)) == D(2026, 5, 20)
    assert later_elderly_from(D(1952, 2, 29)) == D(2027, 3, 1)


@pytest.mark.parametrize(
    ("birth", "day", "expected"),
    [
        (None, D(2026, 12, 1), None),
        (D(1980, 1, 1), D(2026, 12, 1), 30),
        (D(2022, 1, 1), D(2026, 12, 1), 20),
        (D(1950, 1, 1), D(2026, 12, 1), None),  # 70+: must be declared (申立書 ※2)
    ],
)
def test_default_copay_percent_when_declared_unknown(birth, day, expected):
    assert default_copay_percent(birth, day) == expected


# ---------------------------------------------------------------------------------------------
# certificate grace and renewal alert


@pytest.mark.parametrize(
    ("not_after", "end"),
    [
        (D(2026, 10, 1), D(2027, 1, 31)),  # fixtures/cards/cert-expired-2m.json
        (D(2026, 8, 1), D(2026, 11, 30)),  # fixtures/cards/cert-expired-4m.json: "猶予期間は2026-11-30まで"
        (D(2026, 2, 15), D(2026, 5, 31)),  # expiry in February → usable to the end of May
        (D(2026, 11, 30), D(2027, 2, 28)),
        (D(2027, 11, 30), D(2028, 2, 29)),
    ],
)
def test_grace_end_is_last_day_of_third_month_after_expiry(not_after, end):
    assert grace_end(not_after) == end


CERT_CASES = [
    ("well_before_expiry", D(2027, 1, 12), D(2026, 10, 11), CertificateStatus.VALID),
    ("alert_starts_3_months_before", D(2027, 1, 12), D(2026, 10, 12), CertificateStatus.EXPIRING),
    ("expiring_6_weeks", D(2027, 1, 12), D(2026, 12, 1), CertificateStatus.EXPIRING),
    ("last_valid_day", D(2027, 1, 12), D(2027, 1, 12), CertificateStatus.EXPIRING),
    ("day_after_expiry_in_grace", D(2027, 1, 12), D(2027, 1, 13), CertificateStatus.GRACE),
    ("last_day_of_grace_month", D(2026, 10, 1), D(2027, 1, 31), CertificateStatus.GRACE),
    ("day_after_grace", D(2026, 10, 1), D(2027, 2, 1), CertificateStatus.BEYOND_GRACE),
    ("expired_4m_ago", D(2026, 8, 1), D(2026, 12, 1), CertificateStatus.BEYOND_GRACE),
]


@pytest.mark.parametrize(("not_after", "today", "status"), [c[1:] for c in CERT_CASES], ids=[c[0] for c in CERT_CASES])
def test_certificate_status(not_after, today, status):
    assert certificate_status(not_after, today) is status


def test_add_months_clamps_to_month_end():
    assert add_months(D(2027, 5, 31), -3) == D(2027, 2, 28)
    assert add_months(D(2026, 11, 30), 3) == D(2027, 2, 28)
    assert renewal_alert_from(D(2027, 5, 31)) == D(2027, 2, 28)


# ---------------------------------------------------------------------------------------------
# old paper 健康保険証


# ---------------------------------------------------------------------------------------------
# steps per outcome

TODAY = D(2026, 12, 1)
FALLBACK = [
    "show_portal_or_notice",
    "confirm_not_lost",
    "moushitate",
    "copay_declared",
    "claim_order",
    "claim_unknown_sevens",
]


def test_valid_steps_show_insurer_numbers_copay_and_no_extra_certificates():
    rec = record()
    steps = steps_for(Validity.VALID, today=TODAY, records=[rec])
    assert codes(steps) == ["valid_insurer", "valid_numbers", "valid_copay", "no_extra_certificates", "claim_current"]
    body = text(steps)
    for fragment in ("テスト健康保険組合", "06139999", "記号 12", "番号 3456", "枝番 01", "3割"):
        assert fragment in body
    no_extra = steps[3].text
    for certificate in ("高齢受給者証", "限度額適用認定証", "特定疾病療養受療証"):
        assert certificate in no_extra


def test_valid_steps_for_preschool_and_elderly_copay():
    child = steps_for(Validity.VALID, today=TODAY, records=[record(birth_date=D(2021, 6, 10))])
    assert "2割" in child[2].text
    later = record(birth_date=D(1946, 3, 3), insurer_number="39261234", partial_contribution_ratio=10)
    assert "1割" in steps_for(Validity.VALID, today=TODAY, records=[later])[2].text


def test_valid_without_ratio_asks_the_patient_not_full_charge():
    old = record(birth_date=D(1946, 3, 3))
    steps = steps_for(Validity.VALID, today=TODAY, records=[old])
    assert "copay_unknown" in codes(steps)
    assert "10割負担にはしません" in text(steps)


def test_valid_picks_the_record_valid_today():
    past = record(insurer_number="01130012", valid_to=D(2025, 3, 31), insurer_name="旧保険者")
    now = record(insurer_number="06139999", valid_from=D(2025, 4, 1))
    steps = steps_for(Validity.VALID, today=TODAY, records=[past, now])
    assert "テスト健康保険組合" in steps[0].text


@pytest.mark.parametrize(
    ("not_after", "extra"),
    [
        (D(2026, 10, 1), ["cert_grace_renewal"]),  # expired 2 months ago: confirm + renewal notice
        (D(2027, 1, 12), ["cert_renewal_alert"]),  # 6 weeks left: alert
        (D(2029, 1, 12), []),
    ],
)
def test_valid_steps_add_certificate_notices(not_after, extra):
    steps = steps_for(Validity.VALID, today=TODAY, records=[record()], certificate_not_after=not_after)
    assert codes(steps)[5:] == extra


def test_not_found_with_a_card_in_grace_also_gets_the_renewal_notice():
    steps = steps_for(Validity.NOT_FOUND, today=TODAY, certificate_not_after=D(2026, 10, 1))
    assert codes(steps) == ["not_found"] + FALLBACK + ["cert_grace_renewal"]


def test_grace_notice_names_the_last_grace_day():
    steps = steps_for(Validity.VALID, today=TODAY, records=[record()], certificate_not_after=D(2026, 10, 1))
    assert "2027年1月31日" in steps[-1].text


def test_invalid_code_2_pays_normal_share_and_claims_old_qualification():
    lost = record(valid_to=D(2026, 9, 30), reason_of_loss="03")
    steps = steps_for(Validity.INVALID, today=TODAY, records=[lost])
    assert codes(steps) == ["invalid_qualification", "copay_normal_share", "claim_past_qualification"]
    assert "10割負担にはなりません" in steps[1].text and "3割" in steps[1].text
    assert "旧資格" in steps[2].text and "06139999" in steps[2].text


def test_invalid_code_3_says_a_new_qualification_exists():
    lost = record(valid_to=D(2026, 9, 30), reason_of_loss="03")
    steps = steps_for(Validity.INVALID_NEW_EXISTS, today=TODAY, records=[lost])
    assert codes(steps) == ["new_qualification_exists", "copay_normal_share", "claim_past_qualification"]
    assert "新しい資格" in steps[0].text and "資格情報のお知らせ" in steps[0].text


def test_multiple_asks_which_qualification():
    steps = steps_for(Validity.MULTIPLE, today=TODAY, records=[record(), record(insurer_number="01130012")])
    assert codes(steps)[0] == "multiple_select"


@pytest.mark.parametrize(
    ("outcome", "lead"),
    [
        (Validity.NOT_FOUND, "not_found"),
        (FailureName.CENTRAL_DOWN, "central_down"),
        (Situation.DEVICE_FAILURE, "device_failure"),
        (FailureName.CERT_BEYOND_GRACE, "cert_beyond_grace"),
    ],
)
def test_fallback_outcomes_share_the_seed_procedure(outcome, lead):
    steps = steps_for(outcome, today=TODAY, certificate_not_after=D(2026, 8, 1))
    assert codes(steps) == [lead] + FALLBACK


def test_returning_patient_adds_oral_confirmation_before_the_form():
    steps = steps_for(Validity.NOT_FOUND, today=TODAY, returning_patient=True)
    assert codes(steps) == ["not_found", "show_portal_or_notice", "confirm_not_lost", "returning_patient_oral"] + FALLBACK[2:]


@pytest.mark.parametrize(
    ("outcome", "code", "fragments"),
    [
        (FailureName.PIN_BLOCKED, "pin_blocked", ("顔認証", "目視確認", "市区町村")),
        (FailureName.FACE_LOCKED, "face_locked", ("10回", "暗証番号", "目視確認")),
        (FailureName.VISUAL_LOCKED, "visual_locked", ("5回", "5分間", "顔認証")),
        (FailureName.AUTH_FAILED, "auth_retry", ("顔認証", "暗証番号", "目視確認")),
        (FailureName.CARD_REMOVED, "card_removed", ("もう一度",)),
        (FailureName.NOT_MY_NUMBER_CARD, "not_my_number_card", ("マイナンバーカードではありません", "資格確認書")),
    ],
)
def test_authentication_failures(outcome, code, fragments):
    steps = steps_for(outcome, today=TODAY)
    assert codes(steps) == [code]
    for fragment in fragments:
        assert fragment in steps[0].text


def test_visual_lock_says_until_when():
    until = dt.datetime(2026, 12, 1, 10, 35, tzinfo=dt.timezone(dt.timedelta(hours=9)))
    steps = steps_for(FailureName.VISUAL_LOCKED, today=TODAY, visual_locked_until=until)
    assert "10:35まで" in steps[0].text


def test_every_outcome_has_steps_with_unique_snake_case_codes():
    outcomes = [*Validity, *FailureName, *Situation]
    for outcome in outcomes:
        steps = steps_for(outcome, today=TODAY, records=[record()])
        assert steps, outcome
        cs = codes(steps)
        assert len(cs) == len(set(cs))
        assert all(c.replace("_", "").isalnum() and c == c.lower() for c in cs)


def test_no_step_ever_tells_staff_to_charge_full_cost():
    outcomes = [*Validity, *FailureName, *Situation]
    for outcome in outcomes:
        for s in steps_for(outcome, today=TODAY, records=[record()]):
            if "10割" in s.text:
                assert "なりません" in s.text or "しません" in s.text, s


# ---------------------------------------------------------------------------------------------
# claims


def test_claim_valid_is_current_with_record_numbers():
    claim = claim_for(Validity.VALID, today=TODAY, records=[record()])
    assert (claim.mode, claim.insurer_number, claim.symbol, claim.number, claim.branch) == (
        ClaimMode.CURRENT, "06139999", "12", "3456", "01",
    )  # fmt: skip


def test_claim_invalid_uses_the_lost_qualification():
    lost = record(insurer_number="01130012", valid_to=D(2026, 9, 30))
    for outcome in (Validity.INVALID, Validity.INVALID_NEW_EXISTS):
        claim = claim_for(outcome, today=TODAY, records=[lost])
        assert claim.mode is ClaimMode.PAST and claim.insurer_number == "01130012"


def test_claim_current_numbers_from_the_patient_win():
    heard = ClaimNumbers(insurer_number="06271234", symbol="9", number="77", branch="00")
    claim = claim_for(Validity.INVALID_NEW_EXISTS, today=TODAY, records=[record()], current=heard)
    assert claim.mode is ClaimMode.CURRENT and claim.insurer_number == "06271234"


def test_claim_unknown_fills_sevens_and_summary():
    form = Moushitate(address="東京都千代田区霞が関1-2-2", phone="03-0000-0000", employer="株式会社テスト")
    claim = claim_for(Validity.NOT_FOUND, today=TODAY, moushitate=form)
    assert claim.mode is ClaimMode.UNKNOWN
    assert claim.insurer_number == UNKNOWN_INSURER_NUMBER == "77777777"
    assert claim.insurer_number_alternative == UNKNOWN_INSURER_NUMBER_ALT == "77777779"
    assert claim.symbol == "77777777" and claim.number == "77777777" and claim.branch == ""
    for fragment in ("東京都千代田区霞が関1-2-2", "03-0000-0000", "株式会社テスト"):
        assert fragment in claim.summary


def test_claim_unknown_later_elderly_has_no_symbol():
    claim = unknown_claim(Moushitate(insurance_kind=InsuranceKind.KOUKI))
    assert claim.symbol == "" and claim.number == "77777777"


def test_claim_unknown_digit_counts_are_adjustable():
    claim = unknown_claim(None, symbol_digits=4, number_digits=10)
    assert claim.symbol == "7777" and claim.number == "7777777777"


# ---------------------------------------------------------------------------------------------
# One case per row of the seed's fallback sections, named after the seed text.


def _all(outcome, **kw) -> str:
    return text(steps_for(outcome, today=TODAY, **kw))


def test_seed_マイナ保険証_電子証明書の有効期限が過ぎても3か月間は引き続き資格確認を受けることが可能():
    steps = steps_for(Validity.VALID, today=D(2026, 12, 1), records=[record()], certificate_not_after=D(2026, 10, 1))
    assert "cert_grace_renewal" in codes(steps)


def test_seed_マイナポータル画面PDF含む_とマイナンバーカード():
    body = _all(Validity.NOT_FOUND)
    assert "マイナポータルの資格情報画面" in body and "PDF" in body and "マイナンバーカードと併せて" in body


def test_seed_資格情報のお知らせ_とマイナンバーカード():
    step = steps_for(FailureName.CENTRAL_DOWN, today=TODAY)[1]
    assert step.code == "show_portal_or_notice"
    assert "資格情報のお知らせ" in step.text and "マイナンバーカードと併せて" in step.text


def test_seed_資格確認書_健康保険証は12月2日以降有効期限の範囲内で最長1年間使用可能():
    from desk.documents import Document, rule_for

    assert rule_for(Document.HEALTH_CARD, D(2025, 12, 1)).decision == "accept"
    # what the seed could not know: the 2025-11-12 事務連絡 let an expired card be queried until 2026-03-31
    assert rule_for(Document.HEALTH_CARD, D(2025, 12, 2)).decision == "transitional"
    refused = rule_for(Document.HEALTH_CARD, D(2026, 4, 1))
    assert refused.decision == "refuse" and "資格確認書" in refused.step


def test_seed_後期高齢者医療保険加入者の有効期限は2025年7月31日():
    from desk.documents import Document, rule_for

    assert rule_for(Document.HEALTH_CARD, D(2025, 7, 31), later_elderly=True).decision == "accept"
    # after it: the MHLW notice of 2025-06-27 let the expired card be queried until 2026-03-31
    assert rule_for(Document.HEALTH_CARD, D(2025, 8, 1), later_elderly=True).decision == "transitional"


def test_seed_マイナ保険証の場合には高齢受給者証_限度額適用認定証_特定疾病療養受療証の提示は不要():
    body = _all(Validity.VALID, records=[record(birth_date=D(1955, 1, 10), elderly_recipient=elderly(20))])
    assert "高齢受給者証" in body and "限度額適用" in body and "特定疾病療養受療証" in body and "不要" in body


def test_seed_患者が提示可能な場合_追加で保険証の提示は不要():
    assert "追加で保険証の提示は不要" in _all(Validity.NOT_FOUND)


def test_seed_再診の場合_過去の受診で資格情報を把握していれば患者への口頭確認():
    steps = steps_for(Validity.NOT_FOUND, today=TODAY, returning_patient=True)
    oral = next(s for s in steps if s.code == "returning_patient_oral")
    assert "口頭で確認" in oral.text and "申立書の提出は不要" in oral.text


def test_seed_初診の場合_被保険者資格申立書():
    steps = steps_for(Validity.NOT_FOUND, today=TODAY)
    assert "returning_patient_oral" not in codes(steps)
    assert "被保険者資格申立書" in next(s for s in steps if s.code == "moushitate").text


def test_seed_患者には適切な自己負担分3割分等の支払を求めてください():
    step = next(s for s in steps_for(Validity.NOT_FOUND, today=TODAY) if s.code == "copay_declared")
    assert "3割等" in step.text and "10割負担にはなりません" in step.text


def test_seed_請求_1現在の被保険者番号等を入力する():
    heard = ClaimNumbers(insurer_number="06271234", number="77")
    assert claim_for(Validity.NOT_FOUND, today=TODAY, current=heard).mode is ClaimMode.CURRENT


def test_seed_請求_2過去の被保険者番号等_資格無効の場合には喪失した旧資格情報で請求():
    assert claim_for(Validity.INVALID, today=TODAY, records=[record(valid_to=D(2026, 6, 30))]).mode is ClaimMode.PAST
    past = ClaimNumbers(insurer_number="01130012", symbol="5", number="123")
    assert claim_for(Validity.NOT_FOUND, today=TODAY, past=past).mode is ClaimMode.PAST


def test_seed_請求_3申立書の住所連絡先等を摘要欄に記載し7を必要な桁数分入力する():
    form = Moushitate(address="大阪府大阪市北区1-1", phone="06-0000-0000")
    claim = claim_for(Validity.NOT_FOUND, today=TODAY, moushitate=form)
    assert claim.mode is ClaimMode.UNKNOWN and set(claim.symbol + claim.number) == {"7"}
    assert "大阪府大阪市北区1-1" in claim.summary and "06-0000-0000" in claim.summary
    sevens = next(s for s in steps_for(Validity.NOT_FOUND, today=TODAY) if s.code == "claim_unknown_sevens")
    assert "77777777" in sevens.text and "77777779" in sevens.text and "摘要欄" in sevens.text


def test_seed_ケース1_資格無効_資格情報なしと表示された場合():
    assert codes(steps_for(Validity.INVALID, today=TODAY, records=[record()]))[0] == "invalid_qualification"
    assert codes(steps_for(Validity.NOT_FOUND, today=TODAY))[0] == "not_found"


def test_seed_ケース2_顔認証付きカードリーダーや資格確認端末の故障():
    assert codes(steps_for(Situation.DEVICE_FAILURE, today=TODAY)) == ["device_failure"] + FALLBACK


def test_seed_ケース2_患者のマイナンバーカードの不具合_電子証明書の更新忘れ():
    # 更新忘れ within 3 months: still confirmed; beyond: the fallback procedure.
    within = steps_for(Validity.VALID, today=D(2027, 1, 31), records=[record()], certificate_not_after=D(2026, 10, 1))
    assert "cert_grace_renewal" in codes(within)
    beyond = steps_for(FailureName.CERT_BEYOND_GRACE, today=D(2027, 2, 1), certificate_not_after=D(2026, 10, 1))
    assert codes(beyond) == ["cert_beyond_grace"] + FALLBACK
    assert "2027年1月31日" in beyond[0].text


def test_seed_ケース2_停電_施設の通信障害_広範囲のネットワーク障害():
    steps = steps_for(FailureName.CENTRAL_DOWN, today=TODAY)
    assert codes(steps) == ["central_down"] + FALLBACK
    assert "再照会" in steps[0].text


def test_seed_喪失していない資格情報か患者に口頭で確認():
    assert "confirm_not_lost" in codes(steps_for(FailureName.CENTRAL_DOWN, today=TODAY))


def test_seed_上記の方法により資格確認できない場合_被保険者資格申立書の記入():
    cs = codes(steps_for(Situation.DEVICE_FAILURE, today=TODAY))
    assert cs.index("show_portal_or_notice") < cs.index("moushitate")


def test_seed_レセプト請求_1現在_2過去_3不詳の順():
    step = next(s for s in steps_for(Validity.NOT_FOUND, today=TODAY) if s.code == "claim_order")
    assert step.text.index("①") < step.text.index("②") < step.text.index("③")


def test_seed_注1_顔認証がうまくいかない場合には目視により本人確認():
    assert "目視確認" in steps_for(FailureName.AUTH_FAILED, today=TODAY)[0].text
    assert "目視確認" in steps_for(Situation.DEVICE_FAILURE, today=TODAY)[0].text


def test_seed_注2_システム障害時モードを立ち上げて資格確認():
    assert "システム障害時モード" in steps_for(FailureName.CENTRAL_DOWN, today=TODAY)[0].text


def test_seed_有効期限3カ月後以降はマイナポータルPDFか資格情報のお知らせとマイナンバーカード():
    body = _all(FailureName.CERT_BEYOND_GRACE, certificate_not_after=D(2026, 8, 1))
    assert "PDF" in body and "資格情報のお知らせ" in body and "マイナンバーカードと併せて" in body


def test_seed_暗証番号を3回誤入力した場合でも顔認証や目視モードの対応が可能():
    body = _all(FailureName.PIN_BLOCKED)
    assert "3回" in body and "顔認証" in body and "目視確認" in body


def test_seed_資格無効等と表示されても旧保険者等に請求することで適切な負担割合3割等で受診可能():
    steps = steps_for(Validity.INVALID, today=TODAY, records=[record(valid_to=D(2026, 6, 30))])
    assert "3割" in steps[1].text and "10割負担にはなりません" in steps[1].text
    assert claim_for(Validity.INVALID, today=TODAY, records=[record(valid_to=D(2026, 6, 30))]).mode is ClaimMode.PAST


def test_seed_未就学児は2割負担_70歳以上等の方は1から3割():
    steps = steps_for(Validity.NOT_FOUND, today=TODAY, birth_date=D(2022, 2, 2))
    assert "年齢から2割" in next(s for s in steps if s.code == "copay_declared").text
    steps = steps_for(Validity.NOT_FOUND, today=TODAY, birth_date=D(1950, 2, 2))
    assert "70歳以上は申告された割合" in next(s for s in steps if s.code == "copay_declared").text


def test_rules_journal_stats_facility_import_no_ui_or_hardware():
    import subprocess
    import sys

    code = (
        "import sys, desk.rules, desk.copay, desk.claim, desk.journal, desk.stats, desk.seed_stats, "
        "desk.facility, desk.moushitate, desk.commands.stats, desk.commands.facility\n"
        "bad = [m for m in ('textual', 'cv2', 'smartcard', 'face_recognition') if m in sys.modules]\n"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize(("outcome", "code", "headline_text"), [
    (Validity.NOT_FOUND, "show_portal_or_notice", "資格を確認してください"),
    (FailureName.CARD_ERROR, "card_sleeve", "ケースやスリーブから出し"),
    (FailureName.PIN_BLOCKED, "pin_blocked", "顔認証または目視確認で受付できます。"),  # what happened, then what to do
    (FailureName.AUTH_FAILED, "auth_retry", "切り替えてください"),
])
def test_the_first_thing_to_do_stands_out(outcome, code, headline_text):
    from desk.rules import first_action, headline

    first = first_action(steps_for(outcome, today=TODAY))
    # NOT_FOUND's action sentence has a 。 inside its brackets: cut there, 「確認してください」 would be lost
    assert first.code == code and headline_text in headline(first)
