"""`manage.py bench_forms --posts 1000 [--web 2] [--workers 2] [--clients 8]`: a bounded load
test of the form page through the production shape on loopback — a real gunicorn
(`bin/serve web`, DEBUG off) and real Celery workers (`bin/serve worker`) on this
DATABASE_URL (PostgreSQL) and CELERY_BROKER_URL (Redis), started and stopped by the command.

Each post is what a browser does: GET the page (the token and the visitor cookie), then POST
the form (urlencoded, a new visitor and address each time, from its own client address in
X-Forwarded-For, with AXES_TRUSTED_PROXY_COUNT=1 — so the rate limits are counted for every
post but none is reached). Every tenth post is sent twice with the same token, as a
double-click does. The command then waits until the workers have processed everything and
checks: every post one stored event and one ticket (0 lost), no ticket twice (0 doubled).

Prints posts/s (GET + POST per post, over the whole run), the POST's median and p95 latency
(it answers once the submission is stored — not processed), and how long the workers took to
turn the last submission into a ticket.
"""

import http.client
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import suppress
from pathlib import Path
from urllib.parse import urlencode

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.db.models import Count

from helpdesk.benchmarks import percentile
from helpdesk.loopback import Part, free_port
from helpdesk.models import Channel, InboundEvent, Message, Ticket
from webforms.models import INTAKE, form_kinds
from webforms.services import form_settings_for

ROOT = Path(settings.BASE_DIR)
TOKEN_MARK = 'name="token" value="'
DOUBLE_EVERY = 10
START_TIMEOUT = 60
SETTLE_TIMEOUT = 300


def request(port: int, method: str, path: str, body: bytes = b"", headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body or None, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.getheader("Set-Cookie") or "", response.read()
    finally:
        conn.close()


class Load:
    """The clients: each takes the next post number until all are sent."""

    def __init__(self, port: int, path: str, run: str, posts: int) -> None:
        self.port, self.path, self.run, self.posts = port, path, run, posts
        self.next = 0
        self.lock = threading.Lock()
        self.post_seconds: list[float] = []
        self.errors: list[str] = []

    def take(self) -> int | None:
        with self.lock:
            if self.next >= self.posts:
                return None
            self.next += 1
            return self.next - 1

    def client(self) -> None:
        while (i := self.take()) is not None:
            try:
                self.one(i)
            except Exception as exc:  # counted, the run goes on
                self.errors.append(f"post {i}: {type(exc).__name__}: {exc}")

    def one(self, i: int) -> None:
        ip = f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}"
        forwarded = {"X-Forwarded-For": ip}
        status, cookie, html = request(self.port, "GET", self.path, headers=forwarded)
        if status != 200:
            raise RuntimeError(f"GET answered {status}")
        page = html.decode()
        start = page.index(TOKEN_MARK) + len(TOKEN_MARK)
        token = page[start : page.index('"', start)]
        body = urlencode(
            {
                "name": f"Bench visitor {i}",
                "email": f"visitor{i}.{self.run}@bench.example",
                "subject": f"Bench {self.run} question {i}",
                "message": f"Hello, this is question {i} of bench run {self.run}.",
                "website": "",
                "token": token,
            }
        ).encode()
        headers = {
            **forwarded,
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": cookie.split(";", 1)[0],
        }
        for _ in range(2 if i % DOUBLE_EVERY == 0 else 1):
            started = time.perf_counter()
            status, _, _ = request(self.port, "POST", self.path, body, headers)
            self.post_seconds.append(time.perf_counter() - started)
            if status != 303:
                raise RuntimeError(f"POST answered {status}")


