"""Benchmark the routing engine: `manage.py bench_routing --tickets N --agents M --workers 1,4`.

Builds its own data in the configured database (a team of M seated agents, a load-balanced
channel, N fresh pending tickets per run; the tickets of earlier runs are closed first, so
loads start from zero as the floor's do), then routes them in-process with W threads (one
database connection each) and prints decisions per second and the wall time of one
decision — `route_ticket` from its first statement to its commit and what runs right after
it (publishing the announcement job to the broker) — median and p95, and the statements per
decision. Query logging is off (as with DEBUG off), whatever the settings say.

`--floor SCRIPT` runs the hand-written-SQL floor (`routing_floor.py DSN --tickets --agents
--workers`) against the same PostgreSQL server just before the engine's runs and prints its
figures beside these with the ratio; `--floor-output FILE` reads a run's printed output
instead. With `--rounds K` the floor and the engine run in turn K times and the median of
the K ratios is printed last: a shared machine's speed can drift between runs minutes
apart, and a ratio of two runs with it.

With a broker (CELERY_BROKER_URL) the broker's queues are emptied before and after, and
`--celery` also routes N more tickets through a Celery worker of W processes listening to
the routing queue, stopped cleanly (TERM, then waited for) when done.

Last, the ticket page of a ticket the run routed among the M agents, rendered 30 times
through the test client as one of them: its size and median time, which do not grow with M
(the decision's details load when opened, `routing.views.decision_details`).
"""

import os
import re
import statistics
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from channels_cfg.models import AssignMode, ChannelAutomation
from helpdesk.benchmarks import percentile, time_page
from helpdesk.celery import app as celery_app
from helpdesk.models import Channel, Seat, Team, TeamMembership, Ticket, User
from helpdesk.services.groups import AGENTS
from routing.engine import route_ticket
from routing.models import RoutingDecision
from routing.tasks import route_ticket_task

BATCH = 2000
FLOOR_LINE = re.compile(
    r"workers (?P<workers>\d+):\s+(?P<rate>\d+) decisions/s\s+median (?P<median>[\d.]+) ms"
    r"\s+p95 (?P<p95>[\d.]+) ms"
)

# workers → (decisions/s, median ms) of the hand-written SQL floor
Figures = dict[int, tuple[float, float]]


def floor_figures(text: str) -> Figures:
    """The floor's figures in its printed output."""
    figures = {
        int(m["workers"]): (float(m["rate"]), float(m["median"])) for m in FLOOR_LINE.finditer(text)
    }
    if not figures:
        raise CommandError("No floor figures found (expected 'workers N: R decisions/s …').")
    return figures


