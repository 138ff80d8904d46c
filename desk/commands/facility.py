"""`desk facility init | show | set-visual-password`: the facility's configuration.

The 目視 password is read with getpass (twice) or, with --stdin, as one line from standard input for
scripts. It is never echoed, logged or stored in clear: only its scrypt hash reaches the file.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path

from desk.commands import EXIT_USAGE, UsageError, fail

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("facility", help="施設設定（医療機関コード・目視確認用パスワードなど）")
    sub = parser.add_subparsers(dest="facility_command", metavar="ACTION", required=True)

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="PATH", help="施設設定ファイル（省略時は $MADOGUCHI_CONFIG か既定の場所）")

    # no abbreviations: `--db-password SECRET` must be refused, not taken for --db-password-file
    init = sub.add_parser("init", parents=[common], help="施設設定を作成する", allow_abbrev=False)
    init.add_argument("--code", required=True, help="医療機関コード（10桁）")
    init.add_argument("--name", required=True, help="施設名")
    init.add_argument("--type", type=int, choices=(1, 2, 3), default=1, dest="facility_type",
                      help="1 通常 / 2 居宅同意取得型 / 3 資格確認限定型")
    init.add_argument("--category", required=True,
                      help="medical_clinic（医科診療所）/ hospital（病院）/ dental_clinic（歯科診療所）/ pharmacy（薬局）")
    init.add_argument("--prefecture", required=True, help="都道府県（例: 東京都）")
    init.add_argument("--res-dir", help="資格確認結果ファイルの出力先")
    init.add_argument("--journal", help="受付記録（SQLite）の場所（受付端末1台の施設。既定）")
    # several desks: one PostgreSQL database. The password is never an option (argv is visible in ps).
    init.add_argument("--db-name", metavar="NAME", help="施設の受付記録を PostgreSQL のこのデータベースに置く（複数の受付端末）")
    init.add_argument("--db-host", metavar="HOST", default="localhost", help="データベースサーバー（ホスト名・IP、または UNIX ソケットのフォルダ; 既定 localhost）")
    init.add_argument("--db-port", metavar="PORT", type=int, default=5432, help="データベースサーバーのポート（既定 5432）")
    init.add_argument("--db-user", metavar="USER", help="データベースのユーザー名")
    init.add_argument("--db-password-file", metavar="FILE",
                      help="データベースのパスワードを1行目に書いたファイル（権限 600）。環境変数 MADOGUCHI_DB_PASSWORD でも渡せます")
    init.add_argument("--desk-dir", metavar="DIR", help="データベースを使うとき、この受付端末だけのファイル（一時保存・端末の鍵）の場所")
    init.add_argument("--res-retention-days", type=int, metavar="N",
                      help="結果ファイルを残す日数（既定 93、0 で削除しない）。古いものは受付端末が起動時に削除します")
    init.add_argument("--exchange-folder", metavar="DIR",
                      help="資格確認端末の共有フォルダ（req/ res/ のある場所）。番号による照会と一括照会をこのフォルダ経由で行う")
    init.add_argument("--exchange-encoding", choices=("utf-8", "shift_jis"), default="utf-8",
                      help="共有フォルダに書く照会の文字コード（資格確認端末の設定に合わせる; 既定 utf-8）")
    init.add_argument("--exchange-timeout", type=float, metavar="SECONDS", default=30.0,
                      help="資格確認端末の応答を待つ秒数（既定 30）")
    init.add_argument("--pediatric-exception", action="store_true",
                      help="加算の小児科特例に当たる（小児科外来診療料を算定し、2024年の外来患者の3割以上が6歳未満）")
    init.add_argument("--force", action="store_true", help="既存の設定を上書きする（目視確認用パスワードは引き継ぐ）")
    init.set_defaults(func=_init)

    show = sub.add_parser("show", parents=[common], help="施設設定を表示する（パスワードは表示しない）")
    show.add_argument("--json", action="store_true", help="JSONで出力する")
    show.set_defaults(func=_show)

    setpw = sub.add_parser("set-visual-password", parents=[common], help="目視確認用パスワードを設定する")
    setpw.add_argument("--stdin", action="store_true", help="標準入力の1行目から読む（スクリプト用）")
    setpw.set_defaults(func=_set_visual_password)



def _init(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from desk.facility import FacilityCategory, FacilityConfig, FacilityError, config_path, load_config, save_config

    path = config_path(args.config)
    previous = None
    if path.exists():
        if not args.force:
            return fail(FacilityError(f"施設設定（{path}）は既にあります。上書きするには --force を付けてください。", "施設設定は作成済みです"))
        try:
            previous = load_config(path)
        except FacilityError:
            previous = None  # unreadable: replaced entirely
    try:
        fields: dict[str, object] = {
            "medical_institution_code": args.code,
            "name": args.name,
            "facility_type": args.facility_type,
            "category": FacilityCategory.parse(args.category),
            "prefecture": args.prefecture,
        }
        if args.res_dir:
            fields["res_dir"] = Path(args.res_dir)
        fields.update(_journal_fields(args))
        if args.res_retention_days is not None:
            fields["res_retention_days"] = args.res_retention_days
        if previous is not None and previous.visual_password is not None:
            fields["visual_password"] = previous.visual_password
        if args.pediatric_exception:
            fields["pediatric_exception"] = True
        if args.exchange_folder:
            fields["central"] = {
                "kind": "reqres", "folder": Path(args.exchange_folder), "encoding": args.exchange_encoding,
                "timeout_s": args.exchange_timeout,
            }
        config = FacilityConfig(**fields)
    except FacilityError as exc:
        return fail(exc, 2)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        print(f"施設設定が不正です: {where}: {first['msg']}", file=sys.stderr)
        return 2
    try:
        saved = save_config(config, path)
    except FacilityError as exc:
        return fail(exc)
    print(f"施設設定を保存しました: {saved}")
    if config.visual_password is None:
        print("目視確認用パスワードは未設定です。`desk facility set-visual-password` で設定してください。")
    return 0


def _journal_fields(args: argparse.Namespace) -> dict[str, object]:
    """The journal section `init` writes: a SQLite file (--journal) or the facility's database (--db-…)."""
    database = args.db_name is not None
    if not database:
        stray = [name for name in ("db_user", "db_password_file", "desk_dir") if getattr(args, name)]
        if stray:
            raise UsageError(f"--{stray[0].replace('_', '-')} はデータベース（--db-name）と一緒に指定してください。")
        return {"journal_path": Path(args.journal)} if args.journal else {}
    if args.journal:
        raise UsageError("--journal（SQLite のファイル）と --db-name（PostgreSQL）は一緒に指定できません。どちらか一つです。")
    if not args.db_user:
        raise UsageError("--db-name には --db-user（データベースのユーザー名）も指定してください。")
    journal: dict[str, object] = {"kind": "postgresql", "host": args.db_host, "port": args.db_port, "dbname": args.db_name,
                                  "user": args.db_user}
    if args.db_password_file:
        from desk.journal import JournalError
        from desk.journal.settings import PostgresSettings, read_password

        password_file = Path(args.db_password_file).absolute()
        journal["password_file"] = password_file
        try:  # a file others can read, or none, is said now rather than when the first desk starts
            read_password(PostgresSettings.model_validate({**journal, "password_file": password_file}))
        except JournalError as exc:
            raise UsageError(str(exc)) from exc
    if args.desk_dir:
        journal["desk_dir"] = Path(args.desk_dir).absolute()
    return {"journal": journal}


