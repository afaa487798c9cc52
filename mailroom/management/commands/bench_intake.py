"""`manage.py bench_intake --messages N [--workers W]` (PostgreSQL): inbound mail per second
through the whole handler — parsed, stored raw, ticketed (contact, ticket, first message),
routing enqueued but not run — then N replies threading into those tickets by In-Reply-To.
Prints messages/s, ms per message and the SQL queries per message (the same for every
message of a phase: the handler's cost does not grow with the data; a worker reads the
channels' addresses again every `DIRECTORY_SECONDS`, one query more for that mail, shown
apart). With `--workers W` the mails are shared between W processes, as W Celery worker
processes would share them. It runs as a worker does in production: with DEBUG off (no
query log kept in memory) and the address directory already read.
"""

import multiprocessing
import statistics
import time
import uuid
from collections import Counter
from contextlib import contextmanager
from unittest import mock

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, connections
from django.test.utils import override_settings

from helpdesk import jobs
from helpdesk.benchmarks import percentile
from helpdesk.models import Channel, Contact, Message
from helpdesk.services.intake import process_inbound
from mailroom.inbound import current_directory, handle_email, store_email
from mailroom.models import MailSettings

ADDRESS = "bench@helpdesk.example"


def _mail(run: str, i: int, *, reply: bool) -> bytes:
    lines = [
        f"From: Customer {i} <customer{i}.{run}@bench.example>",
        f"To: Bench <{ADDRESS}>",
        f"Subject: {'Re: ' if reply else ''}Order {i} did not arrive",
        f"Message-ID: <{'reply' if reply else 'new'}.{i}.{run}@bench.example>",
        "Date: Tue, 04 Jun 2024 10:01:30 +0200",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
    ]
    if reply:
        lines.append(f"In-Reply-To: <new.{i}.{run}@bench.example>")
    body = f"Hello,\n\nmy order {i} has not arrived yet. Could you check?\n\nThanks\n"
    if reply:
        body = f"Still nothing.\n\nOn Tue, someone wrote:\n> my order {i} has not arrived\n"
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()


@contextmanager
def counting_queries():
    counter = {"n": 0}

    def wrapper(execute, sql, params, many, context):
        counter["n"] += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        yield counter


def _nothing(*args, **kwargs):  # routing and announcements are recorded, not run
    return True


def _work(job: tuple[int, list[bytes]]) -> tuple[list[float], list[int], list[str]]:
    """Store and process each mail; (seconds, queries, status) per mail."""
    channel_id, raws = job
    channel = Channel.objects.get(pk=channel_id)
    current_directory()  # a running worker has read it already
    times, queries, statuses = [], [], []
    with mock.patch.object(jobs, "_send", _nothing), mock.patch.object(jobs, "_publish", _nothing):
        for raw in raws:
            t0 = time.perf_counter()
            with counting_queries() as counter:
                event, _ = store_email(channel=channel, raw=raw)
                done = process_inbound(event.pk, handle_email)
            times.append(time.perf_counter() - t0)
            queries.append(counter["n"])
            statuses.append(str(done.status))
    connections.close_all()
    return times, queries, statuses


class Command(BaseCommand):
    help = "Measure inbound mail throughput (PostgreSQL)."

    def add_arguments(self, parser):
        parser.add_argument("--messages", type=int, default=1000)
        parser.add_argument("--workers", type=int, default=1)

    def handle(self, *args, messages: int, workers: int, **options):
        if connection.vendor != "postgresql":
            raise CommandError("bench_intake measures PostgreSQL: set DATABASE_URL=postgres://…")
        channel, _ = Channel.objects.get_or_create(
            kind=Channel.Kind.TEAM_EMAIL, name="Bench inbox", defaults={"address": ADDRESS}
        )
        MailSettings.objects.get_or_create(channel=channel, defaults={"addresses": [ADDRESS]})
        run = uuid.uuid4().hex[:12]
        self.stdout.write(
            f"bench_intake: {messages} messages, {workers} worker process(es); database before: "
            f"{Contact.objects.count()} contacts, {Message.objects.count()} messages"
        )
        for label, reply in (("new tickets", False), ("replies threading in", True)):
            raws = [_mail(run, i, reply=reply) for i in range(messages)]
            with override_settings(DEBUG=False):
                self._phase(label, channel, raws, workers)

    def _phase(self, label: str, channel: Channel, raws: list[bytes], workers: int) -> None:
        with connection.cursor() as cursor:  # fresh planner statistics, as autovacuum keeps
            cursor.execute("ANALYZE")
        slices = [(channel.pk, raws[i::workers]) for i in range(workers)]
        started = time.perf_counter()
        if workers == 1:
            results = [_work(slices[0])]
        else:
            connections.close_all()  # no connection shared across the fork
            with multiprocessing.get_context("fork").Pool(workers) as pool:
                results = pool.map(_work, slices)
        elapsed = time.perf_counter() - started
        times = [t for result in results for t in result[0]]
        queries = [q for result in results for q in result[1]]
        statuses: dict[str, int] = {}
        for result in results:
            for status in result[2]:
                statuses[status] = statuses.get(status, 0) + 1
        ms = sorted(t * 1000 for t in times)
        p95 = percentile(ms, 0.95)
        counts = Counter(queries).most_common()
        usual = counts[0][0]
        others = ", ".join(f"{n} for {mails} of them" for n, mails in sorted(counts[1:]))
        fixed = others or "fixed"
        self.stdout.write(
            f"  {label}: {len(raws)} in {elapsed:.2f} s = {len(raws) / elapsed:.0f} messages/s; "
            f"ms per message median {statistics.median(ms):.2f}, p95 {p95:.2f}; "
            f"queries per message {usual} ({fixed}); {statuses}"
        )
