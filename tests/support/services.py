"""Fixtures that start real services for integration tests: a Celery worker process on the
test database and Redis, and an SMTP server (aiosmtpd) that records what it receives.

Loaded as a pytest plugin from tests/conftest.py.
"""

import itertools
import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message as EmailMessage
from pathlib import Path
from urllib.parse import quote

import pytest
from celery.signals import before_task_publish
from django.conf import settings
from django.db import connection

from helpdesk.celery import app as celery_app

ROOT = Path(__file__).resolve().parents[2]
WORKER_READY_TIMEOUT = 60
INSPECT_TIMEOUT = 1.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url_of_test_db() -> str:
    """The URL of the database the tests run on (pytest-django's test_… database)."""
    db = connection.settings_dict
    if db["ENGINE"] != "django.db.backends.postgresql":
        raise RuntimeError("a Celery worker process needs PostgreSQL (the test DB is shared)")
    auth = quote(db["USER"] or "postgres")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"])
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


# ---------------------------------------------------------------------------------------
# Celery in unit tests: an in-memory broker, not eager
# ---------------------------------------------------------------------------------------

UNIT_TEST_BROKER = "memory://"
# Each message's place in the order this process published, whatever its queue: a header
# `before_task_publish` adds, read by `PublishedTasks` (a broker keeps order per queue only).
PUBLISHED_ORDER_HEADER = "x-published-order"
_published = itertools.count()


@before_task_publish.connect(weak=False)
def _number_published_task(sender=None, headers=None, **kwargs) -> None:
    if headers is not None:
        headers[PUBLISHED_ORDER_HEADER] = next(_published)


def task_queues() -> list[str]:
    """The names of the project's Celery queues (settings.CELERY_TASK_QUEUES)."""
    return list(celery_app.amqp.queues)


def use_broker(monkeypatch: pytest.MonkeyPatch, url: str, *, eager: bool = False) -> None:
    """Point this process's Celery app at `url`, with eager mode on or off, until the test
    ends. Celery reads CELERY_BROKER_URL from the environment before its own setting, so the
    variable is set too (Django's `settings.CELERY_BROKER_URL` keeps the configured broker);
    the app's cached connection pools are dropped so the next publish connects to `url`
    (and again when the test ends, by `celery_unit_broker`)."""
    monkeypatch.setenv("CELERY_BROKER_URL", url)
    monkeypatch.setitem(celery_app.conf, "broker_url", url)
    monkeypatch.setitem(celery_app.conf, "task_always_eager", eager)
    _drop_connection_pools()


def _drop_connection_pools() -> None:
    # The pools themselves stay in kombu's registry (one per broker URL), open for reuse.
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@contextmanager
def broker_at(url: str, *, eager: bool = False):
    """Inside the block this process publishes to `url` (e.g. a port where nothing listens:
    a broker that is down); the broker before it afterwards."""
    with pytest.MonkeyPatch.context() as patch:
        use_broker(patch, url, eager=eager)
        try:
            yield
        finally:
            patch.undo()
            _drop_connection_pools()


@pytest.fixture(autouse=True)
def celery_unit_broker():
    """Every test starts with eager mode off and an empty in-memory broker, whatever
    CELERY_BROKER_URL says: what the code publishes waits there and runs only if the test
    runs it (`published_tasks.run()`, or by calling the task). Nothing reaches CI's Redis
    unless a test asks for it (`celery_worker`). `eager_celery` opts a smoke test into
    running every task where it is published, as `make run` does."""
    # A patch of its own, so that a test's `monkeypatch.undo()` leaves the broker alone.
    with broker_at(UNIT_TEST_BROKER):
        celery_app.control.purge()
        yield


@pytest.fixture
def eager_celery(request):
    """Opt-in for a few smoke tests (e.g. a browser test whose live server must route): every
    task runs in the process at the moment it is published, as with `make run`. Never in a
    test with a real worker (`celery_worker`), even when its module opts in."""
    if "celery_worker" in request.fixturenames:
        yield
        return
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(celery_app.conf, "task_always_eager", True)
        yield


