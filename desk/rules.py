"""What the receptionist does next: instructions per confirmation result and context.

Pure functions over the models in desk.models. The texts follow the seed documents (MHLW 保険局
「マイナ保険証の利用促進等について」: 医療機関・薬局での資格確認とレセプト請求, マイナンバーカードによる
オンライン資格確認を行うことができない場合の対応, 電子証明書の有効期限の状況に応じたマイナ保険証の利用)
and shared/research/eligibility-anchors.md §2-3. Each `Step.code` is a stable identifier that tests,
the TUI and `desk check --json` rely on; the Japanese `text` may be reworded.

Also here: the certificate grace and renewal alert, and whether an old 健康保険証 is still accepted.
The co-pay lives in desk.copay and the claim in desk.claim (re-exported below).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from enum import Enum

from desk.certificate_grace import (
    GRACE_MONTHS,
    RENEWAL_ALERT_MONTHS,
    CertificateStatus,
    add_months,
    certificate_status,
    grace_end,
    renewal_alert_from,
)
from desk.claim import Claim, ClaimMode, ClaimNumbers, claim_for, shown_record, unknown_claim
from desk.copay import copay_percent, copay_to_collect, default_copay_percent
from desk.models import FailureName, Model, QualificationRecord, Validity

__all__ = [
    "Step",
    "Situation",
    "CertificateStatus",
    "GRACE_MONTHS",
    "RENEWAL_ALERT_MONTHS",
    "add_months",
    "grace_end",
    "renewal_alert_from",
    "certificate_status",
    "steps_for",
    "percent_label",
    "summary",
    # re-exported
    "copay_percent",
    "default_copay_percent",
    "Claim",
    "ClaimMode",
    "ClaimNumbers",
    "claim_for",
    "unknown_claim",
    "first_action",
    "headline",
]

# From 2024-12-02 an expired 利用者証明用電子証明書 still confirms eligibility until the end of the
# 3rd month after the month of expiry (seed: 電子証明書の有効期限が切れても3カ月間は引き続き…).
# The reader shows a renewal alert when 3 months or less remain (seed: 有効期限満了日まで3か月以下の場合).

# Old paper 健康保険証, 資格情報のお知らせ, 資格確認書: which is accepted on which day is a table of
# its own (desk/documents.py, desk/data/documents.json).


class Step(Model):
    code: str
    text: str


class Situation(str, Enum):
    """Desk situations that are neither an OQSCD006 code nor a FailureName."""

    DEVICE_FAILURE = "device_failure"  # 顔認証付きカードリーダー・資格確認端末の故障、カードの不具合

    @property
    def label(self) -> str:
        return {"device_failure": "機器・カードの不具合"}[self.value]


# The steps that say what to do at once, in the order they win: the rest explain or come later.
_FIRST_ACTIONS = (
    "card_sleeve", "cert_revoked", "smartphone_not_unlocked", "smartphone_pin_blocked", "smartphone_cert_expired", "request_refused", "auth_retry", "pin_blocked", "face_locked",
    "visual_locked", "card_removed", "not_my_number_card", "cert_untrusted", "show_portal_or_notice",
    "multiple_select", "valid_copay",
)


def first_action(steps: Sequence[Step]) -> Step | None:
    """The one step to do first, for the headline above the list: a document's own rule, else the
    first of _FIRST_ACTIONS among the steps, else the first step."""
    if not steps:
        return None
    for step in steps:
        if step.code.startswith("document_"):
            return step
    ranked = [s for s in steps if s.code in _FIRST_ACTIONS]
    return min(ranked, key=lambda s: _FIRST_ACTIONS.index(s.code)) if ranked else steps[0]


def _sentences(text: str) -> list[str]:
    """Sentences ending in 。 outside brackets (「（ダウンロードしたPDFを含む。…）」 stays whole)."""
    out, depth, start = [], 0, 0
    for i, char in enumerate(text):
        if char in "（「『":
            depth += 1
        elif char in "）」』":
            depth -= 1
        elif char == "。" and depth <= 0:
            out.append(text[start:i + 1])
            start = i + 1
    if text[start:]:
        out.append(text[start:])
    return out


def headline(step: Step) -> str:
    """What fits in one glance: the step's first sentence, and the next one too when the first
    only says what happened (「暗証番号がロックされています。」 then what to do)."""
    sentences = _sentences(step.text)
    if len(sentences) > 1 and not any(verb in sentences[0] for verb in ("ください", "できます", "します")):
        return sentences[0] + sentences[1]
    return sentences[0] if sentences else step.text


def summary(step: Step) -> str:
    """The step folded to what to do: its first sentence without the asides in （）. The whole text
    stays the step's details (the screen unfolds the step under the cursor)."""
    sentences = _sentences(step.text)
    first = sentences[0] if sentences else step.text
    out, depth, quoted = [], 0, 0  # an aside inside 「」 is part of a name (「資格（無効）」画面): kept
    for char in first:
        if char in "「『" and not depth:
            quoted += 1
        elif char in "」』" and quoted and not depth:
            quoted -= 1
        if char == "（" and not quoted:
            depth += 1
        elif char == "）" and depth:
            depth -= 1
        elif not depth:
            out.append(char)
    return "".join(out).strip() or step.text


