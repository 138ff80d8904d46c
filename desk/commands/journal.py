"""`desk journal check|backup|restore|migrate`: the journal's health, a copy while desks run, the
way back from a damaged journal, and a desk's journal moved into the facility's database.

    desk journal check   [--journal PATH | --config PATH]         integrity, record counts, outbox
    desk journal backup  --to FILE [--journal PATH | --config …]  SQLite's online backup (desks may run)
    desk journal restore --from FILE [--journal PATH | --config …] with every desk stopped; the file
                                                                     replaced is kept beside it
    desk journal migrate --from FILE [--config PATH] [--json]      a desk's SQLite journal copied into
                                                                     the PostgreSQL journal the config names
                                                                     (again: nothing doubled; killed: run again)

backup and restore are SQLite's; a facility database is backed up with PostgreSQL's own tools.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

from desk.commands import EXIT_FAULT, UsageError, fail

if TYPE_CHECKING:
    from desk.facility import FacilityConfig

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("journal", help="受付記録の点検・バックアップ・復元")
    actions = parser.add_subparsers(dest="journal_command", metavar="ACTION", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--journal", type=Path, metavar="PATH", help="受付記録（SQLite）。省略時は施設設定の journal_path")
    common.add_argument("--config", metavar="PATH", help="施設設定（省略時は $MADOGUCHI_CONFIG か既定の場所）")
    check = actions.add_parser("check", parents=[common], help="整合性・件数・一時保存中の記録を確かめる")
    check.add_argument("--json", action="store_true", help="JSONで出力する")
    check.set_defaults(func=_check)
    backup = actions.add_parser("backup", parents=[common], help="受付中でもそのまま取れるバックアップ")
    backup.add_argument("--to", type=Path, required=True, metavar="FILE", help="バックアップの保存先")
    backup.set_defaults(func=_backup)
    restore = actions.add_parser("restore", parents=[common], help="バックアップから戻す（受付端末をすべて終了してから）")
    restore.add_argument("--from", dest="source", type=Path, required=True, metavar="FILE", help="戻すバックアップ")
    restore.set_defaults(func=_restore)
    migrate = actions.add_parser("migrate", help="この受付端末の受付記録（SQLite）を施設のデータベース（PostgreSQL）へ移す")
    migrate.add_argument("--from", dest="source", type=Path, required=True, metavar="FILE", help="移す受付記録（SQLite）")
    migrate.add_argument("--config", metavar="PATH", help="移す先のデータベースを指定した施設設定（省略時は $MADOGUCHI_CONFIG か既定の場所）")
    migrate.add_argument("--json", action="store_true", help="件数をJSONで出力する")
    migrate.set_defaults(func=_migrate)


def _facility(args: argparse.Namespace) -> FacilityConfig:
    from desk.facility import config_path, load_config

    path = config_path(args.config)
    if not args.config and not path.exists():
        raise UsageError("受付記録の場所がわかりません: --journal を指定するか、`desk facility init` で施設設定を作成してください。")
    return load_config(path)


def _journal_path(args: argparse.Namespace) -> Path:
    """The SQLite journal named on the command line or in the config (backup and restore are SQLite's)."""
    if args.journal is not None:
        return Path(args.journal)
    from desk.journal.settings import PostgresSettings

    config = _facility(args)
    if isinstance(config.journal, PostgresSettings):
        raise UsageError(
            f"この施設の受付記録はデータベース（{config.journal.describe()}）にあります。データベースのバックアップと復元は"
            "PostgreSQL の pg_dump / pg_restore で行ってください（README「複数の受付端末」）。"
        )
    return config.journal_path


def _check(args: argparse.Namespace) -> int:
    from desk.journal import Journal, JournalDamaged
    from desk.journal.settings import PostgresSettings
    from desk.outbox import Outbox, outbox_path

    if args.journal is None:
        config = _facility(args)
        if isinstance(config.journal, PostgresSettings):
            return _check_database(config, args.json)
    path = _journal_path(args)
    if not path.exists():
        raise UsageError(f"受付記録（{path}）がありません。")
    report: dict[str, object] = {"journal": str(path)}
    result: list[str] = []
    try:
        with Journal(path, read_only=True) as journal:
            result = journal.integrity()
            report["integrity"] = result
            report["confirmations"] = len(journal.confirmations())
            report["schema_version"] = journal.schema_version
    except JournalDamaged as exc:
        report["integrity"] = [exc.msg]
    report["outbox_waiting"] = len(Outbox(outbox_path(path)).pending())
    ok = result == ["ok"]
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        print(f"受付記録: {path}")
        problems = result or [str(report["integrity"])]
        print(f"整合性: {'正常' if ok else '異常 — ' + '; '.join(problems)[:500]}")
        if ok:
            print(f"確認の記録: {report['confirmations']}件（記録形式 {report['schema_version']}）")
        print(f"一時保存中（受付記録へ書き込み待ち）: {report['outbox_waiting']}件")
    if not ok:
        return fail(_damaged(path), EXIT_FAULT)
    return 0


def _check_database(config: FacilityConfig, as_json: bool) -> int:
    """The facility database: reachable, its schema, its records; and this desk's outbox."""
    from desk.journal import JournalDamaged
    from desk.journal.settings import PostgresSettings, open_store
    from desk.outbox import Outbox

    assert isinstance(config.journal, PostgresSettings)
    with open_store(config.journal, read_only=True) as store:
        result = store.integrity()
        report: dict[str, object] = {
            "journal": store.location, "integrity": result, "confirmations": len(store.confirmations()),
            "schema_version": store.schema_version, "outbox_waiting": len(Outbox(config.outbox_path).pending()),
        }
    ok = result == ["ok"]
    if as_json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        print(f"受付記録: PostgreSQL {report['journal']}")
        print(f"整合性: {'正常' if ok else '異常 — ' + '; '.join(result)[:500]}")
        print(f"確認の記録（施設全体）: {report['confirmations']}件（記録形式 {report['schema_version']}）")
        print(f"この端末で一時保存中（受付記録へ書き込み待ち）: {report['outbox_waiting']}件")
    if not ok:
        return fail(JournalDamaged(f"受付記録（{report['journal']}）の表が足りません：{'; '.join(result)}"), EXIT_FAULT)
    return 0


_TABLE_LABELS = {
    "confirmations": "資格確認",
    "visual_uses": "目視確認",
    "outage_queue": "障害時の再照会",
    "applied_ops": "反映済みの書き込み",
    "pending_exports": "結果ファイル待ち",
    "face_failures": "顔認証の失敗回数",
    "visual_password_failures": "目視パスワードの失敗回数",
}


def _migrate(args: argparse.Namespace) -> int:
    from desk.journal.settings import PostgresSettings

    source = Path(args.source)
    if not source.is_file():
        raise UsageError(f"移す受付記録（{source}）がありません（SQLite のファイルを指定してください）。")
    config = _facility(args)
    if not isinstance(config.journal, PostgresSettings):
        raise UsageError(
            f"施設設定の受付記録がデータベースではありません（{config.journal.path}）。先に `desk facility init --db-name …` で"
            "施設のデータベースを設定してください。"
        )
    from desk.journal.migrate import migrate_sqlite

    report = migrate_sqlite(source, config.journal)
    if args.json:
        print(json.dumps(report.model_dump(mode="json"), ensure_ascii=False, indent=2))
        return 0
    print(f"受付記録を移しました: {report.source} → {report.target}")
    for table, label in _TABLE_LABELS.items():
        print(f"  {label}: 今回 {report.copied[table]}件（移し済み {report.present[table]}件）")
    print("もう一度実行しても記録は重複しません。")
    return 0


def _damaged(path: Path) -> Exception:
    from desk.journal import JournalDamaged

    return JournalDamaged(f"受付記録（{path}）に異常があります。desk journal restore --from バックアップ で戻してください。")


def _backup(args: argparse.Namespace) -> int:
    from desk.journal import Journal

    path = _journal_path(args)
    if not path.exists():
        raise UsageError(f"受付記録（{path}）がありません。")
    target = Path(args.to)
    if target.resolve() == path.resolve():
        raise UsageError("バックアップの保存先が受付記録そのものです。別のファイルを指定してください。")
    with Journal(path, read_only=True) as journal:
        written = journal.backup_to(target)
    print(f"バックアップしました: {written}")
    return 0


def _restore(args: argparse.Namespace) -> int:
    from desk.journal import Journal, JournalDamaged, JournalError, exclusive_presence

    path = _journal_path(args)
    source = Path(args.source)
    if not source.is_file():
        raise UsageError(f"バックアップ（{source}）がありません。")
    lock = exclusive_presence(path)
    if lock is None:
        raise JournalError(
            f"受付記録（{path}）を使っている受付端末があります。すべての受付端末（desk）を終了してから戻してください。",
            "受付端末が動いています",
        )
    staged = path.with_name(f".{path.name}.restoring")
    try:
        count = _stage_backup(source, staged)
        # an older backup is brought to this version's format here, before anything is replaced
        with Journal(staged) as restored:
            if restored.integrity() != ["ok"]:
                raise JournalDamaged(f"バックアップ（{source}）を今の形式にできませんでした。")
        kept = _move_aside(path)
        os.replace(staged, path)
    finally:
        for leftover in (staged, staged.with_name(staged.name + ".desks")):
            leftover.unlink(missing_ok=True)
        if lock >= 0:
            os.close(lock)
    print(f"バックアップから戻しました: {path}（確認の記録 {count}件）")
    if kept is not None:
        print(f"置き換えた受付記録は残してあります: {kept}")
    return 0


def _stage_backup(source: Path, staged: Path) -> int:
    """The backup, checked, copied beside the journal (0600); its number of confirmations."""
    from desk.journal import JournalDamaged, copy_database

    try:
        src = sqlite3.connect(source.resolve().as_uri() + "?mode=ro", uri=True)
        try:
            if [str(r[0]) for r in src.execute("PRAGMA integrity_check")] != ["ok"]:
                raise JournalDamaged(f"バックアップ（{source}）にも異常があります。別のバックアップを指定してください。")
            count = int(src.execute("SELECT COUNT(*) FROM confirmations").fetchone()[0])
            copy_database(src, staged)  # any schema version: brought up to date after
        finally:
            src.close()
    except sqlite3.Error as exc:
        raise JournalDamaged(f"バックアップ（{source}）を受付記録として読めません：{exc}") from exc
    return count


def _move_aside(path: Path) -> Path | None:
    """The journal being replaced, kept beside it (it may hold records the backup lacks)."""
    if not path.exists():
        return None
    kept = path.with_name(f"{path.name}.replaced-{dt.datetime.now():%Y%m%d-%H%M%S}")
    os.replace(path, kept)
    for suffix in ("-wal", "-shm"):
        side = path.with_name(path.name + suffix)
        if side.exists():
            os.replace(side, kept.with_name(kept.name + suffix))
    return kept
