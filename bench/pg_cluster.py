"""A throwaway PostgreSQL cluster: the facility's database server, made in a temporary folder
and removed after, for the tests (tests/pg_cluster.py) and the load benchmark
(bench/facility_load.py). It lives here, beside the benchmarks, not in sim/: only the journal's
PostgreSQL back end may import psycopg among the packages a desk ships (tests/test_architecture.py).

`initdb` in a temporary folder, `pg_ctl start` on 127.0.0.1 and a random port (password
authentication over TCP, as a facility's desks use it; trust on the cluster's own unix socket for
the admin connection). initdb refuses to run as root, so as root the cluster runs as the Debian
package's `postgres` user (runuser). Durability is switched off (fsync, synchronous_commit): the
cluster lives for one run and a crash of the machine loses nothing anyone keeps.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["DESK_USER", "PgCluster", "PgUnavailable", "throwaway_cluster"]

DESK_USER = "desk"


class PgUnavailable(Exception):
    """The cluster cannot be made here; the message says why (and what to install)."""


def _bindir() -> Path | None:
    """The server's programs: on PATH (initdb is not, on Debian), else the newest
    /usr/lib/postgresql/<version>/bin."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).resolve().parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name)
                      if p.parent.parent.name.isdigit() else 0)
    return versions[-1].parent if versions else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PgCluster:
    bindir: Path
    directory: Path
    port: int
    password: str = field(default_factory=lambda: secrets.token_urlsafe(18))
    run_as: str | None = None  # the unprivileged user the server runs as (when run as root)

    @property
    def data(self) -> Path:
        return self.directory / "data"

    def _run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        command = [str(self.bindir / args[0]), *args[1:]]
        if self.run_as is not None:
            command = ["runuser", "-u", self.run_as, "--", *command]
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)

    def init(self) -> None:
        result = self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth-local=trust",
                           "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync")
        if result.returncode != 0:
            raise RuntimeError(f"initdb failed: {result.stderr.strip()[-500:]}")
        with open(self.data / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.write(
                f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{self.directory}'\n"
                "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\nmax_connections = 60\n"
                "shared_buffers = 16MB\n"
            )

    def start(self) -> None:
        result = self._run("pg_ctl", "-D", str(self.data), "-l", str(self.directory / "server.log"), "-w", "-t", "60", "start")
        if result.returncode != 0:
            log = (self.directory / "server.log").read_text(errors="replace")[-800:] if (self.directory / "server.log").exists() else ""
            raise RuntimeError(f"pg_ctl start failed: {result.stderr.strip()[-300:]} {log}")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def server_cpu_s(self) -> float:
        """CPU time of the server and of its ended child processes (a backend ends when its desk
        disconnects): the difference over a run is the server's work for it. 0.0 where /proc
        cannot tell (not Linux)."""
        try:
            pid = int((self.data / "postmaster.pid").read_text().split()[0])
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, ValueError, IndexError):
            return 0.0
        # utime, stime, cutime, cstime: fields 14-17 of proc(5), counted from the state (field 3)
        return sum(int(v) for v in fields[11:15]) / os.sysconf("SC_CLK_TCK")

    def admin(self, dbname: str = "postgres") -> Any:
        import psycopg

        return psycopg.connect(host=str(self.directory), port=self.port, user="postgres", dbname=dbname, autocommit=True)

    def create_role(self) -> None:
        with self.admin() as conn:
            conn.execute(f"CREATE ROLE {DESK_USER} LOGIN PASSWORD '{self.password}'")

    def create_database(self, name: str) -> None:
        with self.admin() as conn:
            conn.execute(f"CREATE DATABASE {name} OWNER {DESK_USER}")

    def drop_database(self, name: str) -> None:
        with self.admin() as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def settings(self, dbname: str, password_file: Path | None = None, **overrides: object) -> Any:
        from desk.journal.settings import PostgresSettings

        return PostgresSettings(host="127.0.0.1", port=self.port, dbname=dbname, user=DESK_USER,
                                password_file=password_file, connect_timeout_s=2, **overrides)

    def password_file(self, folder: Path) -> Path:
        path = folder / "db-password"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(self.password + "\n")
        return path


@contextmanager
def throwaway_cluster() -> Iterator[PgCluster]:
    """A running cluster with the desks' role, stopped and removed on leaving.

    Raises PgUnavailable (with the reason) where it cannot run: psycopg or the server's programs
    missing, no `postgres` user to run it as root, initdb or the start failing."""
    try:
        import psycopg  # noqa: F401
    except ImportError as exc:
        raise PgUnavailable("psycopg がありません（pip install 'psycopg[binary]'）") from exc
    bindir = _bindir()
    if bindir is None:
        raise PgUnavailable("initdb がありません（sudo apt-get install postgresql）")
    run_as = None
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError as exc:
            raise PgUnavailable(
                "root では initdb を postgres ユーザーで動かしますが、そのユーザーがいません（apt-get install postgresql）"
            ) from exc
        if shutil.which("runuser") is None:
            raise PgUnavailable("runuser がありません（util-linux）")
        run_as = "postgres"
    directory = Path(tempfile.mkdtemp(prefix="madoguchi-pg-"))
    if run_as is not None:
        entry = pwd.getpwnam(run_as)
        os.chown(directory, entry.pw_uid, entry.pw_gid)
    cluster = PgCluster(bindir, directory, _free_port(), run_as=run_as)
    started = False
    try:
        try:
            cluster.init()
            cluster.start()
            started = True
            cluster.create_role()
        except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
            raise PgUnavailable(str(exc)) from exc
        yield cluster
    finally:
        if started:
            cluster.stop("immediate")
        shutil.rmtree(directory, ignore_errors=True)