def _show(args: argparse.Namespace) -> int:
    from desk.facility import FacilityError, config_path, load_config

    path = config_path(args.config)
    try:
        config = load_config(path)
    except FacilityError as exc:
        return fail(exc)
    summary = config.summary()
    if args.json:
        print(json.dumps({"config_path": str(path), **summary}, ensure_ascii=False, indent=2))
        return 0
    print(f"施設設定: {path}")
    print(f"  医療機関コード   {config.medical_institution_code}")
    print(f"  施設名           {config.name}")
    print(f"  資格確認の類型   {int(config.facility_type)} {config.facility_type.label}")
    print(f"  施設の種類       {config.category.label}")
    print(f"  都道府県         {config.prefecture}")
    print(f"  結果ファイル     {config.res_dir}")
    from desk.facility import password_source
    from desk.journal.settings import SqliteSettings

    if isinstance(config.journal, SqliteSettings):
        print(f"  受付記録         {config.journal.path}")
    else:
        print(f"  受付記録         PostgreSQL {config.journal.describe()}（パスワード: {password_source(config.journal)}）")
        print(f"  この端末のファイル {config.desk_dir}（一時保存 {config.outbox_path.name}）")
    keep = f"{config.res_retention_days}日" if config.res_retention_days else "削除しない"
    print(f"  結果ファイルの保存期間 {keep}")
    print(f"  目視確認用パスワード {'設定済み' if config.visual_password else '未設定'}")
    print(f"  加算の小児科特例 {'あり' if config.pediatric_exception else 'なし'}")
    central = config.central
    if central.kind == "reqres":
        print(f"  照会の接続先     資格確認端末の共有フォルダ {central.folder}（{central.encoding.declaration}、応答待ち {central.timeout_s:g}秒）")
    else:
        print(f"  照会の接続先     シミュレータ{'（デモ）' if central.demo else ''}")
    return 0


def _read_password(use_stdin: bool) -> str | None:
    if use_stdin:
        try:
            line = sys.stdin.readline()
        except UnicodeDecodeError as exc:
            raise UsageError("標準入力のパスワードが UTF-8 の文字として読めません。") from exc
        return line.rstrip("\r\n")
    first = getpass.getpass("目視確認用パスワード: ")
    second = getpass.getpass("もう一度入力してください: ")
    if first != second:
        return None
    return first


def _set_visual_password(args: argparse.Namespace) -> int:
    from desk.facility import FacilityError, config_path, load_config, save_config, with_visual_password

    path = config_path(args.config)
    try:
        config = load_config(path)
    except FacilityError as exc:
        return fail(exc)
    try:
        password = _read_password(args.stdin)
    except (EOFError, KeyboardInterrupt):
        print("\n中止しました。パスワードは変更していません。", file=sys.stderr)
        return 1
    if password is None:
        print("2回の入力が一致しません。パスワードは変更していません。", file=sys.stderr)
        return 1
    try:
        config = with_visual_password(config, password)  # a password that breaks the rules: typed (2)
    except FacilityError as exc:
        return fail(exc, EXIT_USAGE)
    try:
        save_config(config, path)
    except FacilityError as exc:
        return fail(exc)
    finally:
        del password
    print("目視確認用パスワードを設定しました（ハッシュのみ保存）。")
    return 0