class Command(BaseCommand):
    help = "Load-test the form page through gunicorn and Celery workers (PostgreSQL, Redis)."

    def add_arguments(self, parser):
        parser.add_argument("--posts", type=int, default=1000)
        parser.add_argument("--clients", type=int, default=8, help="Concurrent browsers.")
        parser.add_argument("--web", type=int, default=2, help="gunicorn processes.")
        parser.add_argument("--workers", type=int, default=2, help="Celery worker processes.")

    def handle(self, *args, posts: int, clients: int, web: int, workers: int, **options):
        if connection.vendor != "postgresql":
            raise CommandError("bench_forms measures PostgreSQL: set DATABASE_URL=postgres://…")
        broker = os.environ.get("CELERY_BROKER_URL", "")
        if not broker.startswith("redis"):
            raise CommandError(
                "bench_forms needs the workers' broker: set CELERY_BROKER_URL=redis://…"
            )
        run = uuid.uuid4().hex[:8]
        channel = Channel.objects.create(kind=form_kinds()[0], name=f"Bench form {run}", address="")
        form_settings = form_settings_for(channel)
        path = f"/f/{form_settings.public_id}/"
        port = free_port()
        logs = ROOT / "test-artifacts" / "bench_forms"
        logs.mkdir(parents=True, exist_ok=True)
        static_root = tempfile.mkdtemp(prefix="bench-forms-static-")
        env = {
            **os.environ,
            "DEBUG": "false",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "127.0.0.1",
            "SECURE_SSL_REDIRECT": "false",
            "AXES_TRUSTED_PROXY_COUNT": "1",
            "STATIC_ROOT": static_root,
            "VENV_PYTHON": sys.executable,
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "WEB_CONCURRENCY": str(web),
            "WORKER_CONCURRENCY": str(workers),
            "WORKER_NAME": f"bench-forms-{run}@%h",
            "GUNICORN_CMD_ARGS": "--no-control-socket",
            "LOG_LEVEL": "WARNING",
        }
        self.stdout.write(
            f"bench_forms: {posts} posts (every {DOUBLE_EVERY}th sent twice) from {clients} "
            f"clients; gunicorn {web} processes, Celery {workers} processes; run {run}"
        )
        subprocess.run(
            [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
            cwd=ROOT, env=env, check=True,
        )  # fmt: skip
        parts = [
            Part("worker", env, logs / "worker.log"),
            Part("web", env, logs / "web.log"),
        ]
        try:
            self._wait_for_page(port, path, parts)
            self._measure(port, path, run, posts, clients, channel)
        finally:
            for part in parts:
                part.stop()

    def _wait_for_page(self, port: int, path: str, parts: list[Part]) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            for part in parts:
                if part.proc.poll() is not None:
                    raise CommandError(f"a part exited; see {part.log}")
            with suppress(OSError):
                if request(port, "GET", path)[0] == 200:
                    return
            time.sleep(0.2)
        raise CommandError("gunicorn did not answer in time; see test-artifacts/bench_forms/")

    def _measure(self, port, path, run, posts, clients, channel) -> None:
        load = Load(port, path, run, posts)
        threads = [threading.Thread(target=load.client) for _ in range(clients)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        sent = time.monotonic()
        events = InboundEvent.objects.filter(channel=channel, kind=INTAKE)
        deadline = time.monotonic() + SETTLE_TIMEOUT
        while events.filter(status=InboundEvent.Status.RECEIVED).exists():
            if time.monotonic() > deadline:
                break
            time.sleep(0.25)
        settled = time.monotonic() - sent
        stored = events.count()
        statuses = dict(events.order_by().values_list("status").annotate(n=Count("id")))
        tickets = Ticket.objects.filter(channel=channel).count()
        distinct = (
            Message.objects.filter(ticket__channel=channel).values("external_id").distinct().count()
        )
        ms = sorted(s * 1000 for s in load.post_seconds)
        p95 = percentile(ms, 0.95)
        self.stdout.write(
            f"  {posts} posts in {elapsed:.1f} s = {posts / elapsed:.0f} posts/s "
            f"({len(ms)} POSTs, {posts / elapsed * 2 + (len(ms) - posts) / elapsed:.0f} "
            f"requests/s); POST ms median {statistics.median(ms) if ms else 0:.1f}, p95 {p95:.1f}"
        )
        self.stdout.write(
            f"  client errors: {len(load.errors)}; events stored {stored} {statuses}; "
            f"tickets {tickets}; all processed {settled:.1f} s after the last post"
        )
        lost, doubled = posts - min(tickets, distinct), max(0, tickets - posts)
        self.stdout.write(f"  lost: {lost}; doubled: {doubled}")
        for error in load.errors[:5]:
            self.stdout.write(f"    {error}")
        if lost or doubled or load.errors:
            raise CommandError("some posts were lost or doubled (see above)")
