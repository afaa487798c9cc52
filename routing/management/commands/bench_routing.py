"""Benchmark the routing engine: `manage.py bench_routing --tickets N --agents M --workers W`.

Builds its own data in the configured database (a team of M seated agents, a load-balanced
channel, N fresh pending tickets), then routes them in-process with W threads (one
database connection each) and prints decisions per second, median/p95 ms per decision and
SQL queries per decision. With a broker configured (CELERY_BROKER_URL) it also routes N more
tickets through a Celery worker process with W processes, end to end.
"""

import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from channels_cfg.models import AssignMode, ChannelAutomation
from helpdesk.celery import app as celery_app
from helpdesk.models import Channel, Seat, Team, TeamMembership, Ticket, User
from helpdesk.services.groups import AGENTS
from routing.engine import route_ticket
from routing.models import RoutingDecision
from routing.tasks import route_ticket_task

BATCH = 2000


class Command(BaseCommand):
    help = "Route fresh tickets and print decisions/s, ms per decision and queries per decision."

    def add_arguments(self, parser):
        parser.add_argument("--tickets", type=int, default=2000)
        parser.add_argument("--agents", type=int, default=50)
        parser.add_argument("--workers", type=int, default=4)
        parser.add_argument(
            "--distribution",
            default="load_balanced",
            choices=["load_balanced", "round_robin", "random"],
        )
        parser.add_argument("--timeout", type=int, default=600, help="Celery run limit (s)")

    def handle(self, *, tickets, agents, workers, distribution, timeout, **options):
        if connection.vendor == "sqlite" and workers > 1:
            self.stdout.write("SQLite serialises writers: using 1 worker.")
            workers = 1
        channel = self.build(agents, distribution)
        self.stdout.write(
            f"{connection.vendor}: {agents} agents, {distribution}, "
            f"{tickets} tickets, {workers} worker(s)"
        )
        queries = self.queries_per_decision(channel)
        self.stdout.write(f"queries per decision: {queries}")
        self.run_in_process(channel, tickets, workers)
        if not settings.CELERY_TASK_ALWAYS_EAGER:
            self.run_through_celery(channel, tickets, workers, timeout)

    def build(self, n_agents, distribution) -> Channel:
        team, _ = Team.objects.get_or_create(name=f"Bench {n_agents}")
        existing = team.memberships.count()
        if existing < n_agents:
            users = User.objects.bulk_create(
                [
                    User(username=f"bench{n_agents}-{i}", password="!")
                    for i in range(existing, n_agents)
                ],
                batch_size=BATCH,
            )
            Seat.objects.bulk_create([Seat(user=u) for u in users], batch_size=BATCH)
            group = Group.objects.get(name=AGENTS)
            User.groups.through.objects.bulk_create(
                [User.groups.through(user_id=u.pk, group_id=group.pk) for u in users],
                batch_size=BATCH,
            )
            TeamMembership.objects.bulk_create(
                [TeamMembership(team=team, user=u) for u in users], batch_size=BATCH
            )
        channel, _ = Channel.objects.get_or_create(
            name=f"Bench {n_agents} {distribution}", kind=Channel.Kind.TEAM_EMAIL
        )
        automation, _ = ChannelAutomation.objects.update_or_create(
            channel=channel,
            defaults={
                "assign_mode": AssignMode.SPECIFIC,
                "distribution": distribution,
                "available_only": True,
            },
        )
        automation.teams.set([team])
        return channel

    def fresh_tickets(self, channel, n) -> list[int]:
        now = timezone.now()
        made = Ticket.objects.bulk_create(
            [
                Ticket(
                    subject=f"bench {i}",
                    channel=channel,
                    ticket_type=channel.ticket_type,
                    routing_state=Ticket.RoutingState.PENDING,
                    created_at=now,
                )
                for i in range(n)
            ],
            batch_size=BATCH,
        )
        return [t.pk for t in made]

    def queries_per_decision(self, channel) -> int:
        """The decision's own queries: what runs after commit (notifications) is left out."""
        (ticket_id,) = self.fresh_tickets(channel, 1)
        with transaction.atomic(), CaptureQueriesContext(connection) as ctx:
            route_ticket(ticket_id=ticket_id)
        return len(ctx.captured_queries)

    def run_in_process(self, channel, n, workers):
        ids = self.fresh_tickets(channel, n)
        chunks = [ids[i::workers] for i in range(workers)]
        timings: list[float] = []
        lock = threading.Lock()

        def work(chunk):
            mine = []
            try:
                for ticket_id in chunk:
                    started = time.perf_counter()
                    route_ticket(ticket_id=ticket_id)
                    mine.append((time.perf_counter() - started) * 1000)
            finally:
                connection.close()
                with lock:
                    timings.extend(mine)

        started = time.perf_counter()
        threads = [threading.Thread(target=work, args=(c,)) for c in chunks]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
        self.report("in-process", n, elapsed, timings, ids)

    def run_through_celery(self, channel, n, workers, timeout):
        ids = self.fresh_tickets(channel, n)
        log = Path("test-artifacts") / "bench-celery-worker.log"
        log.parent.mkdir(exist_ok=True)
        name = f"bench-{time.monotonic_ns()}@%h"
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "helpdesk",
                "worker",
                "-l",
                "warning",
                "-c",
                str(workers),
                "-n",
                name,
                "--without-gossip",
                "--without-mingle",
            ],
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 60
            while not celery_app.control.ping(timeout=0.5):
                if time.monotonic() > deadline or proc.poll() is not None:
                    self.stderr.write(f"the Celery worker did not start; see {log}")
                    return
            started = time.perf_counter()
            for ticket_id in ids:
                route_ticket_task.delay(ticket_id)
            pending = Ticket.objects.filter(pk__in=ids, routing_state=Ticket.RoutingState.PENDING)
            while pending.exists():
                if time.perf_counter() - started > timeout:
                    self.stderr.write(f"stopped after {timeout}s with tickets still pending")
                    return
                time.sleep(0.2)
            elapsed = time.perf_counter() - started
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        self.report(f"celery ({workers} processes)", n, elapsed, None, ids)

    def report(self, label, n, elapsed, wall_ms, ids):
        """Decisions/s end to end (with what runs after each commit, e.g. notifications, in
        eager mode); ms per decision as the engine measured it (lock waits included)."""
        decision_ms = sorted(
            RoutingDecision.objects.filter(ticket_id__in=ids).values_list("duration_ms", flat=True)
        )
        line = (
            f"{label}: {n / elapsed:.0f} decisions/s; per decision median "
            f"{statistics.median(decision_ms):.1f} ms, p95 {_p95(decision_ms):.1f} ms"
        )
        if wall_ms:
            line += (
                f"; per ticket with after-commit work median {statistics.median(wall_ms):.1f} ms"
            )
        self.stdout.write(f"{line} ({n} tickets in {elapsed:.1f}s)")


def _p95(values):
    return values[max(0, int(len(values) * 0.95) - 1)] if values else 0.0
