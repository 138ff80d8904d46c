"""`desk check`: one headless confirmation on the simulated world, for tests, QA and training.

Exit 0 for any completed confirmation (whatever its outcome); 2 for usage errors.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("check", help="シミュレータで資格確認を1件実行（テスト・研修用）")
    p.add_argument("--card", required=True, help="カードのテストデータ名（fixtures/cards/*.json）")
    p.add_argument("--method", required=True, choices=["face", "pin", "visual"])
    p.add_argument("--pin", help="暗証番号（--method pin）")
    p.add_argument("--camera", default="holder", help="カメラのシナリオ（holder, other, dark …）")
    p.add_argument("--visual-password", help="目視モードのパスワード（--method visual）")
    p.add_argument("--staff", default="", help="職員ID（--method visual）")
    p.add_argument("--today", type=dt.date.fromisoformat, help="確認日 YYYY-MM-DD（既定: テストデータの基準日）")
    p.add_argument("--central", default="ok", choices=["ok", "slow", "down"], help="オンライン資格確認等システムの状態")
    p.add_argument("--population", type=Path, help="母集団のテストデータ（既定 fixtures/population.json）")
    p.add_argument("--consent", default="", help="同意する情報: YZK,SRJ,TKK,SHJ（薬剤・診療・特定健診・手術）")
    p.add_argument("--sim-dir", type=Path, help="シミュレータの状態を置くディレクトリ")
    p.add_argument("--json", action="store_true", help="JSONで出力")
    p.set_defaults(func=cmd_check)


def _usage(message: str) -> int:
    print(f"desk check: {message}", file=sys.stderr)
    return 2


def cmd_check(args: argparse.Namespace) -> int:
    from desk.models import AuthMethod, ConsentItem, FailureName
    from desk.outcome import build_outcome
    from sim.fixtures import REFERENCE_DATE, FixtureError, load_card_fixture
    from sim.session import make_sim_session

    method = AuthMethod(args.method)
    if method is AuthMethod.PIN and not args.pin:
        return _usage("--method pin には --pin が必要です")
    if method is AuthMethod.VISUAL and args.visual_password is None:
        return _usage("--method visual には --visual-password が必要です")
    try:
        consent = frozenset(ConsentItem(c.strip()) for c in args.consent.split(",") if c.strip())
    except ValueError:
        return _usage("--consent は YZK,SRJ,TKK,SHJ から選んでください")
    try:
        load_card_fixture(args.card)
    except FixtureError as exc:
        return _usage(str(exc))
    today = args.today or REFERENCE_DATE
    try:
        session, _ = make_sim_session(
            args.card, camera_scenario=args.camera, central=args.central, today=today,
            base_dir=args.sim_dir, population=args.population, with_camera=method is AuthMethod.FACE,
        )
    except FixtureError as exc:
        return _usage(str(exc))

    r = session.reception
    session.confirm_unattended(method, pin=args.pin, staff_id=args.staff, visual_password=args.visual_password, consent=consent)
    outcome = session.outcome
    if outcome is None:  # authentication did not succeed; the flow waits for another try
        if method is AuthMethod.PIN and r.pin_tries_left == 0:
            failure = FailureName.PIN_BLOCKED
        elif method is AuthMethod.FACE and not r.face_available:
            failure = FailureName.FACE_LOCKED
        elif method is AuthMethod.VISUAL and r.visual_locked:
            failure = FailureName.VISUAL_LOCKED
        else:
            failure = FailureName.AUTH_FAILED
        outcome = build_outcome(failure=failure, message=r.message, method=method, today=today)
    if args.json:
        out = outcome.to_check_json()
        if session.last_face is not None:
            out["face"] = {"distance": session.last_face.distance, "accepted": session.last_face.accepted}
        print(json.dumps(out, ensure_ascii=False, indent=2))
        return 0
    print(f"結果: {outcome.label}（{outcome.name}）")
    if outcome.message:
        print(outcome.message)
    if outcome.copay_percent is not None:
        print(f"自己負担: {outcome.copay_percent // 10}割")
    for i, step in enumerate(outcome.steps, 1):
        print(f"{i}. {step.text}")
    return 0
