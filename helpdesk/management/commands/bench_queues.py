"""Benchmark the queue pages: `manage.py bench_queues --tickets 100000`.

Builds bench data in the configured database (`_bench_tickets`: on PostgreSQL `INSERT …
SELECT generate_series`, ≈ 20 s per 100,000 tickets with their contacts and messages, ≈ 3
minutes for 1,000,000 on two cores; reused when the database already holds enough tickets)
and `--seated-agents` (500) seated agents with ticket access in the bench teams, renders
every queue page, the ticket page and a few searches (a contact's address, a word of
subjects, a contact name, words of message bodies; on All open and Closed) through the test
client as a signed-in agent, and prints per page the median and p95 time and the SQL
queries per request. On PostgreSQL it also prints the query plans (each queue's page, the
sidebar counts, each search's page and count) so the index used is visible.

Run by hand — tests assert query counts and plans, never wall-clock times.
"""

import statistics
import time

from django.core.management.base import BaseCommand
from django.db import connection
from django.test import Client
from django.urls import reverse

from helpdesk import queues
from helpdesk.benchmarks import percentile, time_page
from helpdesk.management.commands._bench_tickets import bench_agent, build_tickets
from helpdesk.management.commands._bench_tickets import seated_agents as seated_agents_of
from helpdesk.models import Seat, Ticket, User
from helpdesk.search import matches_sql

__all__ = ["Command", "bench_agent", "build_tickets"]


# (queue, text): a contact's address in part, a word of one subject in eight, a surname of
# one contact in 41, a model code in a few messages, a stemmed word of one message in six.
SEARCHES = [
    ("open", "customer4242"),
    ("closed", "customer4242"),
    ("open", "refund"),
    ("closed", "refund"),
    ("open", "Nordmann"),
    ("open", "QX42"),
    ("closed", "QX42"),
    ("open", "jammed"),
]