class PublishedTasks:
    """The tasks this process published to the unit tests' in-memory broker, in order.

    `names` shows what waits (taking nothing away); `run()` does it the way a worker would —
    each message's task applied under the message's id (so a job's success marks the job
    done), the on-commit callbacks of its own transactions executed — and then whatever
    those tasks published, until nothing waits. Use it after the code under test committed,
    e.g. after `django_capture_on_commit_callbacks(execute=True)`; `after_commit()` does both.
    """

    def __init__(self) -> None:
        self._taken: list = []

    def _take(self) -> None:
        """Take every waiting message, from every queue, into publication order."""
        with celery_app.connection_for_read() as conn:
            channel = conn.default_channel
            for queue in task_queues():
                while (message := channel.basic_get(queue=queue, no_ack=True)) is not None:
                    self._taken.append(message)
        self._taken.sort(key=lambda message: message.headers.get(PUBLISHED_ORDER_HEADER, -1))

    @property
    def names(self) -> list[str]:
        self._take()
        return [message.headers["task"] for message in self._taken]

    @property
    def queues(self) -> list[tuple[str, str]]:
        """(task name, queue) of what waits, in order (taking nothing away)."""
        self._take()
        return [
            (message.headers["task"], message.delivery_info["routing_key"])
            for message in self._taken
        ]

    def run(self, *, propagate: bool = True, limit: int = 500) -> list[str]:
        """Run every waiting task, and what they publish in turn; return the names run.

        A task's error is raised here; with `propagate=False` it is handled as a worker
        handles it instead — logged, the task's `on_failure` run (a job marked failed) —
        and the next task runs."""
        from django.test import TestCase

        ran: list[str] = []
        self._take()
        while self._taken:
            if len(ran) >= limit:
                raise AssertionError(f"more than {limit} tasks: {ran[-10:]} …")
            message = self._taken.pop(0)
            name, task_id = message.headers["task"], message.headers["id"]
            args, kwargs, _embed = message.decode()
            with TestCase.captureOnCommitCallbacks(execute=True):
                celery_app.tasks[name].apply(
                    args=args, kwargs=kwargs, task_id=task_id, throw=propagate
                )
            ran.append(name)
            self._take()
        return ran

    @contextmanager
    def after_commit(self):
        """The block's transaction commits (its on-commit callbacks run, publishing), then a
        worker does everything published. The names run are collected in the yielded list."""
        from django.test import TestCase

        ran: list[str] = []
        with TestCase.captureOnCommitCallbacks(execute=True):
            yield ran
        ran.extend(self.run())


@pytest.fixture
def published_tasks() -> PublishedTasks:
    """What the code published to the unit tests' broker, and a worker to run it."""
    return PublishedTasks()


@dataclass
class SmtpServer:
    host: str
    port: int
    received: list[EmailMessage] = field(default_factory=list)
    envelopes: list = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    def wait_for(self, count: int, timeout: float = 20.0) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.received


@pytest.fixture
def smtp_server(settings):
    """A real SMTP server on 127.0.0.1; Django's default mailer points at it."""
    from aiosmtpd.controller import Controller

    server = SmtpServer(host="127.0.0.1", port=free_port())

    class Handler:
        async def handle_DATA(self, smtp, session, envelope):
            server.envelopes.append(envelope)
            server.received.append(message_from_bytes(envelope.original_content))
            return "250 OK"

    controller = Controller(Handler(), hostname=server.host, port=server.port)
    controller.start()
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": server.host, "port": server.port, "timeout": 5},
        }
    }
    try:
        yield server
    finally:
        controller.stop()


