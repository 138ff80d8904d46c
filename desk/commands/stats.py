"""`desk stats --month YYYY-MM [--json] [--journal PATH] [--config PATH]`: the monthly usage rate."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from desk.commands import EXIT_USAGE, UsageError, fail

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "stats",
        help="月ごとのマイナ保険証利用率と医療DX推進体制整備加算の区分",
        description="受付記録からマイナ保険証利用率（マイナ保険証利用件数 / オンライン資格確認利用件数）を計算します。",
    )
    parser.add_argument("--month", required=True, metavar="YYYY-MM", help="集計する月（日本時間）")
    parser.add_argument("--json", action="store_true", help="JSONで出力する")
    parser.add_argument("--receipts", type=int, metavar="N", help="この月のレセプト件数（レセプト件数ベースの利用率を計算する）")
    parser.add_argument("--journal", metavar="PATH", help="受付記録（SQLite）。省略時は施設設定の journal_path")
    parser.add_argument("--config", metavar="PATH", help="施設設定（省略時は $MADOGUCHI_CONFIG か既定の場所）")
    parser.set_defaults(func=run)



def run(args: argparse.Namespace) -> int:
    # Imported here so `desk --help` stays fast.
    from desk.facility import FacilityError, config_path, load_config
    from desk.journal import JournalError
    from desk.journal.settings import PostgresSettings, SqliteSettings, open_store
    from desk.stats import StatsError, monthly_usage, parse_month, render_text

    try:
        parse_month(args.month)
    except StatsError as exc:
        print(f"{exc.title}: {exc}", file=sys.stderr)
        return 2
    if args.receipts is not None and not 0 <= args.receipts <= 10_000_000:
        return fail(UsageError("--receipts は0以上のレセプト件数です"), EXIT_USAGE)

    config = None
    path = config_path(args.config)
    if args.config or path.exists():
        try:
            config = load_config(path)
        except FacilityError as exc:
            return fail(exc)
    if args.journal is not None and not _is_file(args.journal):
        return fail(UsageError(f"受付記録 --journal {args.journal[:200]} がありません（ファイルを指定してください）。"), EXIT_USAGE)
    if args.journal is None and config is None:
        # no facility set up: the training desk's own journal (`desk`, `desk check`), said so
        from desk.wiring import training_config_path

        training = training_config_path()
        if training.exists():
            config = load_config(training)
            print(f"施設設定がないため、訓練用の受付記録（{config.journal.describe()}）を集計します。", file=sys.stderr)
    # --journal names a SQLite file; else the config's journal (a file, or the facility's database)
    settings: SqliteSettings | PostgresSettings
    if args.journal:
        settings = SqliteSettings(path=Path(args.journal))
    elif config is not None:
        settings = config.journal
    else:
        print(
            "受付記録の場所がわかりません: --journal を指定するか、`desk facility init` で施設設定を作成してください。",
            file=sys.stderr,
        )
        return 2
    try:
        with open_store(settings, read_only=True) as journal:
            usage = monthly_usage(
                journal,
                args.month,
                category=config.category.value if config else None,
                prefecture=config.prefecture if config else None,
                receipts=args.receipts,
                pediatric=config.pediatric_exception if config else False,
            )
    except (JournalError, StatsError) as exc:
        return fail(exc)
    if args.json:
        print(json.dumps(usage.model_dump(mode="json"), ensure_ascii=False, indent=2))
    else:
        sys.stdout.write(render_text(usage))
    return 0


def _is_file(name: str) -> bool:
    try:
        return Path(name).is_file()
    except OSError:  # a name too long for the file system, …
        return False
