"""`desk card info|photo`: read a card without asking for any PIN; `desk card release-face-lock`:
training's municipality window for a virtual card's face lock."""

from __future__ import annotations

import argparse
import datetime as dt
import errno
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from desk.commands import EXIT_USAGE, UsageError, fail, os_error
from reader.atr import INTERFACE_LABELS, card_interface, format_atr
from reader.models import Device
from reader.staff_facing import StaffFacingError

if TYPE_CHECKING:
    from reader.card import MynaCard
    from reader.transport import Transport

_JST = dt.timezone(dt.timedelta(hours=9))

__all__ = ["register"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    card = sub.add_parser("card", help="カードの情報を読む（暗証番号は使いません）")
    card_sub = card.add_subparsers(dest="card_command", metavar="ACTION", required=True)

    info = card_sub.add_parser("info", help="トークン・電子証明書・暗証番号の残り回数")
    _reader_options(info)
    info.add_argument("--json", action="store_true", help="JSONで出力")
    info.set_defaults(func=cmd_info)

    photo = card_sub.add_parser("photo", help="券面の顔写真（JPEG 2000）を保存（照合番号Bを使用）")
    _reader_options(photo)
    photo.add_argument("--out", required=True, type=Path, help="保存先ファイル（.jp2）")
    photo.add_argument("--check-b", help="照合番号B（14桁）。シミュレータでは省略するとカード券面から読み取ります")
    photo.set_defaults(func=cmd_photo)

    release = card_sub.add_parser(
        "release-face-lock", help="訓練: 仮想カードの顔認証の連続失敗回数を0に戻す（実物のカードは市区町村窓口で解除）"
    )
    release.add_argument("--reader", default=None, help="sim:カード名（既定 sim:adult）")
    release.add_argument("--sim-dir", type=Path, help="訓練用シミュレータの状態を置くディレクトリ")
    release.set_defaults(func=cmd_release_face_lock)


def _reader_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--reader", default=None, help="sim:カード名（既定 sim:adult）または pcsc:リーダー名")
    parser.add_argument("--trace", action="store_true", help="APDUを表示（暗証番号は伏せ字）")


def _open(args: argparse.Namespace) -> tuple[Transport, MynaCard]:
    from desk.wiring import DEFAULT_SIM_CARD, ReaderSpec, open_transport
    from reader.card import MynaCard
    from reader.trace import TracingTransport

    transport = open_transport(ReaderSpec.parse(args.reader or f"sim:{DEFAULT_SIM_CARD}"))
    if args.trace:
        transport = TracingTransport(transport, lambda line: print(line, file=sys.stderr))
    transport.connect()
    return transport, MynaCard(transport)



def cmd_info(args: argparse.Namespace) -> int:
    try:
        transport, card = _open(args)
        try:
            info = card.read_info()
            atr = transport.atr
            face_failures = _face_failures(args, transport)
        finally:
            transport.close()
    except StaffFacingError as exc:
        if args.json:  # scripts get the refusal as JSON too (e.g. a card that is not a My Number card)
            error = {"type": type(exc).__name__, "title": exc.title, "message": str(exc)}
            print(json.dumps({"reader": args.reader, "error": error}, ensure_ascii=False, indent=2))
        raise  # desk.cli's guarded(): 2 for what was typed, else 1
    cert = info.certificate
    if args.json:
        certificate = None if cert is None else {
            "serial": cert.serial,
            "subject": cert.subject,
            "issuer": cert.issuer,
            "not_before": cert.not_before.astimezone(_JST).date().isoformat(),
            "not_after": cert.expiry_date.isoformat(),
            "fingerprint_sha256": cert.fingerprint_sha256,
        }
        out = {
            "reader": transport.name,
            "interface": card_interface(atr),
            "atr": format_atr(atr),
            "token": info.token,
            "device": info.device.value,
            "certificate": certificate,  # null: an Android phone opens it only after its PIN
            "pin_set": info.pin_tries_left is not None,
            "pin_tries_left": info.pin_tries_left,
            "face_failures": face_failures,
        }
        print(json.dumps(out, ensure_ascii=False, indent=2))
        return 0
    if info.device is Device.IPHONE:
        tries = "なし（iPhoneの生体認証で本人確認）"
    elif info.pin_tries_left is None:
        tries = "暗証番号なし（顔認証マイナンバーカード）"
    else:
        tries = f"残り{info.pin_tries_left}回"
    print(f"リーダー        : {transport.name}（{INTERFACE_LABELS[card_interface(atr)]}）")
    print(f"カード種別      : {info.device.label}（{info.token}）")
    if cert is None:
        print("電子証明書      : スマホ用暗証番号の入力後に読み取れます")
    else:
        print(f"電子証明書      : シリアル {cert.serial}")
        print(f"  発行者        : {cert.issuer}")
        print(f"  有効期間      : {cert.not_before.astimezone(_JST).date()} 〜 {cert.expiry_date}")
    label = "スマホ用利用者証明用暗証番号" if info.device.is_phone else "利用者証明用暗証番号"
    print(f"{label}: {tries}")
    if face_failures is not None:
        print(f"顔認証の連続失敗: {face_failures}回（カードに記録）")
    return 0


def _face_failures(args: argparse.Namespace, transport: Transport) -> int | None:
    """The count a virtual card carries; None for a real card (its count cannot be read: the
    desk's journal keeps a mirror), whose reader is never sent the simulator's command."""
    if not (args.reader or "sim").startswith("sim"):
        return None
    from reader.face_counter import CardFaceCounter

    return CardFaceCounter(lambda: transport).consecutive_failures("")


def cmd_release_face_lock(args: argparse.Namespace) -> int:
    from desk.wiring import DEFAULT_SIM_CARD, ReaderSpec, release_face_lock

    spec = ReaderSpec.parse(args.reader or f"sim:{DEFAULT_SIM_CARD}")
    before = release_face_lock(spec, args.sim_dir)  # refusals reach desk.cli's guarded(): 2 for what was typed
    print(f"仮想カード {spec.name} の顔認証の連続失敗回数を0に戻しました（市区町村窓口での解除にあたります。戻す前: {before}回）。")
    return 0


def cmd_photo(args: argparse.Namespace) -> int:
    transport, card = _open(args)  # refusals reach desk.cli's guarded(): 2 for what was typed, else 1
    try:
        photo = card.read_face_photo(_check_b(args.check_b, transport))
    finally:
        transport.close()
    from desk.atomicfile import write_bytes_atomic

    folder = Path(args.out).parent
    if not folder.is_dir():
        return fail(UsageError(f"保存先のフォルダ {str(folder)[:200]} がありません。"), EXIT_USAGE)
    try:
        write_bytes_atomic(args.out, photo, mode=0o600)  # a face photo: personal data
    except OSError as exc:
        # named by what was typed, not by the temporary file beside it
        problem = os_error(exc)
        message = f"顔写真を {str(args.out)[:200]} に保存できません：{problem.title}（{exc.strerror or exc}）"
        typed = exc.errno in (errno.ENOTDIR, errno.EISDIR, errno.ENAMETOOLONG, errno.ENOENT, errno.EINVAL)
        return fail(UsageError(message) if typed else StaffFacingError(message, problem.title), EXIT_USAGE if typed else 1)
    print(f"顔写真を保存しました: {args.out}（{len(photo)} バイト）")
    return 0


def _check_b(typed: str | None, transport: Transport) -> str:
    from desk.wiring import card_front_reader
    from reader.card import normalize_check_b
    from reader.errors import InvalidInput

    if typed:
        return normalize_check_b(typed)
    front = card_front_reader(getattr(transport, "inner", transport))
    printed = front() if front is not None else None
    if printed is None:
        raise InvalidInput("照合番号Bを --check-b で指定してください（カード券面の生年月日6桁・有効期限の年4桁・セキュリティコード4桁）。")
    return printed