@dataclass
class CeleryWorker:
    """A running worker process (the `celery_worker` fixture), its node name and the queues
    it listens to."""

    process: subprocess.Popen
    name: str
    queues: list[str] = field(default_factory=task_queues)

    def _inspect(self):
        return celery_app.control.inspect(destination=[self.name], timeout=INSPECT_TIMEOUT)

    def _received(self) -> dict | None:
        """How many tasks of each name the worker has taken from the broker (None: no reply)."""
        stats = (self._inspect().stats() or {}).get(self.name)
        return None if stats is None else stats.get("total", {})

    def _busy(self) -> bool:
        inspect = self._inspect()
        for tasks in (inspect.active(), inspect.reserved(), inspect.scheduled()):
            if tasks is None or self.name not in tasks or tasks[self.name]:
                return True  # running, prefetched, waiting for a retry's countdown — or mute
        return False

    def is_idle(self) -> bool:
        """Nothing waits in the broker's queue and the worker runs, holds and schedules
        nothing — and took no task from the queue while this was being checked (a task that
        finished while publishing another would otherwise look idle)."""
        before = self._received()
        if before is None or queued_messages(*self.queues):
            return False
        if self._busy() or queued_messages(*self.queues):
            return False
        return self._received() == before

    def wait_idle(self, timeout: float = 30.0) -> None:
        """Wait until the worker has done everything it was given, and everything that work
        published in turn: the positive signal that "nothing more will arrive"."""
        wait_until(self.is_idle, timeout=timeout, interval=0.2)


def queued_messages(*queues: str) -> int:
    """Messages waiting in these queues of the broker (default: all the project's), not yet
    taken by a worker."""
    from amqp.exceptions import ChannelError

    waiting = 0
    with celery_app.connection_for_read() as conn:
        for queue in queues or task_queues():
            try:
                declared = conn.default_channel.queue_declare(queue=queue, passive=True)
            except ChannelError:  # Redis keeps no empty list: a queue never used, or emptied
                continue
            waiting += declared.message_count
    return waiting


@pytest.fixture
def celery_worker(transactional_db, request):
    """A real `celery worker` process consuming from Redis and writing to the test database
    (a `CeleryWorker`: `wait_idle()` waits until it has nothing left to do).

    Tasks sent from the test process go through the same broker (eager mode stays off).
    Extra environment for the worker (e.g. EMAIL_URL) can be given with
    `@pytest.mark.worker_env(EMAIL_URL=...)`; WORKER_QUEUES there (comma-separated) starts
    it with `-Q`, as `bin/serve worker` does — else it listens to every queue.
    """
    env = {
        **os.environ,
        "DATABASE_URL": database_url_of_test_db(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "PYTHONUNBUFFERED": "1",
    }
    marker = request.node.get_closest_marker("worker_env")
    if marker:
        env.update(marker.kwargs)
    queues = [q for q in env.pop("WORKER_QUEUES", "").split(",") if q] or task_queues()
    listen = ["-Q", ",".join(queues)] if queues != task_queues() else []
    name = f"test-{os.getpid()}-{time.monotonic_ns()}@{socket.gethostname()}"
    log = ROOT / "test-artifacts" / "celery-worker.log"
    log.parent.mkdir(exist_ok=True)
    with broker_at(settings.CELERY_BROKER_URL):  # this process publishes to Redis too
        celery_app.control.purge()  # nothing left over from an earlier run reaches this worker
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "helpdesk",
                "worker",
                "-l",
                "info",
                "-P",
                "prefork",
                "-c",
                "2",
                "-n",
                name,
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                *listen,
            ],
            cwd=ROOT,
            env=env,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_until_ready(proc, name, log)
            yield CeleryWorker(process=proc, name=name, queues=queues)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            celery_app.control.purge()  # what the test left unfinished does not outlive it


def _wait_until_ready(proc: subprocess.Popen, name: str, log: Path) -> None:
    deadline = time.monotonic() + WORKER_READY_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the Celery worker exited:\n{log.read_text()[-3000:]}")
        replies = celery_app.control.ping(destination=[name], timeout=0.5)
        if replies:
            return
    raise RuntimeError(f"the Celery worker did not start in time:\n{log.read_text()[-3000:]}")


def wait_until(predicate, timeout: float = 30.0, interval: float = 0.1):
    """Poll `predicate` until it returns something truthy; return that, or fail."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")
