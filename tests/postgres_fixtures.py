"""A private PostgreSQL server for the tests: Debian's ``postgresql`` binaries, a fresh cluster in
a temporary folder, listening on 127.0.0.1 on a free port, stopped and removed at the end.

PostgreSQL refuses to run as root: as root the server runs as the ``postgres`` user (created by
Debian's package). Where the server cannot start (binaries or driver missing, no such user) the
tests that need it are skipped with the reason; ``.ci/run`` installs the package so CI runs them.
"""

from __future__ import annotations

import glob
import importlib.util
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

SUPERUSER = "channel"


def _bindir() -> Path | None:
    """The newest installed server's bin folder (``/usr/lib/postgresql/<major>/bin``), or PATH's."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("pg_ctl")
    return Path(on_path).parent if on_path else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_server_user() -> list[str]:
    """The command prefix that runs a server binary as a non-root user."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("running as root and there is no 'postgres' user to run PostgreSQL as "
                    "(install Debian's postgresql package: apt-get install postgresql)")
    return ["runuser", "-u", "postgres", "--"]


@pytest.fixture(scope="session")
def postgres_url():
    """A SQLAlchemy URL (psycopg 3) of an empty database on a private server, superuser ``channel``."""
    if importlib.util.find_spec("psycopg") is None:
        pytest.skip("the PostgreSQL driver is not installed: pip install -e '.[postgres]'")
    bindir = _bindir()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries not found (apt-get install postgresql)")
    prefix = _as_server_user()
    root = Path(tempfile.mkdtemp(prefix="channel-pg-"))
    if prefix:
        shutil.chown(root, "postgres")
    data, log = root / "data", root / "server.log"
    port = _free_port()

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([*prefix, *args], capture_output=True, text=True, timeout=120)

    started = False
    try:
        init = run(str(bindir / "initdb"), "-D", str(data), "-U", SUPERUSER, "--auth=trust",
                   "--encoding=UTF8", "--no-locale")
        if init.returncode:
            pytest.skip(f"initdb failed: {init.stderr.strip()[-400:]}")
        start = run(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60",
                    "-o", f"-h 127.0.0.1 -p {port} -k {root} -c fsync=off", "start")
        if start.returncode:
            detail = log.read_text(errors="replace")[-400:] if log.exists() else start.stderr
            pytest.skip(f"PostgreSQL did not start: {detail.strip()}")
        started = True
        yield f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{port}/postgres"
    finally:
        if started:
            run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)
