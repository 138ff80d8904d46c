"""Which journal a facility's desks use, as the facility config says, and opening it.

    {"kind": "sqlite", "path": "…/journal.sqlite3"}                    one desk (the default)
    {"kind": "postgresql", "host": "db.clinic.lan", "port": 5432,
     "dbname": "madoguchi", "user": "desk", "password_file": "…"}      every desk of the facility

The database password is never in the config, on the command line or in the journal: it comes from
the environment (MADOGUCHI_DB_PASSWORD) or from a file only its owner can read (0600); a file
others can read is refused. Without either, libpq's own ways apply (~/.pgpass, a unix socket's
peer authentication).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field

from desk.journal.records import JournalError
from desk.models import Model

if TYPE_CHECKING:
    from desk.journal.store import JournalStore

__all__ = ["PASSWORD_ENV", "JournalSettings", "PostgresSettings", "SqliteSettings", "open_store", "read_password"]

PASSWORD_ENV = "MADOGUCHI_DB_PASSWORD"


class SqliteSettings(Model):
    kind: Literal["sqlite"] = "sqlite"
    path: Path

    def describe(self) -> str:
        return str(self.path)


class PostgresSettings(Model):
    kind: Literal["postgresql"] = "postgresql"
    host: str = Field(default="localhost", min_length=1, max_length=255)  # a host, or a unix socket's folder
    port: int = Field(default=5432, ge=1, le=65535)
    dbname: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_$-]{0,62}$")
    user: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_$-]{0,62}$")
    password_file: Path | None = None
    connect_timeout_s: int = Field(default=5, ge=1, le=120)
    # this desk's own files (the outbox, the terminal's key); None: the user's data folder
    desk_dir: Path | None = None

    def describe(self) -> str:
        """host:port/dbname (user): for messages; never the password."""
        return f"{self.host}:{self.port}/{self.dbname}（ユーザー {self.user}）"


JournalSettings = Annotated[SqliteSettings | PostgresSettings, Field(discriminator="kind")]


def read_password(settings: PostgresSettings) -> str | None:
    """The database password: $MADOGUCHI_DB_PASSWORD, else the first line of `password_file`
    (refused unless only its owner can read it), else None."""
    from_env = os.environ.get(PASSWORD_ENV)
    if from_env:
        return from_env
    path = settings.password_file
    if path is None:
        return None
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise JournalError(f"データベースのパスワードファイル（{path}）は通常のファイルではありません。", "パスワードファイルを読めません")
        if info.st_mode & 0o077:
            raise JournalError(
                f"データベースのパスワードファイル（{path}）を所有者以外も読めます（権限 {stat.S_IMODE(info.st_mode):o}）。"
                f"chmod 600 {path} で所有者だけが読めるようにしてください。",
                "パスワードファイルが保護されていません",
            )
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise JournalError(
            f"データベースのパスワードファイル（{path}）がありません。作成するか、環境変数 {PASSWORD_ENV} で渡してください。",
            "パスワードファイルがありません",
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "UTF-8 のテキストではありません"
        raise JournalError(f"データベースのパスワードファイル（{path}）を読めません：{reason}", "パスワードファイルを読めません") from exc
    password = text.splitlines()[0] if text.strip() else ""
    if not password:
        raise JournalError(f"データベースのパスワードファイル（{path}）が空です。", "パスワードファイルが空です")
    return password


def open_store(settings: SqliteSettings | PostgresSettings, *, read_only: bool = False) -> JournalStore:
    """The journal the settings name, opened (and its schema brought up to date unless read-only)."""
    if isinstance(settings, PostgresSettings):
        from desk.journal.postgres import PostgresJournal

        return PostgresJournal(settings, read_only=read_only)
    from desk.journal.sqlite import Journal

    return Journal(settings.path, read_only=read_only)
