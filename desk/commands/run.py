"""`desk` with no sub-command: the reception screen.

    desk                                  simulated reader (card `adult` placed) and camera: training mode
    desk --reader sim:elder-80            another fixture card on the simulated reader
    desk --reader pcsc[:NAME] --camera 0  a real PC/SC reader and camera, on the facility's config
    desk --reader pcsc --demo             a real reader on the training world (a real card as a demo)
    desk --reader sim:adult,sim:child-5   two simulated readers: one lane each (Ctrl+←/→, Alt+1…9 switch)
    desk --reader pcsc:A --reader pcsc:B --camera 0 --camera 1   two PC/SC readers, a webcam each
    desk --reader 'pcsc:*'                every PC/SC reader pcscd knows, one lane each
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from reader.staff_facing import UsageError

if TYPE_CHECKING:
    from desk.wiring import DeskConfig, ReaderSpec

__all__ = ["add_desk_options", "add_run_options", "desk_config", "reader_spec", "reader_specs", "run_tui"]


def add_run_options(parser: argparse.ArgumentParser) -> None:
    """The top-level options of `desk` (they apply when no sub-command is given)."""
    add_desk_options(parser, several_readers=True)
    parser.add_argument(
        "--camera", action="append", default=None,
        help="受付画面のカメラ: 番号またはデバイス（pcsc のとき）／シナリオ名 holder, other …（sim のとき）。"
        "リーダーを複数指定したときは --reader と同じ順に1つずつ",
    )


def add_desk_options(parser: argparse.ArgumentParser, *, several_readers: bool = False) -> None:
    """What chooses the desk, shared by `desk` and `desk check` (one reader; `desk` takes several)."""
    if several_readers:
        parser.add_argument(
            "--reader", action="append", default=None,
            help="カードリーダー: sim[:カード名]（既定 sim:adult）、pcsc[:リーダー名] または pcsc:*（すべて）。"
            "複数指定すると1台ごとに受付レーン（例: --reader sim:adult,sim:child-5）",
        )
    else:
        parser.add_argument(
            "--reader", default=None, help="カードリーダー: sim[:カード名]（既定 sim:adult）または pcsc[:リーダー名]"
        )
    parser.add_argument(
        "--demo", action="store_true",
        help="pcsc のリーダーを訓練用の環境で使う（実際のマイナンバーカードをデモとして受け付け、記録はデモと明記）",
    )
    parser.add_argument("--sim-dir", type=Path, help="訓練用シミュレータの状態を置くディレクトリ")
    parser.add_argument("--config", type=Path, dest="facility_config", help="施設設定ファイル（pcsc のとき）")


def reader_spec(args: argparse.Namespace) -> ReaderSpec:
    """`--reader`, parsed once (UnknownReaderSpec for anything but sim[:CARD] / pcsc[:NAME])."""
    from desk.wiring import DEFAULT_SIM_CARD, ReaderSpec

    return ReaderSpec.parse(args.reader or f"sim:{DEFAULT_SIM_CARD}")


def reader_specs(args: argparse.Namespace) -> list[ReaderSpec]:
    """`--reader` of `desk`, given once or more (each possibly a comma-separated list)."""
    from desk.wiring import DEFAULT_SIM_CARD, ReaderSpec

    return ReaderSpec.parse_many(args.reader or [f"sim:{DEFAULT_SIM_CARD}"])


def desk_config(args: argparse.Namespace, reader: ReaderSpec, *, camera: str | None, **overrides: object) -> DeskConfig:
    """The DeskConfig the command line asks for."""
    from desk.wiring import DeskConfig

    return DeskConfig(
        reader=reader, camera=camera, demo=args.demo, sim_dir=args.sim_dir,
        facility_config=args.facility_config, **overrides,  # type: ignore[arg-type]
    )


def run_tui(args: argparse.Namespace) -> int:
    from desk.wiring import open_desk

    # what cannot be assembled reaches desk.cli's guarded(): 2 for a usage error, else 1
    readers = reader_specs(args)
    cameras: list[str] = args.camera or []
    if len(cameras) > max(len(readers), 1):
        raise UsageError(f"--camera が --reader より多く指定されています（リーダー {len(readers)}台、カメラ {len(cameras)}台）。")
    camera = cameras[0] if cameras else ("holder" if readers[0].kind == "sim" else None)
    desk = open_desk(desk_config(
        args, readers[0], camera=camera, face_in_child_process=True,
        more_readers=tuple(readers[1:]), more_cameras=tuple(cameras[1:]),
    ))

    from desk.tui.app import make_app

    try:
        make_app(
            desk.session, desk.training, face_engine=desk.face_engine, live_frames=1.0, lanes=desk.all_lanes(),
        ).run()
    finally:
        desk.close()
    return 0
