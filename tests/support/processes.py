"""The production shape as separate processes, for the integration tests that start it
(tests/production/test_smoke.py, tests/soak/test_soak.py): each part is started with
`bin/serve <part>` — the commands of the README's production shape and `make serve` — in a
session of its own, logging to test-artifacts/<dir>/<name>.log.
"""

import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from email.message import Message
from pathlib import Path

from tests.support.services import ROOT, wait_until

ARTIFACTS = ROOT / "test-artifacts"
STOP_TIMEOUT = 20  # seconds a part has to stop after a SIGTERM before its group is killed


def fresh_log_dir(name: str) -> Path:
    """test-artifacts/<name>, without the logs of an earlier run."""
    logs = ARTIFACTS / name
    logs.mkdir(parents=True, exist_ok=True)
    for old in logs.glob("*.log"):
        old.unlink()
    return logs


def serve_env(
    *,
    port: int,
    database_url: str,
    broker_url: str,
    email_url: str,
    beat_schedule_file: Path,
    **extra: str,
) -> dict[str, str]:
    """The environment of a small production shape on 127.0.0.1:`port`: DEBUG off, plain
    HTTP, and bin/serve's knobs (2 web processes, 2 worker processes); `extra` on top."""
    return {
        **os.environ,
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",  # plain HTTP on loopback
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": broker_url,
        "EMAIL_URL": email_url,
        "VENV_PYTHON": sys.executable,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "WEB_CONCURRENCY": "2",
        "WORKER_CONCURRENCY": "2",
        "BEAT_SCHEDULE_FILE": str(beat_schedule_file),
        "GUNICORN_CMD_ARGS": "--no-control-socket",  # no socket shared with another gunicorn
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


class ServiceProcess:
    """One command in a session (so a process group) of its own, its output appended to
    <logs>/<name>.log. It can be started again after it stopped."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], logs: Path):
        self.name, self.argv, self.env = name, argv, env
        self.log = logs / f"{name}.log"
        self.proc: subprocess.Popen | None = None

    @classmethod
    def serve(cls, part: str, env: dict[str, str], logs: Path, name: str = "") -> "ServiceProcess":
        """`bin/serve <part>` (prepare, web, worker or beat)."""
        return cls(name or part, ["bin/serve", part], env, logs)

    def start(self) -> "ServiceProcess":
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                self.argv, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        return self

    def run(self, timeout: float = 90) -> None:
        """Start it and wait for it to exit successfully."""
        self.start()
        try:
            returncode = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"{self.name} did not finish within {timeout}s") from None
        assert returncode == 0, f"{self.name} exited with {returncode}"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def check_alive(self) -> None:
        assert self.running, f"{self.name} exited with {self.proc and self.proc.returncode}"

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        stop_all([self], timeout)

    def kill(self, sig: int = signal.SIGKILL, timeout: float = STOP_TIMEOUT) -> None:
        """Send `sig` to the whole group at once (a SIGKILL takes a Celery worker's pool
        processes with it), wait for it, then SIGKILL whatever is left."""
        if self.proc is None:
            return
        with suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)
        self._reap(timeout)

    def _reap(self, timeout: float) -> None:
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            print(f"{self.name} did not stop within {timeout}s; killing it")
        with suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # stragglers of the group, if any
        self.proc.wait()

    def group_gone(self) -> bool:
        if self.proc is None:
            return True
        try:
            os.killpg(self.proc.pid, 0)
        except ProcessLookupError:
            return True
        return False

    def assert_none_left(self, timeout: float = 5) -> None:
        """No process of its (last) group is left."""
        wait_until(self.group_gone, timeout=timeout)

    def tail(self, lines: int = 40) -> str:
        return log_tail(self.log, lines)


def still_running(mark: str) -> list[str]:
    """The command lines of the processes running now that contain `mark` (a bench's run
    id): what a command that should have stopped its parts left behind."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # the process ended meanwhile
            continue
        if mark in text:
            found.append(text)
    return found


def log_tail(path: Path, lines: int = 40) -> str:
    """The last `lines` of a log, under a heading that names it."""
    text = path.read_text(errors="replace") if path.exists() else ""
    last = text.splitlines()[-lines:]
    heading = f"----- {path.relative_to(ROOT)} (last {len(last)} lines) -----"
    return "\n".join([heading, *last])


def stop_all(processes: Iterable[ServiceProcess], timeout: float = STOP_TIMEOUT) -> None:
    """SIGTERM every leader (graceful: gunicorn and Celery stop their children), then KILL
    whatever is left of each group after `timeout`."""
    processes = list(processes)
    for process in processes:
        if process.running:
            process.proc.send_signal(signal.SIGTERM)
    for process in processes:
        if process.proc is not None:
            process._reap(timeout)


@contextmanager
def log_tails_on_failure(logs: Path, lines: int = 40):
    """Print the end of every log in `logs` when the block fails."""
    try:
        yield
    except BaseException:
        for path in sorted(logs.glob("*.log")):
            print("\n" + log_tail(path, lines))
        raise


@dataclass(frozen=True)
class Response:
    status: int
    headers: Message
    body: bytes
    seconds: float

    def json(self):
        return json.loads(self.body or b"{}")


def http(
    method: str, url: str, body: dict | None = None, *, token: str = "", timeout: float = 10
) -> Response:
    """One JSON request; error statuses are returned too."""
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, answer, got = response.status, response.read(), response.headers
    except urllib.error.HTTPError as error:
        status, answer, got = error.code, error.read(), error.headers
    return Response(status, got, answer, time.perf_counter() - started)


def answers(url: str, status: int = 200, token: str = "") -> bool:
    """Whether `url` is served and GET answers `status`."""
    try:
        return http("GET", url, token=token).status == status
    except OSError:  # not listening yet
        return False


def redis_answers(port: int) -> bool:
    """Whether a Redis server on 127.0.0.1:`port` answers a PING."""
    import redis

    try:
        return redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.5).ping()
    except redis.RedisError:
        return False
