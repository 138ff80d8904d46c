"""Hostile inputs and faults against every `desk` command (issue 12, items 3–8, and more).

Each case runs `desk.cli.main(argv)` in-process, in an isolated environment (HOME, XDG_*,
MADOGUCHI_CONFIG and MADOGUCHI_SIM_DIR under the test's tmp folder), against a copy of a state
folder that already holds 2 confirmations. A few cases also run the real CLI in a subprocess. Every
case asserts the contract of desk/commands/__init__.py:

- main() returns an int (nothing escapes) and it is the expected exit code: 2 what was typed,
  1 a fault of the machine or its files, 0 done;
- a non-zero exit explains itself: stderr's first line is `TITLE: message` with a Japanese title,
  and it is never an unexpected error ("予期しないエラー", exit 70): every listed input is handled;
- no "Traceback" on stdout or stderr;
- no confirmation already in the journal is lost; for input that must be validated before anything
  is written, nothing is written (no journal row, no 目視 use, no card counter, no result file);
- after a fault goes away (lock released, mount made writable again) the next confirmation works,
  and a confirmation that was reported done (exit 0) is in the journal by then.

The number of cases and how many passed are printed at the end of every pytest run (conftest.py).
HOSTILE_DEBUG=1 prints each in-process run's exit code, stderr and stdout.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import shutil
import sqlite3
import stat
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from desk.cli import main
from tests.conftest import key_cache, new_sim_dir

ROOT = Path(__file__).resolve().parent.parent
KEYS = key_cache()  # resolved before any test moves HOME: the shared cache of simulated RSA keys
PASSWORD = "mokushi-2026"  # desk.wiring.SIM_VISUAL_PASSWORD
CARD_ID = "adult-100001"  # the adult fixture's card-state file name (fixture name - certificate serial)
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0

# Invalid UTF-8 on the command line: what Python makes of the bytes (surrogateescape).
BAD_UTF8 = os.fsdecode(b"S\xff\xfe01")
LONG = "a" * 300
SCREEN_STARTED = "（受付画面が起動しました）"  # what the stand-in for the reception screen prints


# -- the environment ------------------------------------------------------------------------------


@dataclass
class Ctx:
    tmp: Path
    sim: Path  # a copy of the prepared state folder (2 confirmations)
    cfg: Path  # $MADOGUCHI_CONFIG (absent unless a case writes it)
    env: dict[str, str]
    weakened: list[str] = field(default_factory=list)  # faults that could not be made to bite
    post_rows: int | None = None  # confirmations counted by a fault that takes the state folder away with it
    state_gone: bool = False

    @property
    def journal(self) -> Path:
        return self.sim / "journal.sqlite3"

    def subst(self, arg: str) -> str:
        for key, value in (
            ("{sim}", self.sim), ("{tmp}", self.tmp), ("{cfg}", self.cfg),
            ("{file}", self.tmp / "a-file"), ("{dir}", self.tmp / "a-dir"),
        ):
            arg = arg.replace(key, str(value))
        return arg


def _isolated_env(tmp: Path) -> dict[str, str]:
    return {
        "HOME": str(tmp / "home"),
        "XDG_CONFIG_HOME": str(tmp / "xdg-config"),
        "XDG_STATE_HOME": str(tmp / "xdg-state"),
        "XDG_DATA_HOME": str(tmp / "xdg-data"),
        "XDG_CACHE_HOME": str(tmp / "xdg-cache"),
        "MADOGUCHI_CONFIG": str(tmp / "config" / "facility.json"),
    }


@dataclass
class Result:
    code: Any  # an int when main() returned
    out: str
    err: str
    raised: BaseException | None = None


def _run_main(argv: list[str], stdin: bytes = b"") -> Result:
    """main(argv) with stdout/stderr/stdin as a real process has them (stderr backslashreplace)."""
    out, err = io.BytesIO(), io.BytesIO()
    saved = sys.stdout, sys.stderr, sys.stdin
    streams = (
        io.TextIOWrapper(out, encoding="utf-8", errors="strict", write_through=True),
        io.TextIOWrapper(err, encoding="utf-8", errors="backslashreplace", write_through=True),
        io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8"),
    )
    sys.stdout, sys.stderr, sys.stdin = streams
    raised: BaseException | None = None
    code: Any = None
    try:
        code = main(argv)
    except BaseException as exc:  # noqa: BLE001 - the point: nothing may escape main()
        raised = exc
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        sys.stdout, sys.stderr, sys.stdin = saved
    if os.environ.get("HOSTILE_DEBUG"):
        print(f"\n[{argv[:3]}...] code={code!r} raised={raised!r}\n  err={err.getvalue()[:300]!r}\n  out={out.getvalue()[:300]!r}", file=saved[1])
    result = Result(code, out.getvalue().decode("utf-8", "replace"), err.getvalue().decode("utf-8", "replace"), raised)
    for stream in streams:
        with contextlib.suppress(Exception):
            stream.detach()
    return result


def _run_process(argv: list[str], env: dict[str, str], stdin: bytes = b"") -> Result:
    proc = subprocess.run(
        [sys.executable, "-m", "desk", *argv], cwd=ROOT, env=env, input=stdin, capture_output=True, timeout=120,
    )
    return Result(proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace"))


def _quiet(argv: list[str], stdin: bytes = b"") -> Result:
    """A setup step that must succeed."""
    result = _run_main(argv, stdin)
    assert result.raised is None and result.code == 0, f"setup {argv}: {result.code} {result.raised} {result.err[:200]}"
    return result


def _pin_argv(sim: Path, pin: str = "1234") -> list[str]:
    return ["check", "--sim-dir", str(sim), "--json", "--card", "adult", "--method", "pin", "--pin", pin]


@pytest.fixture(scope="session")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A state folder that already holds 2 confirmations (made once, copied per case)."""
    base = tmp_path_factory.mktemp("hostile-prepared")
    sim = new_sim_dir(base / "sim")
    with pytest.MonkeyPatch.context() as mp:
        for key, value in _isolated_env(base).items():
            mp.setenv(key, value)
        mp.setenv("MADOGUCHI_SIM_DIR", str(sim))
        mp.chdir(base)
        for _ in range(2):
            _quiet(_pin_argv(sim))
    assert _rows(sim / "journal.sqlite3") == 2
    return sim


@pytest.fixture
def ctx(prepared: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Ctx:
    sim = tmp_path / "sim"
    shutil.copytree(prepared, sim, symlinks=True)
    facility = sim / "facility.json"  # it names the journal and result folder by absolute path
    facility.write_text(facility.read_text(encoding="utf-8").replace(str(prepared), str(sim)), encoding="utf-8")
    (tmp_path / "a-file").write_text("not a folder\n")
    (tmp_path / "a-dir").mkdir()
    env = _isolated_env(tmp_path)
    env["MADOGUCHI_SIM_DIR"] = str(sim)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    # If a case ever gets as far as the reception screen, it returns at once instead of waiting for keys.
    import desk.tui.app

    class _NoScreen:
        def run(self) -> None:
            print(SCREEN_STARTED)

    monkeypatch.setattr(desk.tui.app, "make_app", lambda *a, **k: _NoScreen())
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("MADOGUCHI_")}
    full_env.update(env)
    return Ctx(tmp=tmp_path, sim=sim, cfg=Path(env["MADOGUCHI_CONFIG"]), env=full_env)


