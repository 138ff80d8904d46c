"""`desk bulk --file patients.csv`: 一括照会 of a patient list through the 資格確認端末's folders.

    desk bulk --file tomorrow.csv                      training: the simulated terminal
    desk bulk --file tomorrow.csv --config F.json      the facility's terminal (central.kind reqres)

The day asked for is tomorrow unless --date says otherwise (the day-before check). Progress goes
to standard error, the summary table (有効 / 無効 / 該当なし / 複数該当 / エラー) to standard output,
and every patient's result to a CSV (--out; default beside the list). Exit 0 when every patient
was asked (whatever the answers), 1 when some could not be, 2 for a wrong command or list.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

from desk.commands import EXIT_USAGE, UsageError, fail

__all__ = ["register"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("bulk", help="患者リストの一括照会（前日照会; 資格確認端末の共有フォルダ経由）")
    p.add_argument("--file", required=True, type=Path, help="患者リストのCSV（保険者番号,記号,番号,枝番,生年月日[,患者ID]）")
    p.add_argument("--out", type=Path, help="結果のCSV（既定: 患者リストと同じ場所に <名前>_照会結果.csv）")
    p.add_argument("--date", help="照会する日 YYYY-MM-DD（既定: 明日）")
    p.add_argument("--chunk", type=int, default=100, help="一度に送る人数（既定 100）")
    p.add_argument("--json", action="store_true", help="集計と結果をJSONで出力")
    p.add_argument("--sim-dir", type=Path, help="訓練用シミュレータの状態を置くディレクトリ")
    p.add_argument("--config", type=Path, dest="facility_config", help="施設設定ファイル（資格確認端末の共有フォルダを使う）")
    p.set_defaults(func=cmd_bulk)


def _date(text: str | None, today: dt.date) -> dt.date:
    if text is None:
        return today + dt.timedelta(days=1)
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--date は YYYY-MM-DD で指定してください（指定値: {text[:20]}）") from None


class _Progress:
    """A bar on a terminal; plain lines when standard error is a file or a pipe."""

    def __init__(self) -> None:
        from rich.progress import Progress, TaskID

        self._bar: Progress | None = None
        self._task: TaskID | None = None
        if sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn

            self._bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                                 console=Console(stderr=True), transient=False)

    def __enter__(self) -> _Progress:
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()

    def __call__(self, done: int, total: int, what: str) -> None:
        if self._bar is None:
            print(f"[{done}/{total}] {what}", file=sys.stderr, flush=True)
            return
        if self._task is None:
            self._task = self._bar.add_task(what, total=total)
        self._bar.update(self._task, completed=done, description=what)


def cmd_bulk(args: argparse.Namespace) -> int:
    from desk.exchange.bulk import read_patient_list, run_bulk, summarize, write_results_csv
    from desk.wiring import DeskConfig, ReaderSpec, open_bulk

    if not 1 <= args.chunk <= 1000:
        return fail(UsageError("--chunk は 1 から 1000 の間で指定してください"), EXIT_USAGE)
    rows = read_patient_list(args.file)  # a wrong list: exit 2 before anything is sent
    out = args.out or args.file.with_name(f"{args.file.stem}_照会結果.csv")
    if out.resolve() == args.file.resolve():
        return fail(UsageError("結果のCSVを患者リストと同じファイルにはできません"), EXIT_USAGE)
    if not out.parent.is_dir():  # said before asking, not after the answers are in
        return fail(UsageError(f"結果のCSVの保存先 {out.parent} がありません"), EXIT_USAGE)
    spec = ReaderSpec("none") if args.facility_config is not None else ReaderSpec("sim")
    desk = open_bulk(DeskConfig(reader=spec, camera=None, sim_dir=args.sim_dir, facility_config=args.facility_config))
    try:
        day = _date(args.date, desk.today)
        print(f"{day:%Y-%m-%d} の資格を {len(rows)}人分 照会します（{desk.central.folders.root}）", file=sys.stderr)
        with _Progress() as progress:
            outcomes = run_bulk(
                desk.central, rows, confirmation_date=day, medical_institution_code=desk.facility.medical_institution_code,
                chunk=args.chunk, progress=progress, poll_s=0.05,
            )
    finally:
        desk.close()
    saved = write_results_csv(out, outcomes)
    summary = summarize(outcomes)
    if args.json:
        patients = [
            {"line": o.row.line, "patient_id": o.row.patient_id, "category": o.category,
             "validity": int(o.unit.reply.validity) if o.unit and o.unit.reply and o.unit.reply.validity else None,
             "error": o.error or (o.unit.error if o.unit else None)}
            for o in outcomes
        ]
        print(json.dumps({"date": day.isoformat(), "summary": summary, "results_csv": str(saved), "patients": patients},
                         ensure_ascii=False, indent=2))
    else:
        lines = [("結果", "人数"), *((label, f"{count:>4}") for label, count in summary.items()), ("計", f"{len(outcomes):>4}")]
        for label, count in lines:
            print(f"{label}{'　' * (5 - len(label))}{count}")
        print(f"結果のCSV: {saved}")
    return 1 if summary["エラー"] else 0
