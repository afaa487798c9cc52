"""`manage.py bench_whatsapp --deliveries 1000 [--contacts 200] [--redeliver-every 10]
[--clients 4] [--web 2] [--workers 2]`: a bounded load test of the WhatsApp webhook through the
production shape on loopback — a real gunicorn (`bin/serve web`, DEBUG off) and real Celery
workers (`bin/serve worker`) on this DATABASE_URL (PostgreSQL) and CELERY_BROKER_URL (Redis),
started and stopped by the command, on 127.0.0.1 only.

`--clients` threads POST signed deliveries (one text message each, Meta's timestamp now,
`X-Hub-Signature-256` with the bench channel's app secret) over real HTTP; every
`--redeliver-every`-th delivery is posted twice, as Meta does after a timeout. The web
answers once the delivery is stored; the workers process each event (contacts by WhatsApp
id, one open ticket per contact, routing). The command then waits until nothing is left
RECEIVED (at most SETTLE_TIMEOUT seconds) and checks: every message once (0 lost, 0 doubled),
one ticket per contact, every redelivery recognised.

Prints requests/s (every POST, over the posting phase), the POST's median and p95 latency,
and messages/s from the first POST until the workers had processed the last message.
Builds its own channel (and leaves it, with its tickets, for a look in the admin).
"""

import http.client
import json
import os
import secrets
import statistics
import sys
import tempfile
import threading
import time
import uuid
from contextlib import suppress
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.db.models import Count, Max
from django.urls import reverse

from helpdesk.benchmarks import percentile
from helpdesk.channel_kinds import POLICIES
from helpdesk.loopback import Part, free_port
from helpdesk.models import Channel, InboundEvent, Message, Ticket
from whatsapp.models import WhatsAppSettings
from whatsapp.payload import sign
from whatsapp.webhook import KIND

ROOT = Path(settings.BASE_DIR)
PHONE_NUMBER_ID = "100200300400"
START_TIMEOUT = 60
SETTLE_TIMEOUT = 300
MAX_DELIVERIES = 100_000


def post(port: int, path: str, body: bytes, headers: dict) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def run_digits(run: str) -> str:
    return str(int(run, 16) % 100000).zfill(5)


def delivery(run: str, i: int, contacts: int) -> bytes:
    sender = f"47{run_digits(run)}{i % contacts:05d}"
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"phone_number_id": PHONE_NUMBER_ID},
        "contacts": [{"wa_id": sender, "profile": {"name": f"Customer {i % contacts}"}}],
        "messages": [
            {
                "from": sender,
                "id": f"wamid.bench.{run}.{i}",
                "timestamp": str(int(time.time())),
                "type": "text",
                "text": {"body": f"Order {i}: where is it? (run {run})"},
            }
        ],
    }
    body = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "WABA", "changes": [{"field": "messages", "value": value}]}],
    }
    return json.dumps(body).encode()


class Load:
    """The clients: each takes the next delivery number until all are sent."""

    def __init__(self, *, port, path, run, secret, deliveries, contacts, redeliver_every):
        self.port, self.path, self.run, self.secret = port, path, run, secret
        self.deliveries, self.contacts, self.redeliver_every = deliveries, contacts, redeliver_every
        self.next = 0
        self.lock = threading.Lock()
        self.seconds: list[float] = []
        self.duplicates = 0
        self.errors: list[str] = []

    def take(self) -> int | None:
        with self.lock:
            if self.next >= self.deliveries:
                return None
            self.next += 1
            return self.next - 1

    def client(self) -> None:
        while (i := self.take()) is not None:
            try:
                self.one(i)
            except Exception as exc:  # counted, the run goes on
                with self.lock:
                    self.errors.append(f"delivery {i}: {type(exc).__name__}: {exc}")

    def one(self, i: int) -> None:
        body = delivery(self.run, i, self.contacts)
        signature = sign(body, self.secret)
        headers = {"Content-Type": "application/json", "X-Hub-Signature-256": signature}
        redelivered = self.redeliver_every and i % self.redeliver_every == 0
        for _ in range(2 if redelivered else 1):
            started = time.perf_counter()
            status, answer = post(self.port, self.path, body, headers)
            elapsed = time.perf_counter() - started
            if status != 200:
                raise RuntimeError(f"POST answered {status}: {answer[:200]!r}")
            with self.lock:
                self.seconds.append(elapsed)
                self.duplicates += json.loads(answer)["duplicates"]