# -- what is measured -----------------------------------------------------------------------------


def _rows(journal: Path, table: str = "confirmations") -> int | None:
    """Rows in a journal table, or None when the journal cannot be read."""
    if not journal.is_file():
        return None
    try:
        with contextlib.closing(sqlite3.connect(journal, timeout=10)) as conn:
            return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    except sqlite3.Error:
        return None


def _snapshot(c: Ctx) -> dict[str, Any]:
    """What validating input first must leave exactly as it was."""

    def listing(folder: Path) -> list[tuple[str, bytes]] | None:
        if not folder.is_dir():
            return None
        return sorted((p.name, p.read_bytes()) for p in folder.iterdir() if p.is_file())

    return {
        "confirmations": _rows(c.journal),
        "visual_uses": _rows(c.journal, "visual_uses"),
        "visual_password_failures": _rows(c.journal, "visual_password_failures"),
        "card counters (cards/)": listing(c.sim / "cards"),
        "result files (res/)": listing(c.sim / "res"),
    }


# -- faults ---------------------------------------------------------------------------------------


def _sh(*cmd: str) -> bool:
    return subprocess.run(cmd, capture_output=True).returncode == 0


_MOUNT_OK: bool | None = None


def _can_mount() -> bool:
    global _MOUNT_OK
    if _MOUNT_OK is None:
        _MOUNT_OK = False
        if IS_ROOT and shutil.which("mount"):
            with tempfile.TemporaryDirectory() as probe:
                if _sh("mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", probe):
                    _MOUNT_OK = _sh("umount", probe)
    return _MOUNT_OK


@contextlib.contextmanager
def _read_only(c: Ctx, path: Path) -> Iterator[None]:
    """`path` (file or folder) read-only for this process: a read-only bind mount as root, chmod otherwise.

    When neither can stop the process (root without mount), the case is weakened: it then only
    asserts a clean 0 or 1.
    """
    if IS_ROOT:
        if _can_mount() and _sh("mount", "--bind", str(path), str(path)):
            try:
                if not _sh("mount", "-o", "remount,ro,bind", str(path)):
                    c.weakened.append("remount ro failed")
                yield
            finally:
                _sh("umount", "-l", str(path))
            return
        c.weakened.append("root without mount: chmod does not stop root")
    mode = path.stat().st_mode
    path.chmod(0o500 if path.is_dir() else 0o400)
    try:
        yield
    finally:
        path.chmod(mode)


@contextlib.contextmanager
def _locked(journal: Path) -> Iterator[None]:
    """Another connection holds BEGIN EXCLUSIVE on the journal for the whole call."""
    conn = sqlite3.connect(journal, isolation_level=None, timeout=10)
    try:
        conn.execute("BEGIN EXCLUSIVE")
        yield
    finally:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        conn.close()