class Command(BaseCommand):
    help = "Route fresh tickets; print decisions/s and ms per decision, beside the SQL floor."

    def add_arguments(self, parser):
        parser.add_argument("--tickets", type=int, default=2000)
        parser.add_argument("--agents", type=int, default=50)
        parser.add_argument("--workers", default="1,4", help="thread counts, e.g. 1,4")
        parser.add_argument(
            "--distribution",
            default="load_balanced",
            choices=["load_balanced", "round_robin", "random"],
        )
        parser.add_argument("--floor", help="path of routing_floor.py: run it and compare")
        parser.add_argument("--floor-output", help="a file with routing_floor.py's output")
        parser.add_argument(
            "--rounds",
            type=int,
            default=1,
            help="with --floor: the floor and the engine in turn this many times (median ratio)",
        )
        parser.add_argument("--celery", action="store_true", help="also route through Celery")
        parser.add_argument("--timeout", type=int, default=600, help="Celery run limit (s)")

    def handle(self, *, tickets, agents, workers, distribution, rounds, timeout, **options):
        settings.DEBUG = False  # no query log: measure what production runs
        counts = [int(w) for w in str(workers).split(",")]
        if connection.vendor == "sqlite" and max(counts) > 1:
            self.stdout.write("SQLite serialises writers: using 1 worker.")
            counts = [1]
        floor_of_round = self.floor(options, tickets, agents, counts, rounds)
        channel = self.build(agents, distribution)
        self.stdout.write(
            f"{connection.vendor}: {agents} agents, {distribution}, {tickets} tickets per run"
        )
        self.empty_broker()
        self.stdout.write(f"statements per decision: {self.statements_per_decision(channel)}")
        eager = settings.CELERY_TASK_ALWAYS_EAGER
        if eager:
            self.stdout.write(
                "No broker: the work after each commit (notifications) runs inline and is "
                "counted in each decision; set CELERY_BROKER_URL for the figures to compare."
            )
        ratios = defaultdict(list)  # workers → our time over the floor's, per round
        for round_ in range(1, rounds + 1):
            if rounds > 1:
                self.stdout.write(f"round {round_} of {rounds}:")
            floor = floor_of_round()
            for count in counts:
                rate, median, p95 = self.run_in_process(channel, tickets, count)
                line = (
                    f"workers {count}: {rate:7.0f} decisions/s  median {median:.2f} ms  "
                    f"p95 {p95:.2f} ms"
                )
                if count in floor:
                    f_rate, f_median = floor[count]
                    ratios[count].append(f_rate / rate)
                    line += (
                        f"  | floor {f_rate:.0f}/s, median {f_median:.2f} ms: "
                        f"{f_rate / rate:.1f}× the floor's time"
                    )
                self.stdout.write(line)
        if rounds > 1:
            for count, values in ratios.items():
                self.stdout.write(
                    f"workers {count}, median of {rounds} rounds: "
                    f"{statistics.median(values):.1f}× the floor's time "
                    f"({', '.join(f'{v:.1f}×' for v in values)})"
                )
        if options["celery"] and not eager:
            self.run_through_celery(channel, tickets, max(counts), timeout)
        self.empty_broker()
        self.ticket_page(channel, agents)

    # -----------------------------------------------------------------------------------
    # The floor
    # -----------------------------------------------------------------------------------

    def floor(self, options, tickets, agents, counts, rounds) -> Callable[[], Figures]:
        """What gives each round the floor's figures: its script run just before the round's
        own runs, a file of its output read once, or nothing. Checked before any data is
        built: a bench that cannot compare stops first."""
        if rounds < 1:
            raise CommandError("--rounds must be 1 or more.")
        if options["floor_output"]:
            figures = floor_figures(Path(options["floor_output"]).read_text())
            return lambda: figures
        if options["floor"]:
            if connection.vendor != "postgresql":
                raise CommandError("The floor runs on PostgreSQL only.")
            return lambda: floor_figures(self.run_floor(options["floor"], tickets, agents, counts))
        if rounds > 1:
            raise CommandError("--rounds compares with the floor: give --floor or --floor-output.")
        return dict

    def run_floor(self, script, tickets, agents, counts) -> str:
        params = connection.get_connection_params()
        dsn = " ".join(
            f"{key}={params[name]}"
            for key, name in (
                ("host", "host"),
                ("port", "port"),
                ("dbname", "dbname"),
                ("user", "user"),
                ("password", "password"),
            )
            if params.get(name)
        )
        command = [
            sys.executable,
            script,
            dsn,
            "--tickets",
            str(tickets),
            "--agents",
            str(agents),
            "--workers",
            ",".join(map(str, counts)),
        ]
        done = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
        self.stdout.write("floor (hand-written SQL, its own schema on the same server):")
        self.stdout.write(done.stdout.rstrip())
        if done.returncode:
            raise CommandError(f"the floor failed: {done.stderr.strip()[-500:]}")
        return done.stdout

    # -----------------------------------------------------------------------------------
    # Data
    # -----------------------------------------------------------------------------------

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
        """N pending tickets; the bench's earlier tickets of this type are closed first."""
        Ticket.objects.filter(Ticket.OPEN, subject__startswith="bench ").update(
            status=Ticket.Status.CLOSED, closed_at=timezone.now()
        )
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
        if connection.vendor == "postgresql":  # no dead rows left by the closing; fresh stats
            with connection.cursor() as cursor:
                cursor.execute("VACUUM (ANALYZE) helpdesk_ticket, helpdesk_user")
        return [t.pk for t in made]

    def statements_per_decision(self, channel) -> int:
        """The decision's own statements (its transaction's BEGIN and COMMIT not counted)."""
        (ticket_id,) = self.fresh_tickets(channel, 1)
        with CaptureQueriesContext(connection) as ctx:
            route_ticket(ticket_id=ticket_id)
        return sum(1 for q in ctx.captured_queries if q["sql"] not in ("BEGIN", "COMMIT"))

    def empty_broker(self):
        if not settings.CELERY_TASK_ALWAYS_EAGER:
            celery_app.control.purge()

    # -----------------------------------------------------------------------------------
    # Runs
    # -----------------------------------------------------------------------------------

    def run_in_process(self, channel, n, workers) -> tuple[float, float, float]:
        ids = self.fresh_tickets(channel, n)
        chunks = [ids[i::workers] for i in range(workers)]
        timings: list[float] = []
        lock = threading.Lock()
        ready = threading.Barrier(workers + 1)

        def work(chunk):
            mine = []
            try:
                connection.ensure_connection()
                ready.wait()
                for ticket_id in chunk:
                    started = time.perf_counter()
                    route_ticket(ticket_id=ticket_id)
                    mine.append((time.perf_counter() - started) * 1000)
            finally:
                connection.close()
                with lock:
                    timings.extend(mine)

        threads = [threading.Thread(target=work, args=(c,)) for c in chunks]
        for t in threads:
            t.start()
        ready.wait()  # connections open: time the decisions only
        started = time.perf_counter()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
        self.check_assigned(ids)
        return n / elapsed, statistics.median(timings), percentile(timings, 0.95)

    def ticket_page(self, channel, agents, repeat=30):
        """The ticket page of the run's last assigned ticket, as its owner: size and time."""
        decision = (
            RoutingDecision.objects.filter(
                channel=channel, outcome=RoutingDecision.Outcome.ASSIGNED
            )
            .select_related("owner")
            .first()
        )
        if decision is None:
            return
        client = Client()
        client.force_login(decision.owner)
        timed = time_page(client, reverse("ticket", args=[decision.ticket_id]), repeat)
        self.stdout.write(
            f"ticket page of a ticket routed among {agents} agents: "
            f"{len(timed.response.content) / 1000:.1f} KB, median {timed.median:.1f} ms"
        )

    def check_assigned(self, ids):
        """Every ticket assigned once."""
        pending = Ticket.objects.filter(pk__in=ids, owner__isnull=True).count()
        if pending:
            raise CommandError(f"{pending} tickets were left without an owner")

    def run_through_celery(self, channel, n, workers, timeout):
        ids = self.fresh_tickets(channel, n)
        log = Path("test-artifacts") / "bench-celery-worker.log"
        log.parent.mkdir(exist_ok=True)
        queues = [q.name for q in (getattr(celery_app.conf, "task_queues", None) or ())]
        listen = ["-Q", "routing"] if "routing" in queues else []
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
                f"bench-{time.monotonic_ns()}@%h",
                "--without-gossip",
                "--without-mingle",
                *listen,
            ],
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            # as in the production shape: connections (and their prepared statements) kept
            env={**os.environ, "CONN_MAX_AGE": os.environ.get("CONN_MAX_AGE", "60")},
        )
        try:
            deadline = time.monotonic() + 60
            while not celery_app.control.ping(timeout=0.5):
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise CommandError(f"the Celery worker did not start; see {log}")
            started = time.perf_counter()
            for ticket_id in ids:
                route_ticket_task.delay(ticket_id)
            pending = Ticket.objects.filter(pk__in=ids, routing_state=Ticket.RoutingState.PENDING)
            while pending.exists():
                if time.perf_counter() - started > timeout:
                    raise CommandError(f"stopped after {timeout}s with tickets still pending")
                time.sleep(0.1)
            elapsed = time.perf_counter() - started
        finally:
            proc.terminate()  # warm shutdown: the worker finishes what it holds
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.stdout.write(
            f"celery ({workers} processes{', routing queue' if listen else ''}): "
            f"{n / elapsed:.0f} decisions/s ({n} tickets in {elapsed:.1f}s)"
        )
