"""Real servers for the test session: PostgreSQL and Redis started from the installed binaries, and Celery
worker processes pointed at them. Nothing here is mocked; each server lives in a temporary folder."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT_SECONDS = 60
# Test models are saved under the system's temporary folder: the site's model root in the tests.
MODEL_ROOT = tempfile.gettempdir()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, what: str, log: Path | None = None) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            details = log.read_text()[-2000:] if log and log.exists() else ""
            raise RuntimeError(f"{what} exited during start-up (code {process.returncode})\n{details}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen on port {port} within {START_TIMEOUT_SECONDS} s")


def postgres_bindir() -> Path:
    """RLAB_PG_BINDIR, else the newest Debian cluster binaries, else initdb on PATH."""
    if env := os.environ.get("RLAB_PG_BINDIR"):
        return Path(env)
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if candidates:
        return Path(candidates[-1]).parent
    if found := shutil.which("initdb"):
        return Path(found).parent
    raise RuntimeError("PostgreSQL server binaries not found: install postgresql or set RLAB_PG_BINDIR")


@dataclass
class PostgresServer:
    """A throw-away cluster on 127.0.0.1. As root, the server runs as the `postgres` system user
    (PostgreSQL refuses to run as root)."""

    directory: Path
    port: int = field(default_factory=free_port)
    user: str = "rlab"
    process: subprocess.Popen | None = None

    def _as_owner(self, argv: list[str]) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv

    def start(self) -> PostgresServer:
        bindir = postgres_bindir()
        data, log = self.directory / "data", self.directory / "postgres.log"
        self.directory.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.directory, owner.pw_uid, owner.pw_gid)
            self.directory.chmod(0o755)
        subprocess.run(
            self._as_owner(
                [
                    str(bindir / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    self.user,
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--no-sync",
                    "--no-instructions",
                ]
            ),
            check=True,
            capture_output=True,
        )
        settings = [
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            f"unix_socket_directories={self.directory}",
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
            "-c",
            "max_connections=200",
        ]
        self.process = subprocess.Popen(
            self._as_owner([str(bindir / "postgres"), "-D", str(data), "-p", str(self.port), *settings]),
            stdout=subprocess.DEVNULL,
            stderr=open(log, "w"),  # noqa: SIM115 - lives as long as the server
        )
        wait_for_port(self.port, self.process, "PostgreSQL", log)
        return self

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()  # SIGTERM = smart shutdown
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()


@dataclass
class RedisServer:
    directory: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    def start(self) -> RedisServer:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        if not Path(binary).exists():
            raise RuntimeError("redis-server not found: install the redis-server package")
        self.directory.mkdir(parents=True, exist_ok=True)
        log = self.directory / "redis.log"
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
                "--logfile",
                str(log),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        wait_for_port(self.port, self.process, "Redis", log)
        return self

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


def service_env(database_url: str, broker_url: str, **extra: str) -> dict[str, str]:
    """Environment for a child process (CLI, worker) that talks to the test servers."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": broker_url,
        "DJANGO_SETTINGS_MODULE": "rlab.settings",
        "PYTHONUNBUFFERED": "1",
        "RLAB_MODEL_ROOTS": MODEL_ROOT,
    }
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO_ROOT / "platform"), str(REPO_ROOT), env.get("PYTHONPATH", "")]
    ).rstrip(os.pathsep)
    env.update(extra)
    return env


@dataclass
class WorkerProcess:
    """A real `rlab worker` process consuming the test broker."""

    env: dict[str, str]
    log: Path
    queues: str = "gpu,cpu"
    process: subprocess.Popen | None = None

    def start(self) -> WorkerProcess:
        # A session of its own, so kill() takes the pool's child processes down with it, as a crash would.
        self.process = subprocess.Popen(
            [sys.executable, "-m", "rlab.cli", "worker", "--queue", self.queues],
            env=self.env,
            stdout=open(self.log, "a"),  # noqa: SIM115 - the worker writes to it until it stops
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        ready_lines = self.log.read_text().count("ready.") if self.log.exists() else 0
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited during start-up:\n{self.log.read_text()[-3000:]}")
            if self.log.read_text().count("ready.") > ready_lines:
                return self
            time.sleep(0.2)
        raise RuntimeError(
            f"worker not ready within {START_TIMEOUT_SECONDS} s:\n{self.log.read_text()[-3000:]}"
        )

    def kill(self) -> None:
        """SIGKILL the worker and its pool processes at once: a machine that died mid-run."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
