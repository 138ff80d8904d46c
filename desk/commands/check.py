"""`desk check`: one headless confirmation, for tests, QA and training.

On the simulated world by default; `--reader pcsc[:NAME]` runs the same scripted confirmation over
a real reader (the facility's desk, or the training world with `--demo`): it waits for a card.
Exit 0 for any completed confirmation (whatever its outcome); 1 when the desk cannot be
assembled; 2 for usage errors.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import queue
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from desk.commands import EXIT_USAGE, UsageError, fail
from desk.commands.run import add_desk_options, desk_config, reader_spec
from desk.commands.secrets import check_staff_id, normalize_pin, read_secret
from reader.staff_facing import StaffFacingError

if TYPE_CHECKING:
    from desk.models import NumbersQuery
    from desk.outcome import Outcome
    from reader.face import MatchResult

__all__ = ["register"]

CARD_WAIT_S = 30.0  # how long a check on a real reader waits for a card to be placed


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("check", help="シミュレータで資格確認を1件実行（テスト・研修用）")
    p.add_argument("--card", help="カードのテストデータ名（fixtures/cards/*.json; シミュレータのリーダーのとき）")
    p.add_argument(
        "--method", choices=["face", "pin", "visual", "device"],
        help="本人確認の方法（カードによる確認）。device: iPhoneの生体認証（iPhoneをかざしたとき。暗証番号なし）",
    )
    p.add_argument(
        "--numbers", nargs=5, metavar=("保険者番号", "記号", "番号", "枝番", "生年月日"),
        help="カードを使わず、資格確認書・保険証の記載で照会する（照会区分2）。記号・枝番がなければ - 、生年月日は YYYY-MM-DD",
    )
    p.add_argument("--limit-consent", action="store_true", help="限度額情報（限度額適用区分・特定疾病）の提供に同意を得た")
    p.add_argument(
        "--document", choices=["shikaku-kakuninsho", "health-card", "notice"],
        help="提示された書類（--numbers のとき）: 資格確認書 / 健康保険証 / 資格情報のお知らせ。その日の取扱いを適用する",
    )
    p.add_argument("--with-card", action="store_true", help="マイナンバーカードも併せて提示された（--document notice のとき）")
    p.add_argument("--pin", help="暗証番号（--method pin; シミュレータのカードでの研修用。実機では --pin-stdin か端末での入力）")
    p.add_argument("--pin-stdin", action="store_true", help="暗証番号を標準入力の1行目から読む")
    p.add_argument("--camera", default=None, help="カメラのシナリオ（holder, other, dark …; 既定 holder）／pcsc のときはカメラ番号")
    p.add_argument("--visual-password", help="目視モードのパスワード（--method visual; シミュレータのカードでの研修用。実機では --visual-password-stdin）")
    p.add_argument("--visual-password-stdin", action="store_true", help="目視モードのパスワードを標準入力の1行目から読む")
    p.add_argument("--staff", default="", help="職員ID（--method visual）")
    p.add_argument("--today", type=_day, help="確認日 YYYY-MM-DD（既定: テストデータの基準日）")
    p.add_argument("--central", default="ok", choices=["ok", "slow", "down"], help="オンライン資格確認等システムの状態")
    p.add_argument("--population", type=Path, help="母集団のテストデータ（既定 fixtures/population.json）")
    p.add_argument("--consent", default="", help="同意する情報: YZK,SRJ,TKK,SHJ（薬剤・診療・特定健診・手術）")
    p.add_argument("--json", action="store_true", help="JSONで出力")
    add_desk_options(p)
    p.set_defaults(func=cmd_check)


def _day(text: str) -> dt.date:
    """A scenario day: a real date between 2000 and 2099 (the rules' and the fixtures' range)."""
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"日付は YYYY-MM-DD で指定してください（指定値: {text[:40]}）") from None
    if not dt.date(2000, 1, 1) <= day <= dt.date(2099, 12, 31):
        raise argparse.ArgumentTypeError("日付は2000年から2099年の範囲で指定してください")
    return day


def _simulated_reader(args: argparse.Namespace) -> bool:
    """The simulated card with the simulator's settings: its PIN and 目視 password are no secrets."""
    sim = args.reader is None or str(args.reader).split(":", 1)[0] == "sim"
    return sim and getattr(args, "facility_config", None) is None


