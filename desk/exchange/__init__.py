"""The file exchange with a 資格確認端末 (オンライン資格確認 terminal): its shared `req/`, `res/`
and `face/` folders.

A レセコン drops a request XML into `req/`; the terminal's 連携アプリ answers into `res/` under the
request's name with `req` changed to `res`, or `<request>.err` when it cannot read the request.
Card confirmations made at the reader appear in `face/`. docs/interface.md has the names, the
shapes and their sources.

- `names`: the file names.
- `codec`: XML bytes in UTF-8 or Shift_JIS (CharacterCodeIdentifier).
- `requests`: the request and bulk messages (照会区分 2, 一括照会).
- `folders`: writing a file whole (temp, fsync, rename) and waiting for an answer.
- `reqres_central`: `ReqResCentral`, the desk's CentralSystem over those folders.
- `bulk`: the day-before 一括照会 of a patient list (CSV in, CSV out).
"""
