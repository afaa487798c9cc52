"""The production shape on loopback, for the benchmark commands that measure it end to end
(`bench_forms`, `bench_whatsapp`): `bin/serve` parts started in process groups of their
own, so each stops with everything it started, and a free loopback port for the web."""

import os
import signal
import socket
import subprocess
from contextlib import suppress
from pathlib import Path

from django.conf import settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Part:
    """One `bin/serve <part>` in a process group of its own (stopped as a group)."""

    def __init__(self, part: str, env: dict, log: Path) -> None:
        self.log = log
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                ["bin/serve", part], cwd=Path(settings.BASE_DIR), env=env, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip

    def stop(self) -> None:
        if self.proc.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
