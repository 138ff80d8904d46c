"""A real pcscd with our virtual cards on vpcd's two slots, for CI, benches and trying things by hand.

There is no systemd in CI: `PcscdProcess` starts `pcscd --foreground` itself and stops it by its
PID. If a pcscd is already running (a developer's, with Debian's vpcd config loaded) it is used
and never stopped. Only one pcscd can run per machine (fixed socket and PID file), so users of
this module take `stack_lock()` first.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from reader.errors import ReaderError
from sim.card import VirtualCard
from sim.vpcd import VPCD_PORT, VPCD_READER, VPCD_SECOND_READER, VpcdCardServer

__all__ = [
    "PCSCD_SOCKET",
    "PcscdProcess",
    "PcscdUnavailable",
    "VirtualReaderStack",
    "pcscd_running",
    "stack_lock",
    "stack_problems",
]

PCSCD_SOCKET = Path("/run/pcscd/pcscd.comm")  # compiled into Debian's pcsc-lite
VPCD_CONFIG = Path("/etc/reader.conf.d/vpcd")  # from vsmartcard-vpcd: reader "Virtual PCD 00 00" on 35963
_LOCK_FILE = Path("/tmp/madoguchi-pcsc-stack.lock")


class PcscdUnavailable(ReaderError):
    title = "pcscd を起動できません"


def pcscd_binary() -> str | None:
    # /usr/sbin is not on every user's PATH.
    return shutil.which("pcscd") or shutil.which("pcscd", path="/usr/sbin:/sbin")


def pcscd_running() -> bool:
    """True if something answers on pcscd's socket."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(str(PCSCD_SOCKET))
        except OSError:
            return False
    return True


def stack_problems() -> list[str]:
    """What keeps this machine from running pcscd with the virtual card and talking to it through
    pyscard (empty: nothing)."""
    from reader.pcsc import pyscard_available

    problems = []
    if not pyscard_available():
        problems.append('pyscard が入っていません（pip install "pyscard>=2.0"; libpcsclite-dev と swig が必要）')
    if pcscd_binary() is None:
        problems.append("pcscd がありません（sudo apt-get install pcscd）")
    if not VPCD_CONFIG.exists():
        problems.append(f"vpcd の設定 {VPCD_CONFIG} がありません（sudo apt-get install vsmartcard-vpcd）")
    if not problems and not pcscd_running() and os.geteuid() != 0:
        problems.append("pcscd が動いておらず、root でないため起動できません（sudo pcscd で起動してください）")
    return problems


@contextmanager
def stack_lock(timeout: float = 600.0) -> Iterator[None]:
    """One user of the machine's single pcscd at a time (parallel test runs, a bench)."""
    fd = os.open(_LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise PcscdUnavailable(f"ほかのテストが pcscd を使い続けています（{_LOCK_FILE}）。") from None
                time.sleep(0.2)
        yield
    finally:
        os.close(fd)  # releases the lock


class PcscdProcess:
    """`pcscd --foreground` as our child; its log goes to `log_path`."""

    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self, timeout: float = 5.0) -> None:
        binary = pcscd_binary()
        if binary is None:
            raise PcscdUnavailable("pcscd がありません。sudo apt-get install pcscd vsmartcard-vpcd を実行してください。")
        if pcscd_running():
            raise PcscdUnavailable("別の pcscd がすでに動いています。")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self._process = subprocess.Popen(
                [binary, "--foreground"], stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout
        while not pcscd_running():
            if self._process.poll() is not None:
                self._process = None
                raise PcscdUnavailable(f"pcscd がすぐに終了しました。ログ: {self.log_path}\n{self._log_tail()}")
            if time.monotonic() >= deadline:
                self.stop()
                raise PcscdUnavailable(f"pcscd が {timeout:.0f} 秒以内に起動しませんでした。ログ: {self.log_path}")
            time.sleep(0.01)

    def stop(self, timeout: float = 3.0) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)

    def _log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _listening(port: int) -> bool:
    """Is a TCP socket listening on `port`? (Read from /proc: a test connect would be a card.)"""
    suffix = f":{port:04X}"
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 3 and fields[1].endswith(suffix) and fields[3] == "0A":  # 0A: LISTEN
                return True
    return False


def _wait_for_listener(port: int, timeout: float = 5.0) -> None:
    # pcscd answers on its socket a moment before vpcd has opened its port.
    deadline = time.monotonic() + timeout
    while not _listening(port):
        if time.monotonic() >= deadline:
            raise PcscdUnavailable(
                f"pcscd は起動しましたが vpcd がポート {port} で待ち受けていません（vsmartcard-vpcd と {VPCD_CONFIG} を確認）。"
            )
        time.sleep(0.01)


class VirtualReaderStack:
    """pcscd (started here unless one is running) and a card server on each of vpcd's two slots:
    `server` for "Virtual PCD 00 00", `second` for "Virtual PCD 00 01" (a desk with two readers)."""

    def __init__(self, log_dir: Path, port: int = VPCD_PORT) -> None:
        self.log_dir = log_dir
        self.server = VpcdCardServer(port=port)
        self.second = VpcdCardServer(port=port + 1)
        self.pcscd: PcscdProcess | None = None  # None: a pcscd that is not ours (or none yet)
        self.startup_seconds: float | None = None

    @property
    def owns_pcscd(self) -> bool:
        return self.pcscd is not None

    def start(self) -> None:
        began = time.monotonic()
        if not pcscd_running():
            self.pcscd = PcscdProcess(self.log_dir / "pcscd.log")
            self.pcscd.start()
            _wait_for_listener(self.server.port)
        self.startup_seconds = time.monotonic() - began

    def insert(self, card: VirtualCard) -> None:
        self.server.insert(card)

    def remove(self) -> None:
        self.server.remove()

    def server_for(self, reader: str) -> VpcdCardServer:
        """The card server of vpcd's reader `reader` (its first or second slot)."""
        if reader == VPCD_READER:
            return self.server
        if reader == VPCD_SECOND_READER:
            return self.second
        raise PcscdUnavailable(f"vpcd のリーダーは「{VPCD_READER}」と「{VPCD_SECOND_READER}」だけです（指定: {reader}）。")

    def stop_pcscd(self) -> None:
        """Stop our pcscd (to test what the desk sees then). The card connection drops with it."""
        if self.pcscd is None:
            raise PcscdUnavailable("この pcscd はテストが起動したものではないので止めません。")
        self.pcscd.stop()
        self.server.remove()
        self.second.remove()

    def start_pcscd(self) -> None:
        if self.pcscd is None:
            raise PcscdUnavailable("この pcscd はテストが起動したものではありません。")
        self.pcscd.start()
        _wait_for_listener(self.server.port)

    def stop(self) -> None:
        self.server.remove()
        self.second.remove()
        if self.pcscd is not None:
            self.pcscd.stop()
            self.pcscd = None
