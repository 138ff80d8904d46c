"""The facility's configuration: who we are, where files go, and the 目視 password's hash.

Stored as JSON at $MADOGUCHI_CONFIG, else <user config dir>/madoguchi/facility.json
($XDG_CONFIG_HOME or ~/.config on Linux and macOS, %APPDATA% on Windows). The file is written
atomically and readable by its owner only.

The 目視確認 password (seed: 医療機関等に個別に設定された目視モード用のパスワード, not the card's PIN) is
kept only as a salted hashlib.scrypt hash with its parameters, and compared in constant time. Five
wrong passwords lock 目視 for five minutes (counted in the journal so the lock survives a restart).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import os
import secrets
import sys
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SerializerFunctionWrapHandler, ValidationError, field_validator, model_serializer, model_validator

from desk.atomicfile import write_text_atomic
from desk.exchange.codec import Encoding
from desk.journal import VISUAL_LOCK_THRESHOLD, VisualLockCounter, VisualLockState
from desk.journal.settings import JournalSettings, PostgresSettings, SqliteSettings
from desk.models import FacilityType, Model
from desk.outbox import outbox_path
from desk.seed_stats import normalize_prefecture
from reader.staff_facing import StaffFacingError

__all__ = [
    "CONFIG_ENV",
    "MIN_VISUAL_PASSWORD_LENGTH",
    "FacilityCategory",
    "ScryptHash",
    "CentralSettings",
    "FacilityConfig",
    "FacilityError",
    "VisualCheck",
    "default_config_dir",
    "default_config_path",
    "default_data_dir",
    "config_path",
    "load_config",
    "save_config",
    "hash_visual_password",
    "with_visual_password",
    "verify_visual_password",
    "check_visual_password",
    "password_source",
]

CONFIG_ENV = "MADOGUCHI_CONFIG"
MIN_VISUAL_PASSWORD_LENGTH = 6
# scrypt cost: n=2**14, r=8 needs 16 MiB and a few tens of milliseconds: cheap at the desk, costly to brute-force.
SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
SCRYPT_DKLEN = 32
_SCRYPT_MAXMEM = 64 * 1024 * 1024


class FacilityError(StaffFacingError):
    """Configuration missing, unreadable or invalid, or a password that does not meet the rules."""

    title = "施設設定のエラー"


class FacilityCategory(str, Enum):
    """The category the MHLW statistics use (施設類型別の利用率)."""

    MEDICAL_CLINIC = "medical_clinic"
    HOSPITAL = "hospital"
    DENTAL_CLINIC = "dental_clinic"
    PHARMACY = "pharmacy"

    @property
    def label(self) -> str:
        return {
            "medical_clinic": "医科診療所",
            "hospital": "病院",
            "dental_clinic": "歯科診療所",
            "pharmacy": "薬局",
        }[self.value]

    @property
    def fee_schedule(self) -> str:
        """Which table of the 診療報酬 points applies: 医科, 歯科 or 調剤."""
        return {"medical_clinic": "医科", "hospital": "医科", "dental_clinic": "歯科", "pharmacy": "調剤"}[self.value]

    @classmethod
    def parse(cls, value: str) -> FacilityCategory:
        for member in cls:
            if value in (member.value, member.label):
                return member
        raise FacilityError(
            f"施設の種類「{value}」は使えません。{', '.join(f'{m.value}（{m.label}）' for m in cls)} のいずれかです。",
            "施設の種類が不正です",
        )


class ScryptHash(Model):
    algorithm: str = Field(default="scrypt", pattern=r"^scrypt$")
    salt: str  # base64
    hash: str  # base64
    n: int = Field(ge=2)
    r: int = Field(ge=1)
    p: int = Field(ge=1)
    dklen: int = Field(ge=16, le=64)


def default_config_dir() -> Path:
    if sys.platform == "win32" and os.environ.get("APPDATA"):
        return Path(os.environ["APPDATA"]) / "madoguchi"
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "madoguchi"


def default_data_dir() -> Path:
    if sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"]) / "madoguchi"
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "madoguchi"


def default_config_path() -> Path:
    return default_config_dir() / "facility.json"


def config_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The config file: an explicit path, else $MADOGUCHI_CONFIG, else the default."""
    if explicit:
        return Path(explicit)
    env = os.environ.get(CONFIG_ENV)
    return Path(env) if env else default_config_path()


class CentralSettings(Model):
    """Which central eligibility system this desk asks.

    - `sim`: the simulated central system (training, demonstrations).
    - `reqres`: a 資格確認端末's shared folder (`folder` with req/ and res/ inside), the way a
      レセコン reaches the real system: numbers queries and 一括照会 (desk/exchange/).
    """

    kind: Literal["sim", "reqres"] = "sim"
    # Accept a real My Number card (issuer: the JPKI 利用者証明用 CA) on its valid signature, as a
    # demo: marked as such in the result and never counted as a confirmation.
    demo: bool = False
    sim_dir: Path | None = None  # where the simulator keeps its CA keys (default: beside the journal)
    folder: Path | None = None  # reqres: the terminal's shared folder
    encoding: Encoding = Encoding.UTF8  # reqres: how requests are written (the terminal's setting)
    timeout_s: float = Field(default=30.0, gt=0, le=600)  # reqres: how long to wait for an answer

    @model_validator(mode="after")
    def _folder_for_reqres(self) -> CentralSettings:
        if self.kind == "reqres" and self.folder is None:
            raise ValueError("central.kind reqres needs central.folder (the 資格確認端末's shared folder)")
        return self