def _phone_fallback(fallback: list[Step]) -> list[Step]:
    """When a phone cannot confirm: the card itself first, then the usual fallback."""
    return [
        Step(
            code="phone_use_card",
            text="マイナンバーカードをお持ちなら、カードをカードリーダーに置いてもらってください（顔認証・暗証番号・目視確認が使えます）。",
        )
    ] + fallback


def percent_label(percent: int) -> str:
    return f"{percent // 10}割"


def _date_ja(day: dt.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def _numbers_text(record: QualificationRecord) -> str:
    parts = [f"保険者番号 {record.insurer_number.strip()}"]
    if record.insured_card_symbol:
        parts.append(f"記号 {record.insured_card_symbol}")
    parts.append(f"番号 {record.insured_identification_number}")
    if record.insured_branch_number:
        parts.append(f"枝番 {record.insured_branch_number}")
    return "、".join(parts)


def _copay_step(code: str, percent: int | None, *, lead: str = "") -> Step:
    if percent is None:
        return Step(
            code="copay_unknown",
            text=f"{lead}負担割合が資格情報から判断できません。患者に負担割合を確認してください（10割負担にはしません）。",
        )
    return Step(code=code, text=f"{lead}窓口負担は{percent_label(percent)}です。")


def _certificate_steps(not_after: dt.date | None, today: dt.date) -> list[Step]:
    if not_after is None:
        return []
    status = certificate_status(not_after, today)
    if status is CertificateStatus.GRACE:
        return [
            Step(
                code="cert_grace_renewal",
                text=(
                    f"電子証明書の有効期限（{_date_ja(not_after)}）が切れています。{_date_ja(grace_end(not_after))}までは"
                    "このまま資格確認できます。お住まいの市区町村で電子証明書を更新するよう案内してください。"
                ),
            )
        ]
    if status is CertificateStatus.EXPIRING:
        return [
            Step(
                code="cert_renewal_alert",
                text=(
                    f"電子証明書の有効期限が{_date_ja(not_after)}に迫っています。市区町村で更新するよう案内してください"
                    f"（期限後も{_date_ja(grace_end(not_after))}までは資格確認できます）。"
                ),
            )
        ]
    return []


def _fallback_steps(*, returning_patient: bool, birth_date: dt.date | None, today: dt.date) -> list[Step]:
    """Seed: マイナンバーカードによるオンライン資格確認を行うことができない場合の対応 (資格確認 / 窓口負担 / 請求)."""
    steps = [
        Step(
            code="show_portal_or_notice",
            text=(
                "マイナポータルの資格情報画面（ダウンロードしたPDFを含む。患者のスマートフォンで提示）または"
                "資格情報のお知らせを、マイナンバーカードと併せて提示してもらい、資格を確認してください"
                "（追加で保険証の提示は不要です）。"
            ),
        ),
        Step(code="confirm_not_lost", text="提示された資格情報が喪失していないものか、患者に口頭で確認してください。"),
    ]
    if returning_patient:
        steps.append(
            Step(
                code="returning_patient_oral",
                text=(
                    "再診の患者で、請求に必要な資格情報を過去の受診で把握している場合は、その時から資格情報が変わっていないことを"
                    "口頭で確認できれば、被保険者資格申立書の提出は不要です。"
                ),
            )
        )
    steps.append(
        Step(
            code="moushitate",
            text=(
                "上記の方法で確認できない場合は、被保険者資格申立書の記入をお願いしてください"
                "（記入された負担割合・住所・連絡先・事業所名を請求に使います）。"
            ),
        )
    )
    default = default_copay_percent(birth_date, today)
    if default is not None:
        hint = f"（申告がなければ年齢から{percent_label(default)}）"
    elif birth_date is not None:
        hint = "（70歳以上は申告された割合）"
    else:
        hint = ""
    steps.append(
        Step(
            code="copay_declared",
            text=(
                f"患者には適切な自己負担分（3割等。未就学児は2割、70歳以上は1～3割）を申告どおりに受け取ってください{hint}。"
                "10割負担にはなりません。"
            ),
        )
    )
    steps.append(
        Step(
            code="claim_order",
            text=(
                "レセプト請求は次の順に可能な方法で行ってください：① 確認できた現在の被保険者番号等 "
                "② 「資格（無効）」画面や過去の受診歴で確認できた過去の被保険者番号等（旧資格） ③ 不詳レセプト。"
            ),
        )
    )
    steps.append(
        Step(
            code="claim_unknown_sevens",
            text=(
                "③ 不詳レセプト：保険者番号は「77777777」（レセコンが受け付けない場合は「77777779」）、"
                "記号・番号は必要な桁数分すべて「7」を入力し、被保険者資格申立書に記入された住所・連絡先・事業所名等を"
                "摘要欄に記載してください。"
            ),
        )
    )
    return steps


def steps_for(
    outcome: Validity | FailureName | Situation,
    *,
    today: dt.date,
    records: Sequence[QualificationRecord] = (),
    certificate_not_after: dt.date | None = None,
    returning_patient: bool = False,
    birth_date: dt.date | None = None,
    visual_locked_until: dt.datetime | None = None,
    by_card: bool = True,
) -> list[Step]:
    """The instructions for the receptionist, in order.

    - `by_card`: the answer came from the card (照会区分 1); False for a query by numbers.
    - `records`: the reply's qualification records (有効: the current one first; 無効: the lost one).
    - `certificate_not_after`: the card certificate's last valid day, for the grace and renewal notices.
    - `returning_patient`: the facility already holds this patient's claim data from an earlier visit.
    - `birth_date`: when known without a record (card read with the PIN), for the declared co-pay hint.
    - `visual_locked_until`: for FailureName.VISUAL_LOCKED, when 目視 is allowed again.
    """
    record = shown_record(records, today)
    if birth_date is None and record is not None:
        birth_date = record.birth_date
    fallback = _fallback_steps(returning_patient=returning_patient, birth_date=birth_date, today=today)

    if outcome is Validity.VALID and record is not None:
        steps: list[Step] = [
            Step(code="valid_insurer", text=f"資格は有効です。保険者：{record.insurer_name}（{record.insurer_number.strip()}）"),
            Step(code="valid_numbers", text=f"{_numbers_text(record)}"),
            _copay_step("valid_copay", copay_to_collect(record, today)),
            Step(
                code="no_extra_certificates",
                text=(
                    "マイナ保険証で確認できたため、保険証の追加提示は不要です。高齢受給者証、限度額適用認定証"
                    "（限度額適用・標準負担額減額認定証を含む）、特定疾病療養受療証の提示も不要です。"
                ),
            ) if by_card else Step(
                code="numbers_certificates",
                text=(
                    "番号による照会です。限度額適用区分と特定疾病は、限度額情報の提供に同意を得て照会したときだけ表示されます。"
                    "表示されていなければ、限度額適用認定証・特定疾病療養受療証の提示を求めてください。"
                ),
            ),
            Step(code="claim_current", text="表示された現在の資格情報でレセプト請求してください。"),
        ]
        return steps + _certificate_steps(certificate_not_after, today)

    if outcome is Validity.MULTIPLE:
        steps = [
            Step(
                code="multiple_select",
                text="複数の資格が該当しました。患者に現在加入している保険を確認し、該当する資格を選んでください。",
            )
        ]
        if record is not None:
            steps.append(_copay_step("valid_copay", copay_to_collect(record, today), lead="選んだ資格での"))
        steps.append(Step(code="claim_current", text="選んだ資格情報でレセプト請求してください。"))
        return steps + _certificate_steps(certificate_not_after, today)

    if outcome in (Validity.INVALID, Validity.INVALID_NEW_EXISTS):
        steps = []
        if outcome is Validity.INVALID_NEW_EXISTS:
            steps.append(
                Step(
                    code="new_qualification_exists",
                    text=(
                        "新しい資格があります。患者に新しい保険者を確認するか、資格情報のお知らせ（またはマイナポータルの"
                        "資格情報画面）の提示を依頼してください。現在の被保険者番号等が確認できればその資格で請求します。"
                    ),
                )
            )
        else:
            steps.append(
                Step(
                    code="invalid_qualification",
                    text=(
                        "資格（無効）と表示されました。転職・転居等で新しい保険の登録が済んでいない可能性があります。"
                        "現在の保険を患者に確認してください。"
                    ),
                )
            )
        percent = copay_to_collect(record, today, birth_date=birth_date)
        steps.append(
            _copay_step("copay_normal_share", percent, lead="10割負担にはなりません。通常の自己負担分を受け取ってください。")
        )
        old = f"（{_numbers_text(record)}）" if record is not None else ""
        steps.append(
            Step(
                code="claim_past_qualification",
                text=f"現在の資格が確認できない場合は、画面に表示された喪失済みの旧資格情報{old}でレセプト請求してください。",
            )
        )
        return steps + _certificate_steps(certificate_not_after, today)

    if outcome is Validity.NOT_FOUND or (outcome is Validity.VALID and record is None):
        return [
            Step(
                code="not_found",
                text=(
                    "資格情報なし（該当資格なし）と表示されました。保険者でのデータ登録中などが考えられます"
                    "（日雇特例被保険者はオンライン資格確認の対象外です）。"
                ),
            )
        ] + fallback + _certificate_steps(certificate_not_after, today)

    if outcome is FailureName.CENTRAL_DOWN:
        return [
            Step(
                code="central_down",
                text=(
                    "オンライン資格確認等システムに接続できません（停電・通信障害など）。この確認は障害時の記録に残し、"
                    "システムの復旧後に自動で再照会します（その場でシステム障害時モードを立ち上げることもできます）。"
                ),
            )
        ] + fallback

    if outcome is FailureName.CERT_REVOKED:
        return [
            Step(
                code="cert_revoked",
                text=(
                    "電子証明書が失効しています。スマートフォンなら、機種変更で新しいスマートフォンに発行されると前の端末の"
                    "証明書は失効します（新しい端末かマイナンバーカードで）。カードなら紛失の届出などで失効しています"
                    "（再発行・再設定は市区町村の窓口で）。"
                ),
            )
        ] + fallback

    if outcome is FailureName.SMARTPHONE_NOT_UNLOCKED:
        return [
            Step(
                code="smartphone_not_unlocked",
                text=(
                    "iPhoneの画面でマイナ保険証を開き、Face ID または Touch ID で本人確認を済ませてから、"
                    "もう一度カードリーダーにかざしてもらってください。"
                ),
            )
        ] + _phone_fallback(fallback)

    if outcome is FailureName.SMARTPHONE_PIN_BLOCKED:
        return [
            Step(
                code="smartphone_pin_blocked",
                text=(
                    "スマホ用利用者証明用電子証明書の暗証番号がロックされています（カードの暗証番号とは別です）。"
                    "解除はマイナポータルアプリでマイナンバーカードを使って行えます。"
                ),
            )
        ] + _phone_fallback(fallback)

    if outcome is FailureName.SMARTPHONE_CERT_EXPIRED:
        return [
            Step(
                code="smartphone_cert_expired",
                text=(
                    "スマートフォンの電子証明書の有効期限が切れています。スマートフォンにはカードのような3か月の猶予"
                    "はありません。カードの電子証明書を更新したあと、マイナポータルで申請し直してもらってください。"
                ),
            )
        ] + _phone_fallback(fallback)

    if outcome is FailureName.DOCUMENT_NOT_ACCEPTED:
        return fallback  # the document's own step (desk/documents.py) comes first, from the caller

    if outcome is FailureName.REQUEST_REFUSED:
        return [
            Step(
                code="request_refused",
                text=(
                    "資格確認端末が照会を受け付けませんでした（理由は上に表示）。同じ内容で照会し直しても結果は変わりません。"
                    "入力した保険者番号・記号・番号・生年月日を資格確認書などの記載と見比べ、誤りがあれば直して照会してください。"
                ),
            )
        ] + fallback

    if outcome is Situation.DEVICE_FAILURE or outcome is FailureName.CARD_ERROR:
        # the seed names a card left in its sleeve or case among the main causes of read errors
        sleeve = [Step(
            code="card_sleeve",
            text="カードをケースやスリーブから出し、カードリーダーの読み取り面に平らに置き直してから、もう一度読み取ってください。",
        )] if outcome is FailureName.CARD_ERROR else []
        return sleeve + [
            Step(
                code="device_failure",
                text=(
                    "顔認証付きカードリーダー・資格確認端末またはカードの不具合で資格確認ができません。"
                    "顔認証や暗証番号がうまくいかないだけなら、目視確認に切り替えて本人確認できます。"
                ),
            )
        ] + fallback

    if outcome is FailureName.CERT_BEYOND_GRACE:
        ended = f"（{_date_ja(grace_end(certificate_not_after))}まで）" if certificate_not_after else ""
        return [
            Step(
                code="cert_beyond_grace",
                text=(
                    f"電子証明書の有効期限が切れ、3か月の猶予期間{ended}も過ぎているため、マイナ保険証で資格確認できません。"
                    "市区町村で電子証明書を更新するよう案内してください（保険者から資格確認書が届きます）。"
                ),
            )
        ] + fallback

    if outcome is FailureName.PIN_BLOCKED:
        return [
            Step(
                code="pin_blocked",
                text=(
                    "暗証番号がロックされています（3回誤り）。顔認証または目視確認で受付できます。"
                    "ロックの解除はお住まいの市区町村の窓口で行えます。"
                ),
            )
        ]

    if outcome is FailureName.FACE_LOCKED:
        return [
            Step(
                code="face_locked",
                text=(
                    "このカードは顔認証に10回続けて失敗したため、顔認証がロックされています。暗証番号または目視確認で"
                    "受付できます。顔認証のロック解除はお住まいの市区町村の窓口で行えます。"
                ),
            )
        ]

    if outcome is FailureName.VISUAL_LOCKED:
        until = (
            f"{visual_locked_until.strftime('%H:%M')}まで" if visual_locked_until is not None else "5分間"
        )
        return [
            Step(
                code="visual_locked",
                text=(
                    f"目視確認用パスワードを5回続けて間違えたため、目視確認は{until}使えません。"
                    "その間は顔認証か暗証番号で受付してください。"
                ),
            )
        ]

    if outcome is FailureName.CERT_UNTRUSTED:
        return [
            Step(
                code="cert_untrusted",
                text=(
                    "このカードの電子証明書は、接続先のオンライン資格確認等システムでは確認できません"
                    "（接続先の設定、または訓練用シミュレータへの実カードの読み取り）。もう一度試しても結果は変わりません。"
                    "端末の管理者に接続先を確認してもらい、その間は次の方法で受付してください。"
                ),
            )
        ] + fallback

    if outcome is FailureName.AUTH_FAILED:
        return [
            Step(
                code="auth_retry",
                text=(
                    "本人確認ができませんでした。もう一度顔認証を行うか、暗証番号の入力、または職員による目視確認に"
                    "切り替えてください。"
                ),
            )
        ]

    if outcome is FailureName.CARD_REMOVED:
        return [
            Step(code="card_removed", text="途中でカードが取り外されました。カードをもう一度置いて、最初からやり直してください。")
        ]

    if outcome is FailureName.NOT_MY_NUMBER_CARD:
        return [
            Step(
                code="not_my_number_card",
                text=(
                    "置かれたカードはマイナンバーカードではありません。マイナ保険証（マイナンバーカード）か、"
                    "資格確認書の提示をお願いしてください。"
                ),
            )
        ]

    raise TypeError(f"no steps for {outcome!r}")  # a programming error: every member is handled above