class Command(BaseCommand):
    help = (
        "Time every queue page, the ticket page and searches (median, p95, queries per "
        "request) on bench data, built first if missing: about 20 s per 100,000 tickets on "
        "PostgreSQL (3 minutes for 1,000,000 on two cores), much longer on SQLite."
    )

    def add_arguments(self, parser):
        parser.add_argument("--tickets", type=int, default=100_000, help="Tickets wanted.")
        parser.add_argument("--repeat", type=int, default=50, help="Requests per queue.")
        parser.add_argument("--per-page", type=int, default=25, choices=[10, 25, 50, 100])
        parser.add_argument("--no-plans", action="store_true", help="Skip the query plans.")
        parser.add_argument(
            "--seated-agents", type=int, default=500, help="Seated agents wanted (owner control)."
        )

    def handle(self, *args, tickets, repeat, per_page, no_plans, seated_agents, **options):
        started = time.perf_counter()
        added = build_tickets(tickets, out=self.stdout)
        seated = seated_agents_of(seated_agents)
        total = Ticket.objects.count()
        if added:
            self.stdout.write(f"Added {added} tickets in {time.perf_counter() - started:.1f} s.")
        on_postgres = connection.vendor == "postgresql"
        if on_postgres:
            with connection.cursor() as cursor:
                for table in ("helpdesk_ticket", "helpdesk_contact", "helpdesk_message"):
                    cursor.execute(f"VACUUM ANALYZE {table}")
        agent = bench_agent()
        client = Client()
        client.force_login(agent)
        # Exact sizes, for the table only (the pages count at most queues.COUNT_CAP rows).
        counts = {s: q.tickets(user=agent).count() for s, q in queues.QUEUES.items()}
        self.stdout.write(
            f"\n{total} tickets on {connection.vendor}; {repeat} requests per page, "
            f"{per_page} rows per page, as {agent.username} (teams: "
            f"{', '.join(t.name for t in agent.teams.all())}); {Seat.objects.count()} seated "
            f"agents ({seated} added)\n"
        )
        rows = []
        for slug, queue in queues.QUEUES.items():
            url = reverse("queue", args=[slug]) + f"?per_page={per_page}"
            rows.append((queue.label, counts[slug], *self._time(client, url, repeat)))
        ticket = queues.all_open_tickets(user=agent).order_by("-created_at").first()
        if ticket is not None:
            url = reverse("ticket", args=[ticket.pk])
            rows.append(("Ticket page", None, *self._time(client, url, repeat)))
        for slug, text in SEARCHES:
            queue = queues.QUEUES[slug]
            cap = queues.SEARCH_COUNT_CAP
            found = queues.capped_count(queues.search(queue.tickets(user=agent), text).tickets, cap)
            shown = f"{cap}+" if found > cap else found
            url = reverse("queue", args=[slug]) + f"?per_page={per_page}&q={text}"
            label = f"{queue.label}, q={text}"
            rows.append((label, shown, *self._time(client, url, repeat)))
        header = f"{'page':<30}{'tickets':>9}{'median ms':>11}{'p95 ms':>9}{'queries':>9}"
        self.stdout.write(header)
        self.stdout.write("-" * len(header))
        for label, count, median, p95, queries in rows:
            shown = "" if count is None else count
            self.stdout.write(f"{label:<30}{shown:>9}{median:>11.1f}{p95:>9.1f}{queries:>9}")
        self._search_sql(agent, per_page, repeat)
        if on_postgres and not no_plans:
            self._plans(agent, per_page)
            self._search_plans(agent, per_page)

    def _time(self, client: Client, url: str, repeat: int) -> tuple[float, float, int]:
        timed = time_page(client, url, repeat)
        return timed.median, timed.p95, timed.queries

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

    def _search_sql(self, agent: User, per_page: int, repeat: int) -> None:
        """The search's own cost, without the page around it: the matching contacts and
        messages (PostgreSQL reads them first, in one statement), its capped count and its
        page of rows — the queries a search adds to or changes on a queue page."""
        header = (
            f"{'search (SQL only)':<30}{'match ms':>9}{'count ms':>9}{'page ms':>9}{'all p95':>9}"
        )
        self.stdout.write(f"\n{header}\n{'-' * len(header)}")
        for slug, text in SEARCHES:
            queue = queues.QUEUES[slug]
            found, counts, pages, every = [], [], [], []
            for _ in range(repeat + 3):
                begin = time.perf_counter()
                tickets = queues.search(queue.tickets(user=agent), text).tickets
                matched = time.perf_counter()
                queues.capped_count(tickets, queues.SEARCH_COUNT_CAP)  # as the page counts
                middle = time.perf_counter()
                ids = queues.page_ids(tickets, queue.default_sort)[:per_page]
                list(queues.page_rows(ids, queue.default_sort))
                end = time.perf_counter()
                found.append((matched - begin) * 1000)
                counts.append((middle - matched) * 1000)
                pages.append((end - middle) * 1000)
                every.append((end - begin) * 1000)
            found, counts, pages, every = found[3:], counts[3:], pages[3:], every[3:]
            label = f"{queue.label}, q={text}"
            self.stdout.write(
                f"{label:<30}{statistics.median(found):>9.1f}{statistics.median(counts):>9.1f}"
                f"{statistics.median(pages):>9.1f}{percentile(every, 0.95):>9.1f}"
            )

    def _search_plans(self, agent: User, per_page: int) -> None:
        self.stdout.write(
            "\nPostgreSQL plans (EXPLAIN ANALYZE) of each search's matches, count and page:"
        )
        for slug, text in SEARCHES:
            queue = queues.QUEUES[slug]
            sql, params = matches_sql(text)
            self.stdout.write(f"\n== {queue.label}, q={text}: matching contacts and messages ==")
            with connection.cursor() as cursor:
                cursor.execute(f"EXPLAIN ANALYZE {sql}", params)
                self.stdout.write("\n".join(line for (line,) in cursor.fetchall()))
            tickets = queues.search(queue.tickets(user=agent), text).tickets
            sql, params = queues.capped_count_sql(tickets, queues.SEARCH_COUNT_CAP)
            self.stdout.write(f"\n== {queue.label}, q={text}: count ==")
            with connection.cursor() as cursor:
                cursor.execute(f"EXPLAIN ANALYZE {sql}", params)
                self.stdout.write("\n".join(line for (line,) in cursor.fetchall()))
            ids = queues.page_ids(tickets, queue.default_sort)[:per_page]
            self.stdout.write(f"\n== {queue.label}, q={text}: page ==")
            self.stdout.write(queues.page_rows(ids, queue.default_sort).explain(analyze=True))