class Command(BaseCommand):
    help = "Load-test the WhatsApp webhook through gunicorn and Celery workers on loopback."

    def add_arguments(self, parser):
        parser.add_argument("--deliveries", type=int, default=1000)
        parser.add_argument("--contacts", type=int, default=200)
        parser.add_argument("--redeliver-every", type=int, default=10)
        parser.add_argument("--clients", type=int, default=4, help="Concurrent posters.")
        parser.add_argument("--web", type=int, default=2, help="gunicorn processes.")
        parser.add_argument("--workers", type=int, default=2, help="Celery worker processes.")

    def handle(self, *args, deliveries, contacts, redeliver_every, clients, web, workers, **opts):
        if not 1 <= deliveries <= MAX_DELIVERIES or contacts < 1 or redeliver_every < 0:
            raise CommandError(
                f"--deliveries 1…{MAX_DELIVERIES}, --contacts ≥ 1, --redeliver-every ≥ 0"
            )
        if not 1 <= clients <= 64 or not 1 <= web <= 16 or not 1 <= workers <= 16:
            raise CommandError("--clients 1…64, --web and --workers 1…16")
        if connection.vendor != "postgresql":
            raise CommandError("bench_whatsapp measures PostgreSQL: set DATABASE_URL=postgres://…")
        if not os.environ.get("CELERY_BROKER_URL", "").startswith("redis"):
            raise CommandError(
                "bench_whatsapp needs the workers' broker: CELERY_BROKER_URL=redis://…"
            )
        kind = next((k for k, p in POLICIES.items() if p.intake == KIND), None)
        if kind is None:
            raise CommandError("no channel kind takes WhatsApp input (KindPolicy.intake)")
        run = uuid.uuid4().hex[:8]
        secret = secrets.token_hex(16)
        channel = Channel.objects.create(kind=kind, name=f"WhatsApp bench {run}")
        WhatsAppSettings.objects.create(
            channel=channel,
            api_base_url="http://127.0.0.1:9/v21.0",  # nothing is sent; no media is fetched
            phone_number_id=PHONE_NUMBER_ID,
            access_token="bench",
            app_secret=secret,
            verify_token=secrets.token_hex(8),
        )
        port = free_port()
        logs = ROOT / "test-artifacts" / "bench_whatsapp"
        logs.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "DEBUG": "false",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "127.0.0.1",
            "SECURE_SSL_REDIRECT": "false",
            "STATIC_ROOT": tempfile.mkdtemp(prefix="bench-whatsapp-static-"),
            "VENV_PYTHON": sys.executable,
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "WEB_CONCURRENCY": str(web),
            "WORKER_CONCURRENCY": str(workers),
            "WORKER_NAME": f"bench-whatsapp-{run}@%h",
            "GUNICORN_CMD_ARGS": "--no-control-socket",
            "LOG_LEVEL": "WARNING",
        }
        self.stdout.write(
            f"bench_whatsapp: {deliveries} signed deliveries (every {redeliver_every}th posted "
            f"twice) from {clients} clients over http://127.0.0.1:{port}; {contacts} contacts; "
            f"gunicorn {web} processes, Celery {workers} processes; run {run}"
        )
        path = reverse("whatsapp:webhook", args=[channel.pk])
        parts: list[Part] = []
        try:  # whatever raises, what was started is stopped
            parts.append(Part("worker", env, logs / "worker.log"))
            parts.append(Part("web", env, logs / "web.log"))
            self._wait_for_web(port, path, parts)
            load = Load(
                port=port, path=path, run=run, secret=secret, deliveries=deliveries,
                contacts=contacts, redeliver_every=redeliver_every,
            )  # fmt: skip
            self._measure(load, clients, channel, run)
        finally:
            for part in parts:
                part.stop()

    def _wait_for_web(self, port: int, path: str, parts: list[Part]) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            for part in parts:
                if part.proc.poll() is not None:
                    raise CommandError(f"a part exited; see {part.log}")
            with suppress(OSError):
                # Unsigned: refused (403) once the web answers; kept as a rejection sample.
                if post(port, path, b"{}", {"Content-Type": "application/json"})[0] == 403:
                    return
            time.sleep(0.2)
        raise CommandError("gunicorn did not answer in time; see test-artifacts/bench_whatsapp/")

    def _measure(self, load: Load, clients: int, channel: Channel, run: str) -> None:
        threads = [threading.Thread(target=load.client) for _ in range(clients)]
        started = time.perf_counter()
        started_at = time.time()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        posting = time.perf_counter() - started
        events = InboundEvent.objects.filter(channel=channel, kind=KIND).exclude(
            source_id__startswith="rejected:"
        )
        deadline = time.monotonic() + SETTLE_TIMEOUT
        while events.filter(status=InboundEvent.Status.RECEIVED).exists():
            if time.monotonic() > deadline:
                break
            time.sleep(0.25)
        last = events.aggregate(last=Max("processed_at"))["last"]
        processing = (last.timestamp() - started_at) if last else float("nan")
        statuses = dict(events.order_by().values_list("status").annotate(n=Count("id")))
        wamids = {f"wamid.bench.{run}.{i}" for i in range(load.deliveries)}
        stored = set(
            Message.objects.filter(channel=channel, external_id__in=wamids).values_list(
                "external_id", flat=True
            )
        )
        messages = Message.objects.filter(channel=channel).count()
        tickets = Ticket.objects.filter(channel=channel).count()
        lost, doubled = len(wamids - stored), messages - len(stored)
        every = load.redeliver_every
        redelivered = len(range(0, load.deliveries, every)) if every else 0
        ms = sorted(s * 1000 for s in load.seconds)
        p95 = percentile(ms, 0.95)
        self.stdout.write(
            f"  webhook: {len(ms)} POSTs in {posting:.1f} s = {len(ms) / posting:.0f} requests/s; "
            f"ms median {statistics.median(ms) if ms else 0:.1f} / p95 {p95:.1f}"
        )
        self.stdout.write(
            f"  workers: {len(stored)} messages processed {processing:.1f} s after the first "
            f"POST = {len(stored) / processing if processing else 0:.0f} messages/s; "
            f"events {sum(statuses.values())} {statuses}"
        )
        expected_tickets = min(load.contacts, load.deliveries)
        self.stdout.write(
            f"  redeliveries recognised {load.duplicates} of {redelivered}; tickets {tickets} "
            f"(one per contact: {expected_tickets}); client errors {len(load.errors)}"
        )
        self.stdout.write(f"  lost {lost}, doubled {doubled}")
        for error in load.errors[:5]:
            self.stdout.write(f"    {error}")
        wrong = lost or doubled or load.errors or tickets != expected_tickets
        if wrong or load.duplicates != redelivered:
            raise CommandError("the outcome is wrong: see the figures above")