def _usage(message: str) -> int:
    return fail(UsageError(message), EXIT_USAGE)


def cmd_check(args: argparse.Namespace) -> int:
    from desk.models import AuthMethod, ConsentItem
    from desk.wiring import ReaderSpec, check_population, open_desk

    if (args.method is None) == (args.numbers is None):
        return _usage("--method（カードによる確認）か --numbers（番号による照会）のどちらか一方を指定してください")
    if args.numbers is not None:
        return _check_numbers(args)
    if args.document or args.with_card:
        return _usage("--document・--with-card は --numbers のときに使えます")
    method = AuthMethod(args.method)
    # A PIN or the facility password on the command line is seen by every user of the machine
    # (ps, shell history): only the simulated card's known training values are taken from there.
    if (args.pin is not None or args.visual_password is not None) and not _simulated_reader(args):
        option = "--pin" if args.pin is not None else "--visual-password"
        return _usage(f"{option} は研修（シミュレータのカード）でだけ使えます。実機のリーダーでは {option}-stdin か、端末での入力を使ってください")
    # everything typed is checked before anything is opened or written
    pin = password = None
    staff = ""
    if method is AuthMethod.PIN:
        pin = normalize_pin(read_secret(argv_value=args.pin, from_stdin=args.pin_stdin, option="--pin", prompt="暗証番号（4桁）: "))
    if method is AuthMethod.VISUAL:
        staff = check_staff_id(args.staff)
        password = read_secret(
            argv_value=args.visual_password, from_stdin=args.visual_password_stdin, option="--visual-password",
            prompt="目視モードのパスワード: ",
        )
    try:
        consent = frozenset(ConsentItem(c.strip()) for c in args.consent.split(",") if c.strip())
    except ValueError:
        return _usage("--consent は YZK,SRJ,TKK,SHJ から選んでください")
    spec = reader_spec(args) if args.reader else ReaderSpec("sim")  # UnknownReaderSpec: a usage error
    if spec.kind == "sim":
        if not (args.card or spec.name):
            return _usage("--card でカードのテストデータ名を指定してください")
        spec = ReaderSpec("sim", args.card or spec.name)
    elif not args.demo and (args.today or args.central != "ok" or args.population):
        # a facility desk runs on the real clock and the central system its config names
        return _usage("--today・--central・--population は訓練用です（--reader sim か --demo のときに使えます）")
    if args.population is not None:
        check_population(args.population)  # a file named here that cannot be used: refused before anything runs
    # what cannot be assembled reaches desk.cli's guarded(): 2 for a usage error, else 1
    desk = open_desk(desk_config(
        args, spec, camera=(args.camera or ("holder" if spec.kind == "sim" else None)) if method is AuthMethod.FACE else None,
        today=args.today, central_mode=args.central, population=args.population,
    ))
    try:
        session = desk.session
        if (notice := session.started.notice()) is not None:
            print(notice, file=sys.stderr)
        if spec.kind == "pcsc":
            waiting: queue.Queue[bool] = queue.Queue()
            session.watch_cards(waiting.put)
            print("カードをカードリーダーに置いてください…", file=sys.stderr)
            try:
                while not waiting.get(timeout=CARD_WAIT_S):
                    pass
            except queue.Empty:
                return fail(StaffFacingError(f"{CARD_WAIT_S:g}秒待ちましたがカードが置かれませんでした。", "カードがありません"))
            session.on_card_inserted()
        outcome = session.confirm_unattended(
            method, pin=pin, staff_id=staff, visual_password=password, consent=consent, limit_consent=args.limit_consent,
        )
        last_face = session.last_face
        record, not_recorded = session.log.record_place, session.log.not_recorded
        blocked = session.blocked_by or _owed(session.log.export_problem)
        result_files = None if outcome.code is None else ("owed" if session.log.export_problem else "written")
    finally:
        desk.close()
    return _report(args, outcome, record, not_recorded, blocked, result_files, last_face)


