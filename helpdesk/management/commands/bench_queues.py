"""Benchmark the queue pages: `manage.py bench_queues --tickets 100000`.

Builds bench data in the configured database (bulk inserts; reused when the database
already holds enough tickets), renders every queue page through the test client as a
signed-in agent, and prints per queue the median and p95 time and the SQL queries per
request. On PostgreSQL it also prints each queue's query plans (page and counts) so the
index used is visible.

Run by hand — tests assert query counts and plans, never wall-clock times.
"""

import random
import statistics
import time
from datetime import timedelta

from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import connection, transaction
from django.test import Client
from django.test.utils import override_settings
from django.urls import reverse
from django.utils import timezone

from helpdesk import queues
from helpdesk.models import Channel, Contact, Team, TeamMembership, Ticket, User
from helpdesk.services.groups import AGENTS, ensure_default_groups

BENCH_AGENT = "bench_agent"
BENCH_TEAMS = 6
BENCH_AGENTS = 30
BATCH = 5000


def _agents_group() -> Group:
    ensure_default_groups()
    return Group.objects.get(name=AGENTS)


def bench_agent() -> User:
    """The agent the pages are rendered for: main member of one bench team, additional
    member of another (so both R22 and R23 span two teams)."""
    agent, created = User.objects.get_or_create(
        username=BENCH_AGENT, defaults={"first_name": "Bench", "last_name": "Agent"}
    )
    if created:
        agent.set_unusable_password()
        agent.save(update_fields=["password"])
    agent.groups.add(_agents_group())
    teams = bench_teams()
    TeamMembership.objects.get_or_create(
        team=teams[0], user=agent, defaults={"role": TeamMembership.Role.MAIN}
    )
    TeamMembership.objects.get_or_create(
        team=teams[1], user=agent, defaults={"role": TeamMembership.Role.ADDITIONAL}
    )
    return User.objects.get(pk=agent.pk)


def bench_teams() -> list[Team]:
    return [Team.objects.get_or_create(name=f"Bench team {i + 1}")[0] for i in range(BENCH_TEAMS)]


def _bench_people() -> list[User]:
    group = _agents_group()
    people = []
    for i in range(BENCH_AGENTS):
        user, created = User.objects.get_or_create(
            username=f"bench_agent_{i:02d}",
            defaults={"first_name": f"Agent{i:02d}", "last_name": "Bench"},
        )
        if created:
            user.groups.add(group)
        people.append(user)
    return people


def _bench_channels() -> list[Channel]:
    return [
        Channel.objects.get_or_create(
            name=f"Bench {label}", defaults={"kind": kind, "address": f"bench-{kind}"}
        )[0]
        for kind, label in Channel.Kind.choices
    ]


