"""File names of the req/res/face exchange (docs/interface.md "File names").

`<業務 3 letters><si|mu><kind><01|02><req|res>_<identifier>.xml`: a request in `req/` is answered
in `res/` by the same name with `req` turned into `res`; a request the terminal cannot read is
put back into `res/` beside `<its base name>.err`.
"""

from __future__ import annotations

import re
from enum import Enum

__all__ = ["Business", "request_name", "response_name", "error_name", "parse_request_name", "IDENTIFIER"]


class Business(str, Enum):
    """The request kinds this desk sends or the simulated 連携アプリ answers."""

    SINGLE = "OQSsiquc01"  # 資格確認 by the numbers of a 資格確認書 / 保険証 (照会区分 2), one patient
    BULK_UPLOAD = "OQSmuquc01"  # 一括照会: the list is handed in, a reception number comes back
    BULK_FETCH = "OQSmuquc02"  # 一括照会: the results of a reception number

    @property
    def label(self) -> str:
        return {
            Business.SINGLE: "資格確認（個別照会）",
            Business.BULK_UPLOAD: "一括照会の登録",
            Business.BULK_FETCH: "一括照会の結果取得",
        }[self]


# What may stand between `req_` and `.xml`: letters, digits, '-' and '_' (no path, no dot).
IDENTIFIER = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_REQUEST = re.compile(r"^(?P<business>[A-Z]{3}[a-z]{2}[a-z]{3}\d{2})req_(?P<id>[A-Za-z0-9_-]{1,64})\.xml$")


def request_name(business: Business, identifier: str) -> str:
    if not IDENTIFIER.match(identifier):
        raise ValueError(f"bad file identifier {identifier!r}")
    return f"{business.value}req_{identifier}.xml"


def response_name(request: str) -> str:
    """`OQSsiquc01req_X.xml` → `OQSsiquc01res_X.xml`."""
    match = _REQUEST.match(request)
    if match is None:
        raise ValueError(f"not a request file name: {request!r}")
    return f"{match['business']}res_{match['id']}.xml"


def error_name(request: str) -> str:
    """The answer to a request the terminal could not read: `<request base name>.err`
    (`OQSsiquc01req_X.xml` → `OQSsiquc01req_X.err`), beside the request it puts back into res/."""
    return f"{request.removesuffix('.xml')}.err"


def parse_request_name(name: str) -> tuple[str, str] | None:
    """(business prefix, identifier) of a request file name, or None when it is not one."""
    match = _REQUEST.match(name)
    return None if match is None else (match["business"], match["id"])