def _report(
    args: argparse.Namespace, outcome: Outcome, record: str | None, not_recorded: Exception | None,
    blocked: Exception | None, result_files: str | None, last_face: MatchResult | None,
) -> int:
    if args.json:
        out = outcome.to_check_json()
        out["record"] = record
        out["result_files"] = result_files
        if last_face is not None:
            out["face"] = {"distance": last_face.distance, "accepted": last_face.accepted}
        print(json.dumps(out, ensure_ascii=False, indent=2))
        return _recorded(record, not_recorded, blocked)
    print(f"結果: {outcome.label}（{outcome.name}）")
    if outcome.message:
        print(outcome.message)
    if outcome.copay_percent is not None:
        print(f"自己負担: {outcome.copay_percent // 10}割")
    for i, step in enumerate(outcome.steps, 1):
        print(f"{i}. {step.text}")
    if record is not None:
        print(f"記録: {_RECORD_PLACES.get(record, record)}")
    return _recorded(record, not_recorded, blocked)


def _numbers_query(values: list[str], limit_consent: bool) -> NumbersQuery:
    """The five values of --numbers as a query ('-' for an empty 記号 or 枝番); UsageError when wrong."""
    from pydantic import ValidationError

    from desk.models import NumbersQuery
    from desk.typed_input import to_halfwidth, wrong_query_fields

    insurer, symbol, number, branch, birth = (to_halfwidth(v.strip()) for v in values)
    try:
        birth_date = dt.date.fromisoformat(birth)
    except ValueError:
        raise UsageError(f"生年月日は YYYY-MM-DD で指定してください（指定値: {birth[:20]}）") from None
    try:
        return NumbersQuery(
            insurer_number=insurer, insured_card_symbol="" if symbol == "-" else symbol,
            insured_identification_number=number, insured_branch_number="" if branch == "-" else branch,
            birth_date=birth_date, limit_consent=limit_consent,
        )
    except ValidationError as exc:
        raise UsageError(
            f"--numbers の値が正しくありません: {'、'.join(wrong_query_fields(exc))}"
            "（保険者番号は6桁か8桁の数字、枝番は2桁の数字か -）"
        ) from None


def _check_numbers(args: argparse.Namespace) -> int:
    """照会区分 2 on the desk: the facility's (with --config, through its central connection,
    without a card reader) or the training one."""
    from desk.documents import Document
    from desk.wiring import ReaderSpec, check_population, open_desk

    query = _numbers_query(args.numbers, args.limit_consent)
    document = Document(args.document) if args.document else None
    if args.with_card and document is None:
        return _usage("--with-card は --document と一緒に指定してください")
    if args.method is None and (args.pin or args.pin_stdin or args.visual_password or args.visual_password_stdin):
        return _usage("--numbers の照会に暗証番号・目視確認用パスワードは使いません")
    facility = args.facility_config is not None and not args.demo
    if facility and (args.today or args.central != "ok" or args.population):
        return _usage("--today・--central・--population は訓練用です（--config のときは使えません）")
    if args.population is not None:
        check_population(args.population)
    spec = ReaderSpec("none") if facility else ReaderSpec("sim")
    desk = open_desk(desk_config(args, spec, camera=None, today=args.today, central_mode=args.central, population=args.population))
    try:
        session = desk.session
        if (notice := session.started.notice()) is not None:
            print(notice, file=sys.stderr)
        outcome = session.query_numbers(query, document=document, with_card=args.with_card)
        record, not_recorded = session.log.record_place, session.log.not_recorded
        blocked = _owed(session.log.export_problem)
        result_files = None if outcome.code is None else ("owed" if session.log.export_problem else "written")
    finally:
        desk.close()
    return _report(args, outcome, record, not_recorded, blocked, result_files, None)


_RECORD_PLACES = {
    "journal": "受付記録に保存しました",
    "outbox": "一時保存しました（受付記録に書き込めるようになると自動で書き込みます）",
    "none": "保存できませんでした",
}


def _owed(problem: Exception | None) -> Exception | None:
    if problem is None:
        return None
    return StaffFacingError(
        f"{problem}。確認結果は受付記録に保存してあり、次に受付端末を起動したときに結果ファイルを書き出します。",
        "結果ファイルを書き出せませんでした",
    )


def _recorded(record: str | None, problem: Exception | None, blocked: Exception | None) -> int:
    """0 only when the confirmation ran and its record is durable (journal or outbox); 1 when the
    machine stopped it (目視 without a journal, a damaged facility config) or kept it nowhere."""
    if record == "none" and problem is not None:
        return fail(problem)
    if blocked is not None:
        return fail(blocked)
    return 0