def build_tickets(total: int, *, seed: int = 7, out=None) -> int:
    """Add tickets until the database holds `total`; returns how many were added.

    The mix resembles a working helpdesk: 70% closed; of the open ones 20% unassigned,
    25% team only, 45% owner and team, 10% owner only; 1 in 40 owned tickets belong to
    the bench agent.
    """
    missing = total - Ticket.objects.count()
    if missing <= 0:
        return 0
    rng = random.Random(seed + missing)
    agent = bench_agent()
    teams = bench_teams()
    people = _bench_people()
    channels = _bench_channels()
    now = timezone.now()
    start = Contact.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    contacts = Contact.objects.bulk_create(
        [
            Contact(name=f"Customer {start + i}", email=f"customer{start + i}@bench.example")
            for i in range(max(1, missing // 5))
        ],
        batch_size=BATCH,
    )
    subjects = [
        "Cannot sign in",
        "Invoice is wrong",
        "Refund request",
        "Printer on fire",
        "Where is my order?",
        "Change of address",
        "App crashes on start",
        "Question about pricing",
    ]
    added = owned = 0
    while added < missing:
        batch = []
        for _ in range(min(BATCH, missing - added)):
            created = now - timedelta(seconds=rng.randint(60, 365 * 86400))
            channel = rng.choice(channels)
            closed = rng.random() < 0.7
            shape = rng.random()
            owner = team = None
            if shape >= 0.20:
                team = rng.choice(teams) if shape < 0.90 else None
                if shape >= 0.45:
                    owned += 1
                    owner = agent if owned % 40 == 1 else rng.choice(people)
            activity = created + timedelta(seconds=rng.randint(0, 3 * 86400))
            batch.append(
                Ticket(
                    subject=f"{rng.choice(subjects)} ({added + len(batch)})",
                    status=Ticket.Status.CLOSED
                    if closed
                    else rng.choice(
                        [
                            Ticket.Status.NEW,
                            Ticket.Status.WAITING_ON_US,
                            Ticket.Status.WAITING_ON_CONTACT,
                        ]
                    ),
                    priority=rng.choice(Ticket.Priority.values),
                    channel=channel,
                    ticket_type=channel.ticket_type,
                    contact=rng.choice(contacts),
                    owner=owner,
                    team=team,
                    assigned_at=created if owner else None,
                    routing_state=Ticket.RoutingState.DONE,
                    created_at=created,
                    last_activity_at=activity,
                    closed_at=activity if closed else None,
                )
            )
        with transaction.atomic():
            Ticket.objects.bulk_create(batch, batch_size=BATCH)
        added += len(batch)
        if out is not None:
            out.write(f"  … {added}/{missing} tickets")
    return added


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


class Command(BaseCommand):
    help = "Time every queue page (median, p95, queries per request) on bench data."

    def add_arguments(self, parser):
        parser.add_argument("--tickets", type=int, default=100_000, help="Tickets wanted.")
        parser.add_argument("--repeat", type=int, default=50, help="Requests per queue.")
        parser.add_argument("--per-page", type=int, default=25, choices=[10, 25, 50, 100])
        parser.add_argument("--no-plans", action="store_true", help="Skip the query plans.")

    def handle(self, *args, tickets, repeat, per_page, no_plans, **options):
        started = time.perf_counter()
        added = build_tickets(tickets, out=self.stdout)
        total = Ticket.objects.count()
        if added:
            self.stdout.write(f"Added {added} tickets in {time.perf_counter() - started:.1f} s.")
        on_postgres = connection.vendor == "postgresql"
        if on_postgres:
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE helpdesk_ticket")
                cursor.execute("VACUUM ANALYZE helpdesk_contact")
        agent = bench_agent()
        client = Client()
        client.force_login(agent)
        # Exact sizes, for the table only (the pages count at most queues.COUNT_CAP rows).
        counts = {s: q.tickets(user=agent).count() for s, q in queues.QUEUES.items()}
        self.stdout.write(
            f"\n{total} tickets on {connection.vendor}; {repeat} requests per page, "
            f"{per_page} rows per page, as {agent.username} (teams: "
            f"{', '.join(t.name for t in agent.teams.all())})\n"
        )
        rows = []
        with override_settings(ALLOWED_HOSTS=["testserver"], DEBUG=False):
            for slug, queue in queues.QUEUES.items():
                url = reverse("queue", args=[slug]) + f"?per_page={per_page}"
                rows.append((queue.label, counts[slug], *self._time(client, url, repeat)))
            ticket = queues.all_open_tickets(user=agent).order_by("-created_at").first()
            if ticket is not None:
                url = reverse("ticket", args=[ticket.pk])
                rows.append(("Ticket page", None, *self._time(client, url, repeat)))
        header = f"{'page':<22}{'tickets':>9}{'median ms':>11}{'p95 ms':>9}{'queries':>9}"
        self.stdout.write(header)
        self.stdout.write("-" * len(header))
        for label, count, median, p95, queries in rows:
            shown = "" if count is None else count
            self.stdout.write(f"{label:<22}{shown:>9}{median:>11.1f}{p95:>9.1f}{queries:>9}")
        if on_postgres and not no_plans:
            self._plans(agent, per_page)

    def _time(self, client: Client, url: str, repeat: int) -> tuple[float, float, int]:
        for _ in range(3):  # warm up: templates, connection, caches
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)
        queries = []

        def count(execute, sql, params, many, context):
            queries.append(sql)
            return execute(sql, params, many, context)

        with connection.execute_wrapper(count):
            client.get(url)
        timings = []
        for _ in range(repeat):
            begin = time.perf_counter()
            client.get(url)
            timings.append((time.perf_counter() - begin) * 1000)
        return statistics.median(timings), _percentile(timings, 0.95), len(queries)

    def _plans(self, agent: User, per_page: int) -> None:
        self.stdout.write("\nPostgreSQL plans (EXPLAIN ANALYZE) of each queue's page query:")
        for queue in queues.QUEUES.values():
            tickets = queue.tickets(user=agent)
            ids = queues.page_ids(tickets, queue.default_sort)[:per_page]
            page = queues.page_rows(ids, queue.default_sort)
            self.stdout.write(f"\n== {queue.label} ==")
            self.stdout.write(page.explain(analyze=True))
        sql, params = queues.queue_counts_sql(user=agent)
        self.stdout.write(f"\n== Sidebar counts (one query, each capped at {queues.COUNT_CAP}) ==")
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN ANALYZE {sql}", params)
            self.stdout.write("\n".join(line for (line,) in cursor.fetchall()))