class FacilityConfig(Model):
    medical_institution_code: str = Field(pattern=r"^\d{10}$", description="医療機関コード (10 digits)")
    name: str = Field(min_length=1)
    facility_type: FacilityType = FacilityType.NORMAL
    category: FacilityCategory
    prefecture: str
    res_dir: Path = Field(default_factory=lambda: default_data_dir() / "res")
    # where the journal is: this desk's SQLite file (the default; written as `journal_path`, as
    # before), or the facility's PostgreSQL database shared by every desk (desk/journal/settings.py)
    journal: JournalSettings = Field(default_factory=lambda: SqliteSettings(path=default_data_dir() / "journal.sqlite3"))
    visual_password: ScryptHash | None = None
    central: CentralSettings = Field(default_factory=CentralSettings)
    # Result files hold names, addresses and birth dates: the desk removes those older than this
    # many days (the month's claims are long done by then; 0 keeps them for ever).
    res_retention_days: int = Field(default=93, ge=0, le=3650)
    # 小児科特例 of the 加算 (a clinic billing 小児科外来診療料 with ≥30% of its 2024 outpatients under 6):
    # the facility knows, the desk cannot tell
    pediatric_exception: bool = False

    @model_validator(mode="before")
    @classmethod
    def _journal_path(cls, data: Any) -> Any:
        """A config with `journal_path` (every config before the journal section) names a SQLite journal."""
        if isinstance(data, dict) and "journal_path" in data:
            data = dict(data)
            path = data.pop("journal_path")
            given = data.get("journal")
            if isinstance(given, dict) and given.get("kind", "sqlite") != "sqlite":
                raise ValueError("journal_path (SQLite) and a journal section of another kind: keep one of them")
            data["journal"] = {"kind": "sqlite", "path": path}
        return data

    @model_serializer(mode="wrap")
    def _write_journal_path(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """A SQLite journal is written as `journal_path`, as before: a desk of the previous version
        still reads the file."""
        data: dict[str, Any] = handler(self)
        journal = data.get("journal")
        if isinstance(journal, dict) and journal.get("kind") == "sqlite":
            del data["journal"]
            data["journal_path"] = journal["path"]
        return data

    @property
    def journal_path(self) -> Path:
        """The SQLite journal's file (FacilityError for a facility on PostgreSQL, which has none)."""
        if isinstance(self.journal, SqliteSettings):
            return self.journal.path
        raise FacilityError(
            f"この施設の受付記録はデータベース（{self.journal.describe()}）にあり、ファイルではありません。",
            "受付記録はデータベースにあります",
        )

    @property
    def desk_dir(self) -> Path:
        """This desk's own files (its terminal key, the simulator's keys, the outbox): beside a
        SQLite journal, else the folder the PostgreSQL settings name (default: the data folder)."""
        if isinstance(self.journal, SqliteSettings):
            return self.journal.path.parent
        return self.journal.desk_dir or default_data_dir()

    @property
    def outbox_path(self) -> Path:
        """Where this desk's writes wait while the journal cannot take them: always a local file,
        also when the journal is the facility's database (that is what it waits for)."""
        if isinstance(self.journal, SqliteSettings):
            return outbox_path(self.journal.path)
        return self.desk_dir / "facility-journal.outbox"

    @field_validator("name")
    @classmethod
    def _printable(cls, value: str) -> str:
        if not value.isprintable():
            raise ValueError("control characters are not allowed")
        return value

    @field_validator("prefecture")
    @classmethod
    def _prefecture(cls, value: str) -> str:
        full = normalize_prefecture(value)
        if full is None:
            raise ValueError(f"unknown prefecture {value!r}")
        return full

    def summary(self) -> dict[str, object]:
        """What `desk facility show` prints: everything but the hash."""
        return {
            "medical_institution_code": self.medical_institution_code,
            "name": self.name,
            "facility_type": int(self.facility_type),
            "facility_type_label": self.facility_type.label,
            "category": self.category.value,
            "category_label": self.category.label,
            "prefecture": self.prefecture,
            "res_dir": str(self.res_dir),
            **({"journal_path": str(self.journal.path)} if isinstance(self.journal, SqliteSettings) else {
                "journal": {"kind": "postgresql", "database": self.journal.describe(),
                            "password": password_source(self.journal)},
            }),
            "res_retention_days": self.res_retention_days,
            "pediatric_exception": self.pediatric_exception,
            "visual_password": "set" if self.visual_password else "unset",
            "central": self.central.kind + ("（デモ: 実カードを受け付ける）" if self.central.demo else "") + (f"（{self.central.folder}）" if self.central.folder else ""),
        }


def password_source(settings: PostgresSettings) -> str:
    """Where the database password comes from, never what it is."""
    from desk.journal.settings import PASSWORD_ENV

    if os.environ.get(PASSWORD_ENV):
        return f"環境変数 {PASSWORD_ENV}"
    return f"ファイル {settings.password_file}" if settings.password_file else "なし（~/.pgpass など）"


def load_config(path: str | os.PathLike[str] | None = None) -> FacilityConfig:
    target = config_path(path)
    try:
        text = target.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FacilityError(
            f"施設設定（{target}）がありません。`desk facility init` で作成してください。", "施設設定がありません"
        ) from None
    except OSError as exc:
        raise FacilityError(f"施設設定（{target}）を読めません：{exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise FacilityError(f"施設設定（{target}）は UTF-8 のテキストではありません（壊れています）。", "施設設定が不正です") from exc
    try:
        return FacilityConfig.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(全体)"
        raise FacilityError(f"施設設定（{target}）の {where} が不正です：{first['msg']}", "施設設定が不正です") from exc


def save_config(config: FacilityConfig, path: str | os.PathLike[str] | None = None) -> Path:
    target = config_path(path)
    text = json.dumps(config.model_dump(mode="json"), ensure_ascii=False, indent=2) + "\n"
    try:
        return write_text_atomic(target, text, mode=0o600)
    except OSError as exc:
        raise FacilityError(f"施設設定（{target}）を保存できません：{exc.strerror or exc}") from exc


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, dklen: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=dklen, maxmem=_SCRYPT_MAXMEM)


def hash_visual_password(
    password: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P, dklen: int = SCRYPT_DKLEN
) -> ScryptHash:
    """A fresh salted scrypt hash. The password itself is not kept anywhere."""
    if len(password) < MIN_VISUAL_PASSWORD_LENGTH or not password.strip():
        raise FacilityError(
            f"目視確認用パスワードは{MIN_VISUAL_PASSWORD_LENGTH}文字以上にしてください。", "パスワードが短すぎます"
        )
    if not password.isprintable():
        raise FacilityError("目視確認用パスワードに制御文字は使えません。", "パスワードが不正です")
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, n, r, p, dklen)
    return ScryptHash(
        salt=base64.b64encode(salt).decode("ascii"),
        hash=base64.b64encode(digest).decode("ascii"),
        n=n,
        r=r,
        p=p,
        dklen=dklen,
    )


