"""`desk readers`: the PC/SC card readers and whether a card is on each, or why none are seen."""

from __future__ import annotations

import argparse
import json
import sys

__all__ = ["register", "cmd_readers"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    readers = sub.add_parser("readers", help="接続されているカードリーダー（PC/SC）とカードの有無")
    readers.add_argument("--json", action="store_true", help="JSONで出力")
    readers.set_defaults(func=cmd_readers)


def cmd_readers(args: argparse.Namespace) -> int:
    from reader.atr import INTERFACE_LABELS
    from reader.errors import ReaderError
    from reader.pcsc import list_readers

    try:
        readers = list_readers()
    except ReaderError as exc:  # pcscd not running, pyscard missing
        if args.json:  # scripts read the problem as JSON; staff read it on stderr either way
            print(json.dumps({"readers": [], "problem": {"title": exc.title, "message": str(exc)}}, ensure_ascii=False))
        print(f"{exc.title}: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps({"readers": [r.model_dump() for r in readers]}, ensure_ascii=False, indent=2))
        if not readers:
            print("カードリーダーが見つかりません: リーダーが接続されていません。", file=sys.stderr)
        return 0 if readers else 1
    if not readers:
        print(
            "カードリーダーが見つかりません: PC/SC サービス（pcscd）は動いていますが、リーダーが接続されていません。"
            "USBケーブルを確認して、リーダーを挿し直してください。",
            file=sys.stderr,
        )
        return 1
    width = max(len(r.name) for r in readers)
    print(f"PC/SC カードリーダー（{len(readers)}台）")
    for r in readers:
        state = "カードあり" if r.card_present else "カードなし"
        if r.in_use:
            state += "（ほかのアプリが使用中）"
        atr = f"  ATR {r.atr}（{INTERFACE_LABELS[r.interface]}）" if r.atr and r.interface else ""
        print(f"  {r.name.ljust(width)}  {state}{atr}")
    print("カードを読むとき: desk card info --reader pcsc:リーダー名（名前の一部でも可）")
    return 0
