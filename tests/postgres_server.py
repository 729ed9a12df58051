"""A throw-away PostgreSQL server for tests: initdb + pg_ctl in a temporary folder.

:func:`start` installs Debian's ``postgresql`` package when it is missing (only
as root, non-interactively), runs ``initdb`` in a temporary folder (as the
``postgres`` user when we are root, since initdb refuses root), starts the
server on 127.0.0.1 on a free port with trust authentication, and returns a
:class:`Server`; ``stop()`` shuts it down and removes the folder. Anything that
prevents a server from starting raises :class:`Unavailable` with the reason, so
tests can skip with it.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


class Unavailable(RuntimeError):
    """No PostgreSQL server can be started here (the message says why)."""


@dataclass
class Server:
    bindir: Path
    datadir: Path
    port: int
    user: str
    run_as: str | None

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        _run(
            [str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "fast", "-w", "stop"],
            self.run_as,
            check=False,
        )
        shutil.rmtree(self.datadir.parent, ignore_errors=True)


def _bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def _install() -> None:
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise Unavailable("PostgreSQL is not installed and we cannot apt-get install it (not root)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (
        ["apt-get", "update"],
        ["apt-get", "install", "-y", "--no-install-recommends", "postgresql"],
    ):
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:]
            raise Unavailable(f"{' '.join(cmd)} failed: {' '.join(tail)}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(cmd, run_as, check=True, timeout=120):
    if run_as:
        cmd = ["runuser", "-u", run_as, "--", *cmd]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if check and done.returncode != 0:
        tail = " ".join((done.stderr or done.stdout).strip().splitlines()[-2:])
        raise Unavailable(f"{Path(cmd[-1]).name if not run_as else cmd[3]} failed: {tail}")
    return done


def start() -> Server:
    """Start a server (see the module docstring); raises :class:`Unavailable`."""
    bindir = _bindir()
    if bindir is None:
        _install()
        bindir = _bindir()
        if bindir is None:
            raise Unavailable("postgresql installed but no /usr/lib/postgresql/*/bin/initdb")
    run_as = None
    if os.geteuid() == 0:
        try:
            import pwd

            pwd.getpwnam("postgres")
        except KeyError:
            raise Unavailable(
                "running as root and there is no 'postgres' user for initdb"
            ) from None
        if shutil.which("runuser") is None:
            raise Unavailable("running as root and runuser is missing")
        run_as = "postgres"
    root = Path(tempfile.mkdtemp(prefix="fm-pg-"))
    datadir = root / "data"
    if run_as:
        shutil.chown(root, user=run_as)
        root.chmod(0o700)
    user = "funnel_test"
    _run(
        [
            str(bindir / "initdb"),
            "-D",
            str(datadir),
            "-U",
            user,
            "--auth=trust",
            "--encoding=UTF8",
            "--no-sync",
        ],
        run_as,
    )
    port = _free_port()
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off"
    started = _run(
        [
            str(bindir / "pg_ctl"),
            "-D",
            str(datadir),
            "-o",
            options,
            "-l",
            str(root / "server.log"),
            "-w",
            "-t",
            "60",
            "start",
        ],
        run_as,
        check=False,
    )
    server = Server(bindir, datadir, port, user, run_as)
    if started.returncode != 0:
        log = (
            (root / "server.log").read_text(errors="replace")
            if (root / "server.log").exists()
            else ""
        )
        server.stop()
        raise Unavailable(f"pg_ctl start failed: {' '.join(log.strip().splitlines()[-2:])}")
    for _ in range(50):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return server
        time.sleep(0.1)
    server.stop()
    raise Unavailable(f"the server did not listen on 127.0.0.1:{port}")