@contextlib.contextmanager
def _disk_full(c: Ctx) -> Iterator[None]:
    """The state folder (and {tmp}/full for --out) on a 200 KiB tmpfs, filled to the last byte."""
    if not _can_mount():
        pytest.skip("disk full needs a small tmpfs: only as root where mount works")
    mnt = c.tmp / "full"
    mnt.mkdir()
    assert _sh("mount", "-t", "tmpfs", "-o", "size=200k", "tmpfs", str(mnt))
    try:
        sim = mnt / "sim"
        shutil.copytree(c.sim, sim, symlinks=True)
        facility = sim / "facility.json"
        facility.write_text(facility.read_text(encoding="utf-8").replace(str(c.sim), str(sim)), encoding="utf-8")
        c.sim = sim
        fd = os.open(mnt / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            for chunk in (65536, 4096, 1):
                with contextlib.suppress(OSError):
                    while os.write(fd, b"\0" * chunk):
                        pass
        finally:
            os.close(fd)
        yield
    finally:
        with contextlib.suppress(OSError):
            (mnt / "filler").unlink()
        c.post_rows = _rows(c.journal)
        c.state_gone = True
        _sh("umount", "-l", str(mnt))  # lazy: an open descriptor left by a failed run must not keep it mounted


# -- setups (they run after the state folder is copied; some return a context for the call) --------


def write(rel: str, data: bytes | str) -> Callable[[Ctx], None]:
    def setup(c: Ctx) -> None:
        path = Path(c.subst(rel))
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()
        path.write_bytes(data.encode() if isinstance(data, str) else data)

    return setup


def make_dir(rel: str) -> Callable[[Ctx], None]:
    def setup(c: Ctx) -> None:
        path = Path(c.subst(rel))
        if path.exists() or path.is_symlink():
            path.unlink()
        path.mkdir(parents=True)
        (path / "inside").write_text("x")

    return setup


def own_keys(c: Ctx) -> None:
    """Give the state folder its own copy of the keys (never garble the shared key cache)."""
    keys = c.sim / "keys"
    if keys.is_symlink():
        keys.unlink()
        shutil.copytree(KEYS, keys)


def in_own_keys(inner: Callable[[Ctx], None]) -> Callable[[Ctx], None]:
    def setup(c: Ctx) -> None:
        own_keys(c)
        inner(c)

    return setup


def both(*setups: Callable[[Ctx], Any]) -> Callable[[Ctx], Any]:
    def setup(c: Ctx) -> Any:
        result = None
        for s in setups:
            result = s(c) or result
        return result

    return setup


def edit_facility(**changes: Any) -> Callable[[Ctx], None]:
    def setup(c: Ctx) -> None:
        path = c.sim / "facility.json"
        data = json.loads(path.read_text(encoding="utf-8"))
        for key, value in changes.items():
            if "." in key:
                outer, inner = key.split(".")
                data[outer][inner] = value
            else:
                data[key] = c.subst(value) if isinstance(value, str) else value
        path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")

    return setup


def garble_journal_page(c: Ctx) -> None:
    data = bytearray(c.journal.read_bytes())
    rng = random.Random(12)
    for page in range(1, len(data) // 4096):
        start = page * 4096 + 8
        data[start:start + 64] = bytes(rng.randrange(256) for _ in range(64))
    c.journal.write_bytes(bytes(data))


def journal_version(version: int) -> Callable[[Ctx], None]:
    def setup(c: Ctx) -> None:
        with contextlib.closing(sqlite3.connect(c.journal)) as conn:
            conn.execute(f"PRAGMA user_version = {version}")

    return setup


def wrong_pins(n: int) -> Callable[[Ctx], None]:
    def setup(c: Ctx) -> None:
        for _ in range(n):
            _quiet(_pin_argv(c.sim, "9999"))

    return setup


def counters(value: bytes | None = None, *, scale: int | None = None) -> Callable[[Ctx], None]:
    """After 2 wrong PINs (1 try left), the card-state file is garbled or its counters set to `scale`."""

    def setup(c: Ctx) -> None:
        wrong_pins(2)(c)
        path = c.sim / "cards" / f"{CARD_ID}.json"
        assert path.exists()
        if scale is not None:
            path.write_text(json.dumps({k: scale for k in json.loads(path.read_text())}))
        elif value is None:
            path.unlink()
            path.mkdir()
        else:
            path.write_bytes(value)

    return setup


def wrong_visual(n: int) -> Callable[[Ctx], None]:
    def setup(c: Ctx) -> None:
        for _ in range(n):
            _quiet(["check", "--sim-dir", str(c.sim), "--json", "--card", "adult", "--method", "visual",
                    "--visual-password", "wrong-password", "--staff", "S001"])

    return setup


def locked(c: Ctx) -> contextlib.AbstractContextManager[None]:
    return _locked(c.journal)


def read_only(rel: str) -> Callable[[Ctx], contextlib.AbstractContextManager[None]]:
    return lambda c: _read_only(c, Path(c.subst(rel)))


def fresh_sim_read_only(c: Ctx) -> contextlib.AbstractContextManager[None]:
    fresh = new_sim_dir(c.tmp / "fresh")
    return _read_only(c, fresh)


def disk_full(c: Ctx) -> contextlib.AbstractContextManager[None]:
    return _disk_full(c)


def config_copy_read_only(c: Ctx) -> contextlib.AbstractContextManager[None]:
    folder = c.tmp / "cfg-ro"
    folder.mkdir()
    shutil.copy(c.sim / "facility.json", folder / "facility.json")
    return _read_only(c, folder)


def device_node(c: Ctx) -> None:
    """{tmp}/device: a character device like /dev/null (root), else a FIFO (nothing opens it for writing)."""
    path = c.tmp / "device"
    if IS_ROOT:
        os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    else:
        os.mkfifo(path)
        if "card-photo" in os.environ.get("PYTEST_CURRENT_TEST", ""):
            pytest.skip("a device node for --out needs root (a FIFO would block the write)")


def deep_json(depth: int = 200_000) -> bytes:
    return b"[" * depth + b"]" * depth


HUGE_INT = b'{"persons": [], "version": ' + b"7" * 5000 + b"}"
RANDOM_BYTES = bytes(random.Random(7).randrange(256) for _ in range(64 * 1024))


# -- extra checks on a completed run --------------------------------------------------------------


def _json_out(r: Result) -> dict[str, Any]:
    return json.loads(r.out)


def no_tries_granted(c: Ctx, r: Result) -> None:
    """With 1 try left and the counter file damaged, no run may see more than 1 try."""
    text = r.out + r.err
    for granted in ("残り2回", "残り3回", "残り98回", "残り99回"):
        assert granted not in text, f"a damaged PIN-counter file granted tries: {granted!r} shown"
    if r.code == 0 and r.out.lstrip().startswith("{"):
        out = _json_out(r)
        if "pin_tries_left" in out:
            assert out["pin_tries_left"] in (None, 0, 1), f"pin_tries_left={out['pin_tries_left']}"
        elif "outcome" in out:
            assert out["outcome"]["name"] != "有効", "a wrong PIN on a card with 1 try left was accepted"


def still_locked(c: Ctx, r: Result) -> None:
    out = _json_out(r)
    assert out["outcome"]["name"] == "visual_locked", f"目視 lockout undone by --today: outcome {out['outcome']['name']}"


def device_kept(c: Ctx, r: Result) -> None:
    mode = (c.tmp / "device").lstat().st_mode
    assert stat.S_ISCHR(mode) or stat.S_ISFIFO(mode), "a device node named on the command line was replaced by a regular file"


def photo_written(c: Ctx, r: Result) -> None:
    assert (c.tmp / "photo.jp2").stat().st_size > 0


# -- the cases ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    id: str
    argv: tuple[str, ...]
    expect: frozenset[int]
    setup: Callable[[Ctx], Any] | None = None
    untouched: bool = False  # input validated before anything is written
    recover: bool = False  # after the fault: the next confirmation works and nothing reported done is missing
    preserve: str | None = None  # a damaged file that must be left exactly as it was (never replaced)
    check: Callable[[Ctx, Result], None] | None = None
    stdin: bytes = b""
    process: bool = False


CASES: list[Case] = []


def case(id: str, argv: tuple[str, ...] | list[str], expect: int | set[int], **kw: Any) -> None:
    CASES.append(Case(id, tuple(argv), frozenset({expect} if isinstance(expect, int) else expect), **kw))


CHECK = ("check", "--sim-dir", "{sim}", "--json")
CARD = (*CHECK, "--card", "adult")
PIN = (*CARD, "--method", "pin", "--pin", "1234")
VISUAL = (*CARD, "--method", "visual", "--visual-password", PASSWORD, "--staff", "S001")


def pin(p: str) -> tuple[str, ...]:
    return (*CARD, "--method", "pin", "--pin", p)


def staff(s: str) -> tuple[str, ...]:
    return (*CARD, "--method", "visual", "--visual-password", PASSWORD, "--staff", s)


def card(name: str) -> tuple[str, ...]:
    return (*CHECK, "--card", name, "--method", "pin", "--pin", "1234")


# check: inputs that are fine
case("check-fine-pin", PIN, 0)
case("check-fine-visual", VISUAL, 0)
case("check-fine-staff-64", staff("S" * 64), 0)
case("check-fine-consent", (*PIN, "--consent", "YZK,SRJ"), 0)
case("check-fine-consent-empty-items", (*PIN, "--consent", "YZK,,,"), 0)
case("check-fine-not-mynumber", card("not-mynumber"), 0)
case("check-fine-pin-blocked", card("pin-blocked"), 0)
case("check-fine-wrong-pin", pin("9999"), 0)
case("check-fine-today", (*PIN, "--today", "2026-11-30"), 0)
case("central-down-pin", (*PIN, "--central", "down"), 0)
case("central-down-visual", (*VISUAL, "--central", "down"), 0)

# check: the command line itself
case("check-unknown-option", (*PIN, "--bogus"), 2)
case("check-unknown-option-value", (*PIN, "--bogus=1"), 2)
case("check-extra-positional", (*PIN, "extra"), 2)
case("check-no-method", CARD, 2)
case("check-method-bogus", (*CARD, "--method", "bogus"), 2)
case("check-method-empty", (*CARD, "--method", ""), 2)
case("check-method-missing-value", (*CARD, "--method"), 2)
case("check-pin-missing", (*CARD, "--method", "pin"), 2, untouched=True)
case("check-pin-missing-value", (*CARD, "--method", "pin", "--pin"), 2, untouched=True)
case("check-visual-no-password", (*CARD, "--method", "visual", "--staff", "S001"), 2, untouched=True)
case("check-no-card", (*CHECK, "--method", "pin", "--pin", "1234"), 2, untouched=True)
case("check-sim-dir-missing-value", ("check", "--card", "adult", "--method", "pin", "--pin", "1234", "--sim-dir"), 2)
case("check-central-bogus", (*PIN, "--central", "bogus"), 2, untouched=True)
case("check-central-empty", (*PIN, "--central", ""), 2, untouched=True)
case("check-central-uppercase", (*PIN, "--central", "DOWN"), 2, untouched=True)
case("check-central-long", (*PIN, "--central", LONG), 2, untouched=True)

# check --pin (validated before anything is written: no try used, nothing journalled)
for _id, _pin in {
    "arabic-indic": "١٢٣٤", "3-digits": "123", "5-digits": "12345", "letters": "abcd",
    "mixed": "12a4", "empty": "", "space": "12 4", "newline": "1234\n", "minus": "-123", "300-digits": "1" * 300,
    "invalid-utf8": os.fsdecode(b"12\xff4"), "control": "12\x014", "superscript": "¹²³⁴",
}.items():
    case(f"check-pin-{_id}", pin(_pin), 2, untouched=True)
# full-width digits (an IME left in 全角) are the digits they are: the confirmation runs
case("check-pin-fullwidth", pin("１２３４"), 0)

# check --card (a fixture name: no path, no folder)
for _id, _card in {
    "nosuch": "nosuch", "empty": "", "dot": ".", "dotdot": "..", "parent-path": "../cards/adult",
    "inner-dotdot": "adult/../adult", "relative-json": "fixtures/cards/adult.json", "absolute": "/etc/passwd",
    "absolute-json": "/etc/passwd.json", "tmp-folder": "{dir}", "folder-json": "{tmp}/folder.json",
    "300-chars": LONG, "300-chars-json": LONG + ".json", "invalid-utf8": BAD_UTF8, "backslash": "..\\cards\\adult",
    "newline": "adult\n", "trailing-slash": "adult/",
}.items():
    setup = make_dir("{tmp}/folder.json") if _id == "folder-json" else None
    case(f"check-card-{_id}", card(_card), 2, untouched=True, setup=setup)

# check --today (dates in range, validated first)
for _id, _today in {
    "0001-01-01": "0001-01-01", "9999-12-31": "9999-12-31", "2026-02-30": "2026-02-30", "garbage": "garbage",
    "empty": "", "2026-13-01": "2026-13-01", "datetime": "2026-12-01T10:00", "300-chars": LONG,
    "invalid-utf8": BAD_UTF8, "fullwidth": "２０２６-１２-０１x",
}.items():
    case(f"check-today-{_id}", (*PIN, "--today", _today), 2, untouched=True)
case("check-today-0001-visual", (*VISUAL, "--today", "0001-01-01"), 2, untouched=True)
case("check-today-9999-central-down", (*PIN, "--central", "down", "--today", "9999-12-31"), 2, untouched=True)

# check --staff (length and characters, validated before the central system is asked)
for _id, _staff in {
    "65-chars": "S" * 65, "300-chars": LONG, "control-soh": "S\x01", "newline": "S\n001", "tab": "\t",
    "escape": "\x1b[31mS001", "del": "S001\x7f", "invalid-utf8": BAD_UTF8, "empty": "", "spaces": "   ",
    "nbsp": "\u00a0", "bidi-override": "S\u202e100", "zero-width": "\u200b",
}.items():
    case(f"check-staff-{_id}", staff(_staff), 2, untouched=True)
case("check-staff-65-central-down", (*staff("S" * 65), "--central", "down"), 2, untouched=True)

# check --visual-password (a wrong one is a completed confirmation: 0)
case("check-visual-password-empty", (*CARD, "--method", "visual", "--visual-password", "", "--staff", "S001"), {0, 2})
case("check-visual-password-300", (*CARD, "--method", "visual", "--visual-password", LONG, "--staff", "S001"), {0, 2})
case("check-visual-password-invalid-utf8",
     (*CARD, "--method", "visual", "--visual-password", BAD_UTF8, "--staff", "S001"), {0, 2})
case("check-visual-password-fullwidth",
     (*CARD, "--method", "visual", "--visual-password", "ｍｏｋｕｓｈｉ－２０２６", "--staff", "S001"), {0, 2})

# check --consent
for _id, _consent in {
    "garbage": "garbage", "one-bad": "YZK,BOGUS", "300-chars": LONG, "invalid-utf8": BAD_UTF8,
    "semicolons": "YZK;SRJ", "fullwidth": "ＹＺＫ",
}.items():
    case(f"check-consent-{_id}", (*PIN, "--consent", _consent), 2, untouched=True)

# check --camera (face): a scenario name, refused before the face matcher starts
for _id, _camera in {"nosuch": "nosuch", "path": "../holder", "300-chars": LONG, "invalid-utf8": BAD_UTF8}.items():
    case(f"check-camera-{_id}", (*CARD, "--method", "face", "--camera", _camera), 2, untouched=True)

# check --reader
case("check-reader-bogus", (*PIN, "--reader", "bogus"), 2, untouched=True)
case("check-reader-sim-nosuch", ("check", "--sim-dir", "{sim}", "--method", "pin", "--pin", "1234", "--reader", "sim:nosuch"), 2, untouched=True)
case("check-reader-sim-path", ("check", "--sim-dir", "{sim}", "--method", "pin", "--pin", "1234", "--reader", "sim:../cards/adult"), 2, untouched=True)
case("check-reader-empty-kind", (*PIN, "--reader", ":adult"), 2, untouched=True)
case("check-reader-pcsc-no-config", ("check", "--method", "pin", "--pin-stdin", "--reader", "pcsc:nonexistent"), 1,
     stdin=b"1234\n")
case("check-reader-pcsc-garbled-config", ("check", "--method", "pin", "--pin-stdin", "--reader", "pcsc:nonexistent"), 1,
     setup=write("{cfg}", "{garbled"), stdin=b"1234\n")
# a PIN or the facility password on the command line: only for the simulated card's training values
case("check-reader-pcsc-pin-in-argv", ("check", "--method", "pin", "--pin", "1234", "--reader", "pcsc:nonexistent"), 2,
     untouched=True)
case("check-reader-pcsc-password-in-argv", ("check", "--method", "visual", "--visual-password", PASSWORD, "--staff", "S1",
                                            "--reader", "pcsc"), 2, untouched=True)

# check --population (a file named on the command line: 2)
for _id, _data in {
    "garbled": b"{garbled", "empty": b"", "nested-200000": deep_json(), "5000-digit-int": HUGE_INT,
    "invalid-utf8": b'{"persons": ["\xff\xfe"]}', "array": b"[]", "null": b"null", "wrong-schema": b'{"persons": 5}',
    "nan": b'{"persons": NaN}', "utf16-bom": '{"persons": []}'.encode("utf-16"),
}.items():
    case(f"check-population-{_id}", (*PIN, "--population", "{tmp}/population.json"), 2, untouched=True,
         setup=write("{tmp}/population.json", _data))
case("check-population-missing", (*PIN, "--population", "{tmp}/nope.json"), 2, untouched=True)
case("check-population-folder", (*PIN, "--population", "{dir}"), 2, untouched=True)
case("check-population-under-file", (*PIN, "--population", "{file}/population.json"), 2, untouched=True)
case("check-population-300-chars", (*PIN, "--population", LONG), 2, untouched=True)

# check --sim-dir that cannot be used
case("check-sim-dir-is-file", ("check", "--sim-dir", "{file}", "--card", "adult", "--method", "pin", "--pin", "1234"), {1, 2})
case("check-sim-dir-under-file", ("check", "--sim-dir", "{file}/sim", "--card", "adult", "--method", "pin", "--pin", "1234"), {1, 2})
case("check-sim-dir-device", ("check", "--sim-dir", "{tmp}/device", "--card", "adult", "--method", "pin", "--pin", "1234"), {1, 2},
     setup=device_node, check=device_kept)
case("check-sim-dir-300-chars", ("check", "--sim-dir", "{tmp}/" + LONG, "--card", "adult", "--method", "pin", "--pin", "1234"), {1, 2})
case("check-sim-dir-unwritable-fresh", ("check", "--sim-dir", "{tmp}/fresh", "--card", "adult", "--method", "pin", "--pin", "1234"), 1,
     setup=fresh_sim_read_only)
case("check-sim-dir-unwritable", PIN, 1, setup=read_only("{sim}"), recover=True)
case("check-sim-dir-unwritable-visual", VISUAL, 1, setup=read_only("{sim}"), recover=True)

# broken files in the state folder: a fault of the machine's files (1), nothing recorded lost
for _id, _setup in {
    "facility-garbled": write("{sim}/facility.json", "{garbled"),
    "facility-empty": write("{sim}/facility.json", ""),
    "facility-folder": make_dir("{sim}/facility.json"),
    "facility-wrong-schema": write("{sim}/facility.json", "{}"),
    "facility-nested-200000": write("{sim}/facility.json", deep_json()),
    "facility-5000-digit-int": write("{sim}/facility.json", b'{"facility_type": ' + b"7" * 5000 + b"}"),
    "facility-4000-digit-int": edit_facility(facility_type=int("7" * 4000)),
    "facility-invalid-utf8": write("{sim}/facility.json", b'{"name": "\xff\xfe"}'),
    "facility-journal-under-file": edit_facility(journal_path="{file}/journal.sqlite3"),
    "facility-journal-is-folder": edit_facility(journal_path="{dir}"),
    "facility-password-salt-garbled": edit_facility(**{"visual_password.salt": "!!!not base64!!!"}),
    "facility-password-n-huge": edit_facility(**{"visual_password.n": 2**40}),
    "journal-folder": both(lambda c: c.journal.unlink(), make_dir("{sim}/journal.sqlite3")),
    "journal-newer-schema": journal_version(999),
    "terminal-key-garbled": write("{sim}/terminal-key.pem", "-----BEGIN PRIVATE KEY-----\ngarbled\n-----END PRIVATE KEY-----\n"),
    "terminal-key-empty": write("{sim}/terminal-key.pem", ""),
    "terminal-key-folder": make_dir("{sim}/terminal-key.pem"),
    "terminal-key-random": write("{sim}/terminal-key.pem", RANDOM_BYTES[:512]),
    "ca-key-garbled": in_own_keys(write("{sim}/keys/jpki-ca-key.pem", "-----BEGIN PRIVATE KEY-----\ngarbled\n-----END PRIVATE KEY-----\n")),
    "ca-key-random": in_own_keys(write("{sim}/keys/jpki-ca-key.pem", RANDOM_BYTES[:2048])),
    "ca-key-folder": in_own_keys(make_dir("{sim}/keys/jpki-ca-key.pem")),
    "ca-cert-garbled": in_own_keys(write("{sim}/keys/jpki-ca-cert.der", RANDOM_BYTES[:900])),
    "card-key-garbled": in_own_keys(write("{sim}/keys/cards/100001.pem", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")),
    "card-key-empty": in_own_keys(write("{sim}/keys/cards/100001.pem", "")),
    "keys-is-file": write("{sim}/keys", "not a folder"),
    "cards-is-file": both(wrong_pins(1), write("{sim}/cards", "not a folder")),
    "res-is-file": write("{sim}/res", "not a folder"),
}.items():
    # (a garbled CA certificate may be re-derived from the CA key; a 目視 password hash is not needed for a PIN)
    case(f"state-{_id}", PIN, {0, 1} if "password" in _id or _id == "ca-cert-garbled" else 1, setup=_setup)
case("state-facility-garbled-visual", VISUAL, 1, setup=write("{sim}/facility.json", "{garbled"))
case("state-facility-password-garbled-visual", VISUAL, 1, setup=edit_facility(**{"visual_password.salt": "!!!not base64!!!"}))
case("state-facility-password-n-huge-visual", VISUAL, 1, setup=edit_facility(**{"visual_password.n": 2**40}))
case("state-terminal-key-garbled-visual", VISUAL, 1, setup=write("{sim}/terminal-key.pem", "garbled"))
case("state-res-is-file-visual", VISUAL, 1, setup=write("{sim}/res", "not a folder"))

# a damaged journal: never used as if nothing happened, never silently replaced (issue item 4)
for _id, _setup in {
    "empty": write("{sim}/journal.sqlite3", b""),
    "random-bytes": write("{sim}/journal.sqlite3", RANDOM_BYTES),
    "garbled-pages": garble_journal_page,
    "truncated-header": lambda c: c.journal.write_bytes(c.journal.read_bytes()[:100]),
}.items():
    case(f"journal-{_id}", PIN, 1, setup=_setup, preserve="{sim}/journal.sqlite3")
case("journal-empty-visual", VISUAL, 1, setup=write("{sim}/journal.sqlite3", b""), preserve="{sim}/journal.sqlite3")

# damaged PIN counters never grant tries (issue item 4)
for _id, _setup in {
    "garbled": counters(b"{garbled"), "empty": counters(b""), "random": counters(RANDOM_BYTES[:300]),
    "out-of-range": counters(scale=99), "negative": counters(scale=-5), "folder": counters(None),
}.items():
    case(f"pin-counter-{_id}", pin("9999"), {0, 1}, setup=_setup, check=no_tries_granted)
    case(f"pin-counter-{_id}-card-info", ("card", "info", "--json"), {0, 1}, setup=_setup, check=no_tries_granted)
    case(f"pin-counter-{_id}-release-face-lock", ("card", "release-face-lock"), 1, setup=_setup, check=no_tries_granted)

# lockouts on the real clock, not on --today (issue item 6)
case("visual-lockout-today-moved", (*VISUAL, "--today", "2026-12-02"), 0, setup=wrong_visual(5), check=still_locked)
case("visual-lockout-today-back", (*VISUAL, "--today", "2026-01-01"), 0, setup=wrong_visual(5), check=still_locked)

# faults while the journal is in use or read-only: nothing reported done may be lost
case("lock-exclusive-pin", PIN, {0, 1}, setup=locked, recover=True)
case("lock-exclusive-visual", VISUAL, {0, 1}, setup=locked, recover=True)
case("lock-exclusive-stats", ("stats", "--month", "2026-12", "--journal", "{sim}/journal.sqlite3"), {0, 1}, setup=locked)
case("journal-read-only-pin", PIN, {0, 1}, setup=read_only("{sim}/journal.sqlite3"), recover=True)
case("journal-read-only-visual", VISUAL, {0, 1}, setup=read_only("{sim}/journal.sqlite3"), recover=True)
case("journal-read-only-stats", ("stats", "--month", "2026-12", "--journal", "{sim}/journal.sqlite3"), 0,
     setup=read_only("{sim}/journal.sqlite3"))
case("res-read-only-pin", PIN, {0, 1}, setup=read_only("{sim}/res"), recover=True)
case("res-read-only-visual", VISUAL, {0, 1}, setup=read_only("{sim}/res"), recover=True)

# disk full (a small tmpfs): 目視 fails closed, nothing recorded lost
case("disk-full-pin", PIN, 1, setup=disk_full)
case("disk-full-visual", VISUAL, 1, setup=disk_full)
case("disk-full-card-photo", ("card", "photo", "--out", "{tmp}/full/photo.jp2"), 1, setup=disk_full)
case("disk-full-facility-init",
     ("facility", "init", "--config", "{tmp}/full/facility.json", "--code", "1312345678", "--name", "テスト診療所",
      "--category", "medical_clinic", "--prefecture", "東京都"), 1, setup=disk_full)

# card info
case("card-info-fine", ("card", "info"), 0)
case("card-info-fine-json", ("card", "info", "--json"), 0)
case("card-info-unknown-option", ("card", "info", "--bogus"), 2)
case("card-info-no-action", ("card",), 2)
case("card-info-bad-action", ("card", "bogus"), 2)
case("card-info-reader-missing-value", ("card", "info", "--reader"), 2)
for _id, _reader in {
    "bogus": "bogus", "sim-nosuch": "sim:nosuch", "sim-path": "sim:../cards/adult", "sim-absolute": "sim:/etc/passwd",
    "sim-300": "sim:" + LONG, "sim-folder": "sim:{tmp}/folder.json", "invalid-utf8": "sim:" + BAD_UTF8,
    "empty-kind": ":adult",
}.items():
    setup = make_dir("{tmp}/folder.json") if _id == "sim-folder" else None
    case(f"card-info-reader-{_id}", ("card", "info", "--reader", _reader), 2, setup=setup)
case("card-info-reader-bogus-json", ("card", "info", "--json", "--reader", "bogus"), 2)
case("card-info-pcsc-absent", ("card", "info", "--reader", "pcsc:nonexistent-reader"), 1)

# the training's municipality window: virtual cards only
case("card-release-face-lock-fine", ("card", "release-face-lock"), 0)
case("card-release-face-lock-pcsc", ("card", "release-face-lock", "--reader", "pcsc"), 2)
case("card-release-face-lock-sim-nosuch", ("card", "release-face-lock", "--reader", "sim:nosuch"), 2)
case("card-release-face-lock-sim-path", ("card", "release-face-lock", "--reader", "sim:../cards/adult"), 2)
case("card-release-face-lock-bogus-reader", ("card", "release-face-lock", "--reader", "bogus"), 2)
case("card-release-face-lock-sim-dir-is-file", ("card", "release-face-lock", "--sim-dir", "{file}"), 1)
case("card-info-not-mynumber", ("card", "info", "--reader", "sim:not-mynumber"), 1)
case("card-info-card-key-garbled", ("card", "info"), 1, setup=in_own_keys(write("{sim}/keys/cards/100001.pem", "garbled")))
case("card-info-ca-key-garbled", ("card", "info"), 1, setup=in_own_keys(write("{sim}/keys/jpki-ca-key.pem", "garbled")))
case("card-info-keys-is-file", ("card", "info"), 1, setup=write("{sim}/keys", "not a folder"))
case("card-info-sim-dir-is-file", ("card", "info"), 1, setup=lambda c: os.environ.__setitem__("MADOGUCHI_SIM_DIR", str(c.tmp / "a-file")))

# card photo
case("card-photo-fine", ("card", "photo", "--out", "{tmp}/photo.jp2"), 0, check=photo_written)
case("card-photo-no-out", ("card", "photo"), 2)
case("card-photo-out-missing-value", ("card", "photo", "--out"), 2)
case("card-photo-out-under-file", ("card", "photo", "--out", "{file}/photo.jp2"), 2)
case("card-photo-out-missing-folder", ("card", "photo", "--out", "{tmp}/nope/photo.jp2"), 2)
case("card-photo-out-folder", ("card", "photo", "--out", "{dir}"), 2)
case("card-photo-out-empty", ("card", "photo", "--out", ""), 2)
case("card-photo-out-300", ("card", "photo", "--out", "{tmp}/" + LONG + ".jp2"), 2)
# never a system device: an atomic write renames over what --out names (it once replaced /dev/full)
case("card-photo-out-device", ("card", "photo", "--out", "{tmp}/device"), {0, 2}, setup=device_node, check=device_kept)
case("card-photo-out-read-only", ("card", "photo", "--out", "{dir}/photo.jp2"), 1, setup=read_only("{dir}"))
case("card-photo-check-b-letters", ("card", "photo", "--out", "{tmp}/photo.jp2", "--check-b", "abc"), 2)
case("card-photo-check-b-300", ("card", "photo", "--out", "{tmp}/photo.jp2", "--check-b", "1" * 300), 2)
case("card-photo-check-b-invalid-utf8", ("card", "photo", "--out", "{tmp}/photo.jp2", "--check-b", BAD_UTF8), 2)
case("card-photo-check-b-wrong", ("card", "photo", "--out", "{tmp}/photo.jp2", "--check-b", "00000000000000"), {1, 2})
case("card-photo-check-b-13-digits", ("card", "photo", "--out", "{tmp}/photo.jp2", "--check-b", "8504122033482"), 2)
case("card-photo-reader-bogus", ("card", "photo", "--out", "{tmp}/photo.jp2", "--reader", "bogus"), 2)
case("card-photo-reader-path", ("card", "photo", "--out", "{tmp}/photo.jp2", "--reader", "sim:../cards/adult"), 2)
case("card-photo-pcsc-absent", ("card", "photo", "--out", "{tmp}/photo.jp2", "--reader", "pcsc:nonexistent-reader"), 1)
case("card-photo-not-mynumber", ("card", "photo", "--out", "{tmp}/photo.jp2", "--reader", "sim:not-mynumber"), {0, 1})

# readers (no pcscd in the test: 1 with a message; a machine with readers: 0)
case("readers-plain", ("readers",), {0, 1})
case("readers-json", ("readers", "--json"), {0, 1})
case("readers-unknown-option", ("readers", "--bogus"), 2)
case("readers-extra-positional", ("readers", "extra"), 2)

# stats
STATS = ("stats", "--journal", "{sim}/journal.sqlite3")
case("stats-fine", (*STATS, "--month", "2026-12"), 0)
case("stats-fine-json", (*STATS, "--month", "2026-12", "--json"), 0)
case("stats-no-month", STATS, 2)
case("stats-unknown-option", (*STATS, "--month", "2026-12", "--bogus"), 2)
for _id, _month in {
    "garbage": "garbage", "empty": "", "2026-13": "2026-13", "2026-00": "2026-00", "0000-01": "0000-01",
    "300-chars": LONG, "invalid-utf8": BAD_UTF8, "date": "2026-12-01", "negative": "-2026-12",
}.items():
    case(f"stats-month-{_id}", (*STATS, "--month", _month), 2)
case("stats-month-newline", (*STATS, "--month", "2026-12\n"), {0, 2})
# no facility set up: the training desk's journal (the state folder holds confirmations) is counted
case("stats-no-config-training-journal", ("stats", "--month", "2026-12"), 0)
case("stats-no-journal-no-config", ("stats", "--month", "2026-12"), 2,
     setup=lambda c: os.environ.__setitem__("MADOGUCHI_SIM_DIR", str(c.tmp / "no-training-here")))
case("stats-journal-missing", ("stats", "--month", "2026-12", "--journal", "{tmp}/nope.sqlite3"), 2)
case("stats-journal-folder", ("stats", "--month", "2026-12", "--journal", "{dir}"), 2)
case("stats-journal-under-file", ("stats", "--month", "2026-12", "--journal", "{file}/j.sqlite3"), 2)
case("stats-journal-300", ("stats", "--month", "2026-12", "--journal", "{tmp}/" + LONG), 2)
case("stats-journal-empty", (*STATS, "--month", "2026-12"), {1, 2}, setup=write("{sim}/journal.sqlite3", b""),
     preserve="{sim}/journal.sqlite3")
case("stats-journal-random", (*STATS, "--month", "2026-12"), {1, 2}, setup=write("{sim}/journal.sqlite3", RANDOM_BYTES),
     preserve="{sim}/journal.sqlite3")
case("stats-journal-text", ("stats", "--month", "2026-12", "--journal", "{file}"), {1, 2})
case("stats-journal-newer-schema", (*STATS, "--month", "2026-12"), 1, setup=journal_version(999))
case("stats-config-garbled", ("stats", "--month", "2026-12", "--config", "{tmp}/cfg.json"), {1, 2},
     setup=write("{tmp}/cfg.json", "{garbled"))
case("stats-config-nested", ("stats", "--month", "2026-12", "--config", "{tmp}/cfg.json"), {1, 2},
     setup=write("{tmp}/cfg.json", deep_json()))
case("stats-env-config-garbled", ("stats", "--month", "2026-12"), 1, setup=write("{cfg}", "{garbled"))

# facility init | show | set-visual-password
INIT = ("facility", "init", "--code", "1312345678", "--name", "テスト診療所", "--category", "medical_clinic", "--prefecture", "東京都")


def init_with(**changes: str | None) -> tuple[str, ...]:
    args = list(INIT)
    for option, value in changes.items():
        flag = "--" + option.replace("_", "-")
        i = args.index(flag)
        if value is None:
            del args[i:i + 2]
        else:
            args[i + 1] = value
    return tuple(args)


case("facility-init-fine", INIT, 0)
case("facility-init-force-over-garbled", (*INIT, "--force"), 0, setup=write("{cfg}", "{garbled"))
case("facility-no-action", ("facility",), 2)
case("facility-bad-action", ("facility", "bogus"), 2)
case("facility-init-unknown-option", (*INIT, "--bogus"), 2)
case("facility-init-no-code", init_with(code=None), 2)
case("facility-init-no-name", init_with(name=None), 2)
for _id, _changes in {
    "code-letters": {"code": "abc"}, "code-empty": {"code": ""}, "code-300": {"code": "1" * 300},
    "code-invalid-utf8": {"code": BAD_UTF8}, "code-9-digits": {"code": "131234567"},
    "name-empty": {"name": ""}, "name-invalid-utf8": {"name": BAD_UTF8}, "name-control": {"name": "テスト\x01"},
    "category-bogus": {"category": "bogus"}, "category-empty": {"category": ""},
    "prefecture-bogus": {"prefecture": "bogus"}, "prefecture-empty": {"prefecture": ""},
    "prefecture-invalid-utf8": {"prefecture": BAD_UTF8},
}.items():
    case(f"facility-init-{_id}", init_with(**_changes), 2)
case("facility-init-type-9", (*INIT, "--type", "9"), 2)
case("facility-init-type-letters", (*INIT, "--type", "x"), 2)
case("facility-init-res-dir-under-file", (*INIT, "--res-dir", "{file}/res"), {0, 2})
case("facility-init-journal-under-file", (*INIT, "--journal", "{file}/j.sqlite3"), {0, 2})
case("facility-init-config-under-file", (*INIT, "--config", "{file}/facility.json"), {1, 2})
case("facility-init-config-folder", (*INIT, "--config", "{dir}"), {1, 2})
case("facility-init-config-read-only", (*INIT, "--config", "{dir}/facility.json"), 1, setup=read_only("{dir}"))
case("facility-init-exists", INIT, {1, 2}, setup=write("{cfg}", "{}"))
case("facility-show-fine", ("facility", "show", "--config", "{sim}/facility.json"), 0)
case("facility-show-unknown-option", ("facility", "show", "--bogus"), 2)
case("facility-show-no-config", ("facility", "show"), 1)
for _id, _data in {
    "garbled": "{garbled", "empty": "", "wrong-schema": "{}", "nested-200000": deep_json(),
    "5000-digit-int": b'{"facility_type": ' + b"1" * 5000 + b"}", "invalid-utf8": b'{"name": "\xff"}', "array": "[]",
}.items():
    case(f"facility-show-{_id}", ("facility", "show"), 1, setup=write("{cfg}", _data))
case("facility-show-folder", ("facility", "show"), 1, setup=make_dir("{cfg}"))
case("facility-show-config-missing", ("facility", "show", "--config", "{tmp}/nope.json"), {1, 2})
case("facility-show-config-folder", ("facility", "show", "--config", "{dir}"), {1, 2})
case("facility-show-config-under-file", ("facility", "show", "--config", "{file}/facility.json"), {1, 2})
SETPW = ("facility", "set-visual-password", "--config", "{sim}/facility.json", "--stdin")
case("facility-set-password-fine", SETPW, 0, stdin=b"mokushi-2027\n")
case("facility-set-password-empty-stdin", SETPW, 2, stdin=b"")
case("facility-set-password-blank-line", SETPW, 2, stdin=b"\n")
case("facility-set-password-short", SETPW, 2, stdin=b"abc\n")
case("facility-set-password-invalid-utf8", SETPW, 2, stdin=b"mokushi-\xff\xfe-2027\n")
case("facility-set-password-nul", SETPW, {0, 2}, stdin=b"mokushi\x00-2027\n")
case("facility-set-password-huge", SETPW, {0, 2}, stdin=b"x" * 100_000 + b"\n")
case("facility-set-password-no-config", ("facility", "set-visual-password", "--stdin"), 1, stdin=b"mokushi-2027\n")
case("facility-set-password-garbled-config", ("facility", "set-visual-password", "--stdin"), 1,
     setup=write("{cfg}", "{garbled"), stdin=b"mokushi-2027\n")
case("facility-set-password-read-only", ("facility", "set-visual-password", "--config", "{tmp}/cfg-ro/facility.json", "--stdin"), 1,
     setup=config_copy_read_only, stdin=b"mokushi-2027\n")

# no sub-command (the reception screen): a bad --reader never starts it
case("tui-unknown-option", ("--bogus",), 2)
case("tui-unknown-command", ("bogus",), 2)
case("tui-reader-missing-value", ("--reader",), 2)
for _id, _reader in {
    "bogus": "bogus", "sim-nosuch": "sim:nosuch", "sim-path": "sim:../cards/adult", "sim-300": "sim:" + LONG,
    "invalid-utf8": "sim:" + BAD_UTF8, "empty-kind": ":adult", "sim-absolute-json": "sim:/etc/passwd.json",
}.items():
    case(f"tui-reader-{_id}", ("--reader", _reader), 2)
case("tui-reader-pcsc-no-config", ("--reader", "pcsc:nonexistent-reader"), 1)
case("tui-reader-pcsc-garbled-config", ("--reader", "pcsc:nonexistent-reader"), 1, setup=write("{cfg}", "{garbled"))
case("tui-camera-nosuch", ("--reader", "sim:adult", "--camera", "nosuch"), 2)
case("tui-sim-dir-is-file", ("--reader", "sim:adult", "--sim-dir", "{file}"), {1, 2})


# The real CLI in a subprocess: no traceback from the process itself.
_PROCESS = {
    "check-pin-fullwidth", "check-today-0001-01-01", "check-card-tmp-folder", "check-staff-65-chars",
    "check-staff-invalid-utf8", "check-sim-dir-is-file", "state-facility-garbled", "check-population-nested-200000",
    "card-photo-out-under-file", "tui-reader-bogus", "lock-exclusive-pin",
}
CASES += [replace(c, id=f"process-{c.id}", process=True) for c in CASES if c.id in _PROCESS]
assert len({c.id for c in CASES}) == len(CASES)
assert len(CASES) >= 150, len(CASES)


# -- the test -------------------------------------------------------------------------------------


WARNINGS = ("注意:", "注意：", "警告:", "警告：")  # a notice before the answer (e.g. a PIN typed on the command line)


def _first_line(r: Result) -> str:
    """stderr's first line, past any notice printed before the answer itself."""
    lines = [line for line in r.err.split("\n") if line.strip()]
    while len(lines) > 1 and lines[0].startswith(WARNINGS):
        lines.pop(0)
    return lines[0] if lines else ""


def _problem_with_stderr(r: Result) -> str | None:
    crash = [line for line in r.err.split("\n") if line.startswith("予期しないエラー")]
    if crash:
        return f"unexpected error: {crash[0][:200]}"
    first = _first_line(r)
    if not first:
        return f"exit {r.code} with nothing on stderr"
    cut = [i for i in (first.find("："), first.find(": ")) if i > 0]
    if not cut:
        return f"stderr's first line is not 'TITLE: message': {first[:160]!r}"
    title = first[:min(cut)].strip()
    if not any("\u3040" <= ch <= "\u30ff" or "\u3400" <= ch <= "\u9fff" or "\uff00" <= ch <= "\uffef" for ch in title):
        return f"title is not Japanese: {first[:160]!r}"
    return None


@pytest.mark.parametrize("hostile", CASES, ids=[c.id for c in CASES])
def test_hostile(hostile: Case, ctx: Ctx) -> None:
    c = ctx
    setup_result = hostile.setup(c) if hostile.setup else None
    fault = setup_result if isinstance(setup_result, contextlib.AbstractContextManager) else contextlib.nullcontext()
    preserved = Path(c.subst(hostile.preserve)) if hostile.preserve else None
    preserved_bytes = preserved.read_bytes() if preserved is not None else None
    pre = _rows(c.journal)
    problems: list[str] = []
    with fault:
        argv = [c.subst(a) for a in hostile.argv]
        # the fault is in place: the state as it stands is what must not shrink
        before = _snapshot(c)
        if hostile.process:
            env = dict(c.env, MADOGUCHI_SIM_DIR=os.environ["MADOGUCHI_SIM_DIR"])
            r = _run_process(argv, env, hostile.stdin)
        else:
            r = _run_main(argv, hostile.stdin)
        after = _snapshot(c)
    post = c.post_rows if c.state_gone else _rows(c.journal)
    expect = hostile.expect | ({0, 1} if c.weakened and hostile.expect == {1} else set())

    if r.raised is not None:
        problems.append(f"main() raised {type(r.raised).__name__}: {str(r.raised)[:160]}")
    elif not isinstance(r.code, int) or isinstance(r.code, bool):
        problems.append(f"main() returned {r.code!r}, not an int")
    else:
        if r.code not in expect:
            problems.append(f"exit {r.code}, expected {'/'.join(map(str, sorted(expect)))}")
        if r.code != 0:
            problem = _problem_with_stderr(r)
            if problem:
                problems.append(problem)
    if SCREEN_STARTED in r.out:
        problems.append("the reception screen would have started")
    for stream, text in (("stderr", r.err), ("stdout", r.out)):
        if "Traceback" in text:
            problems.append(f"Traceback on {stream}")
    reference = before["confirmations"] if before["confirmations"] is not None else pre
    result = after["confirmations"] if after["confirmations"] is not None else post
    if reference is not None:
        if result is None:
            problems.append(f"journal unreadable afterwards (held {reference} confirmations)")
        elif result < reference:
            problems.append(f"confirmations lost: {reference} -> {result}")
    if hostile.untouched:
        for what in before:
            if before[what] != after[what]:
                if what in ("confirmations", "visual_uses", "visual_password_failures"):
                    problems.append(f"written before validating: {what} {before[what]} -> {after[what]}")
                else:
                    problems.append(f"written before validating: {what} changed")
    if preserved is not None:
        now = preserved.read_bytes() if preserved.is_file() else None
        if now != preserved_bytes:
            problems.append("the damaged journal was replaced or changed (damage papered over)")
    if hostile.check is not None and not problems:
        try:
            hostile.check(c, r)
        except (AssertionError, ValueError, KeyError) as exc:
            problems.append(str(exc).split("\n")[0][:200])
    if hostile.recover and not problems:
        # The fault is gone: the next confirmation works, and one reported done (exit 0) is in the journal.
        again = _run_main([c.subst(a) for a in PIN])
        if again.raised is not None or again.code != 0:
            first = _first_line(again)
            problems.append(f"after recovery the next check exits {again.code}: {first[:160]}")
        else:
            rows = _rows(c.journal) or 0
            want = (reference or 0) + 1 + (1 if r.code == 0 else 0)
            if rows < want:
                try:
                    shown = f", outcome {_json_out(r)['outcome']['name']}: {_json_out(r).get('message', '')[:80]}"
                except (ValueError, KeyError, TypeError):
                    shown = ""
                problems.append(
                    f"confirmation reported done (exit 0{shown}) but in neither journal nor outbox:"
                    f" {rows} rows after recovery, expected >= {want}"
                )
    if problems:
        first = _first_line(r)[:200]
        pytest.fail(f"{hostile.id}: " + "; ".join(problems) + (f" | stderr: {first}" if first else ""), pytrace=False)


