"""Labels of the interface's code tables that a result shows (業務コード OQSCDnnn).

Sources: hangilc/myclinic-ts packages/onshi-result/codes.ts and the OqsFunc helper
(shared/research/eligibility-anchors.md §1.3). An unknown code is shown as it is, never dropped.
"""

from __future__ import annotations

__all__ = ["SEX", "PERSONAL_FAMILY", "LIMIT_CLASSIFICATION", "LIMIT_FLAG", "SPECIFIC_DISEASE", "label"]

SEX = {"1": "男", "2": "女", "3": "未設定"}  # OQSCD007
PERSONAL_FAMILY = {"1": "本人", "2": "家族"}  # OQSCD009
LIMIT_CLASSIFICATION = {"01": "限度額適用", "02": "限度額適用・標準負担額減額", "03": "標準負担額減額"}  # OQSCD011
LIMIT_FLAG = {  # OQSCD012 適用区分
    "A01": "ア", "A02": "イ", "A03": "ウ", "A04": "エ", "A05": "オ", "A06": "オ（境）",
    "B01": "現役並みⅢ", "B02": "現役並みⅡ", "B03": "現役並みⅠ", "B04": "一般", "B05": "低所得Ⅱ",
    "B06": "低所得Ⅰ", "B07": "低所得Ⅰ（老福）", "B08": "低所得Ⅰ（境）", "B09": "一般Ⅱ", "B10": "一般Ⅰ",
}
SPECIFIC_DISEASE = {  # OQSCD013
    "1": "人工透析を要する慢性腎不全", "2": "血友病（先天性血液凝固因子障害）", "3": "血液凝固因子製剤の投与に起因するHIV感染症",
}


def label(table: dict[str, str], code: str | None) -> str | None:
    if code is None:
        return None
    return table.get(code, f"コード {code}")