def with_visual_password(config: FacilityConfig, password: str, **scrypt_params: int) -> FacilityConfig:
    return config.model_copy(update={"visual_password": hash_visual_password(password, **scrypt_params)})


def verify_visual_password(config: FacilityConfig, candidate: str) -> bool:
    """True when `candidate` matches the stored hash; constant-time comparison. False when none is set."""
    stored = config.visual_password
    if stored is None:
        return False
    try:
        candidate.encode("utf-8")
    except UnicodeEncodeError:
        return False  # not text at all (bytes that were not UTF-8): it matches no password
    try:
        salt = base64.b64decode(stored.salt, validate=True)
        expected = base64.b64decode(stored.hash, validate=True)
        digest = _scrypt(candidate, salt, stored.n, stored.r, stored.p, stored.dklen)
    except (ValueError, MemoryError) as exc:
        raise FacilityError("施設設定の目視確認用パスワードの記録が壊れています。設定し直してください。") from exc
    return hmac.compare_digest(digest, expected)


class VisualCheck(Model):
    accepted: bool
    locked: bool
    locked_until: dt.datetime | None = None
    tries_left: int

    @property
    def message(self) -> str:
        if self.accepted:
            return "目視確認用パスワードを確認しました。"
        if self.locked:
            until = self.locked_until.strftime("%H:%M") if self.locked_until else "しばらく"
            return f"目視確認用パスワードを5回続けて間違えたため、{until}まで目視確認は使えません。"
        return f"目視確認用パスワードが違います。あと{self.tries_left}回間違えると5分間使えなくなります。"


def check_visual_password(
    config: FacilityConfig,
    journal: VisualLockCounter,
    candidate: str,
    *,
    now: dt.datetime | None = None,
    verify: Callable[[FacilityConfig, str], bool] = verify_visual_password,
) -> VisualCheck:
    """Verify the 目視 password with the facility's lockout: refused without checking while locked.

    `verify` may answer from a check made while the password was typed (desk/password_precheck.py);
    the try is counted here either way."""
    if config.visual_password is None:
        raise FacilityError(
            "目視確認用パスワードが設定されていません。`desk facility set-visual-password` で設定してください。",
            "目視確認用パスワードが未設定です",
        )
    code = config.medical_institution_code
    state: VisualLockState = journal.visual_lock_state(code, now=now)
    if state.locked:
        return VisualCheck(accepted=False, locked=True, locked_until=state.locked_until, tries_left=0)
    if verify(config, candidate):
        journal.record_visual_password_success(code, now=now)
        return VisualCheck(accepted=True, locked=False, tries_left=VISUAL_LOCK_THRESHOLD)
    state = journal.record_visual_password_failure(code, now=now)
    return VisualCheck(accepted=False, locked=state.locked, locked_until=state.locked_until, tries_left=state.tries_left)
