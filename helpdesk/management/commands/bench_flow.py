"""`manage.py bench_flow [--tickets 2000] [--clients 4] [--agents 20]`: the staff API → routing
→ notification flow, end to end, through the production shape on loopback.

Against the configured PostgreSQL (DATABASE_URL) and Redis (CELERY_BROKER_URL) — it refuses
anything else — it builds its data (a team of `--agents` seated, available agents with ticket
access; a channel whose automation assigns to that team, load balanced; an API user with a
fresh token; the channel's open tickets of earlier runs closed, so loads start from zero),
empties the broker's queues, starts `bin/serve web` (gunicorn, DEBUG off) and `bin/serve
worker` (Celery: one worker on every queue with `--concurrency` processes, or one per group
of `--workers`, written as bin/serve's SERVE_WORKERS) on 127.0.0.1 and a free port, then
posts `--tickets` tickets to POST /api/v1/tickets/ from `--clients` threads (a kept-alive
connection each) and waits, at most `--timeout` seconds, until every ticket is routed and
each assigned ticket's owner has the in-app "assigned to you" notification.

Prints:
- created: tickets/s over the posting (first POST sent → last answer), POST median/p95 ms;
- routed: tickets/s from the first POST to the last routing decision's `created_at`;
- notified: the notification's lag after the routing decision, median/p95 — "in the app" is
  when the Notification row was written (its Delivery's `sent_at`); "announced" is the
  Notification's `created_at`, which is when the announcement (its Delivery) was recorded.

The agents have no email address, so no email is sent (the in-app notification is the one
measured); beat is not started (the sweeps only repair what was lost). The parts are
stopped (TERM to each process group, then waited for) whatever happens, Ctrl+C and a TERM
of this command included. Give it a database and a Redis database of its own: it writes
bench data and empties the broker's queues. Logs: test-artifacts/bench_flow/. Run by hand —
tests assert what it counts, never its times. The core imports no other app: routing's and
notifications' models are looked up by name.
"""

import http.client
import json
import os
import secrets
import signal
import socket
import statistics
import sys
import tempfile
import threading
import time
import uuid
from contextlib import contextmanager, suppress
from datetime import datetime
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.utils import timezone

from helpdesk.benchmarks import percentile
from helpdesk.celery import app as celery_app
from helpdesk.channel_kinds import AssignMode
from helpdesk.loopback import Part, free_port
from helpdesk.models import ApiToken, Channel, Seat, Team, TeamMembership, Ticket, User
from helpdesk.services import create_api_token
from helpdesk.services.groups import AGENTS, ensure_default_groups

ROOT = Path(settings.BASE_DIR)
LOGS = ROOT / "test-artifacts" / "bench_flow"
API_PATH = "/api/v1/tickets/"
CONTACTS = 1000  # the tickets' contacts: a new one for each of the first, then returning
START_TIMEOUT = 90
REQUEST_TIMEOUT = 30
POLL_SECONDS = 0.25
API_USERNAME = "bench-flow-api"
ASSIGNED_TO_ME = "assigned_to_me"  # notifications.catalog.Event.ASSIGNED_TO_ME
IN_APP = "in_app"  # notifications.catalog.Medium.IN_APP


def worker_groups(spec: str, concurrency: int, queues: list[str]) -> list[tuple[str, int]]:
    """bin/serve's SERVE_WORKERS ("routing:2 notifications,celery") → [(queues, processes)];
    "" is one worker on every queue (`""` queues: bin/serve's default)."""
    if not spec.strip():
        return [("", concurrency)]
    groups = []
    for group in spec.split():
        names, _, processes = group.partition(":")
        unknown = [q for q in names.split(",") if q not in queues]
        if unknown or (processes and not processes.isdigit()) or processes == "0":
            raise CommandError(
                f"--workers {group!r}: queues of {', '.join(queues)}, each group "
                "optionally :processes (e.g. 'routing:2 notifications,outbound,intake,celery')"
            )
        groups.append((names, int(processes or concurrency)))
    return groups


class Load:
    """The API clients: each thread keeps one connection and takes the next ticket number."""

    def __init__(self, *, port: int, token: str, channel_id: int, run: str, tickets: int):
        self.port, self.token, self.channel_id = port, token, channel_id
        self.run, self.tickets = run, tickets
        self.next = 0
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.seconds: list[float] = []
        self.ids: list[int] = []
        self.errors: list[str] = []

    def take(self) -> int | None:
        with self.lock:
            if self.stop.is_set() or self.next >= self.tickets:
                return None
            self.next += 1
            return self.next - 1

    def client(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=REQUEST_TIMEOUT)
        try:
            while (i := self.take()) is not None:
                try:
                    self.one(conn, i)
                except (OSError, http.client.HTTPException, ValueError) as exc:
                    conn.close()  # the next request opens a new connection
                    with self.lock:
                        self.errors.append(f"ticket {i}: {type(exc).__name__}: {exc}")
        finally:
            conn.close()

    def one(self, conn: http.client.HTTPConnection, i: int) -> None:
        body = json.dumps(
            {
                "subject": f"bench flow {self.run} #{i}",
                "body": f"Ticket {i} of bench_flow run {self.run}.",
                "contact_email": f"customer{i % CONTACTS}@bench-flow.example",
                "contact_name": f"Customer {i % CONTACTS}",
                "channel_id": self.channel_id,
            }
        )
        headers = {
            "Authorization": f"Bearer {self.token}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        started = time.perf_counter()
        conn.request("POST", API_PATH, body=body, headers=headers)
        response = conn.getresponse()
        answer = response.read()
        seconds = time.perf_counter() - started
        if response.status != 201:
            raise ValueError(f"answered {response.status}: {answer[:200]!r}")
        ticket_id = json.loads(answer)["id"]
        with self.lock:
            self.seconds.append(seconds)
            self.ids.append(ticket_id)


def stop(parts: list[Part]) -> None:
    """TERM every part's process group at once (gunicorn and Celery stop warm: what they
    hold is finished), then wait for each (`Part.stop`: KILL after its grace)."""
    for part in parts:
        if part.proc.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(part.proc.pid, signal.SIGTERM)
    for part in parts:
        part.stop()


@contextmanager
def term_as_interrupt():
    """A TERM of this command stops it as Ctrl+C does: through the `finally` that stops
    the parts (main thread only; elsewhere signals cannot be handled)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class Command(BaseCommand):
    help = "Post tickets to the API of a real gunicorn + Celery; print created/routed/notified."

    def add_arguments(self, parser):
        parser.add_argument("--tickets", type=int, default=2000)
        parser.add_argument("--clients", type=int, default=4, help="Concurrent API clients.")
        parser.add_argument("--agents", type=int, default=20, help="Agents in the team.")
        parser.add_argument(
            "--concurrency", type=int, default=2, help="Processes per worker (WORKER_CONCURRENCY)."
        )
        parser.add_argument(
            "--workers",
            default="",
            help="One worker per group, as bin/serve's SERVE_WORKERS "
            "(e.g. 'routing:2 notifications,outbound,intake,celery'); default one on every queue.",
        )
        parser.add_argument(
            "--web", type=int, help="gunicorn processes (WEB_CONCURRENCY; bin/serve's default)."
        )
        parser.add_argument("--timeout", type=int, default=600, help="Longest wait (s).")

    def handle(self, *args, tickets, clients, agents, concurrency, workers, web, timeout, **opts):
        if not 1 <= tickets <= 100_000 or not 1 <= clients <= 64 or not 1 <= agents <= 2000:
            raise CommandError("--tickets 1…100000, --clients 1…64, --agents 1…2000")
        if not 1 <= concurrency <= 32 or (web is not None and not 1 <= web <= 32):
            raise CommandError("--concurrency and --web 1…32")
        if not 1 <= timeout <= 3600:
            raise CommandError("--timeout 1…3600 seconds")
        if connection.vendor != "postgresql":
            raise CommandError("bench_flow measures PostgreSQL: set DATABASE_URL=postgres://…")
        broker = os.environ.get("CELERY_BROKER_URL", "")
        if not broker.startswith(("redis://", "rediss://")):
            raise CommandError("bench_flow needs a Redis broker: set CELERY_BROKER_URL=redis://…")
        groups = worker_groups(workers, concurrency, list(celery_app.amqp.queues))

        run = uuid.uuid4().hex[:8]
        channel, token = self.build(agents, run)
        port = free_port()
        LOGS.mkdir(parents=True, exist_ok=True)
        for old in LOGS.glob("*.log"):
            old.unlink()
        env = {
            **os.environ,
            "DEBUG": "false",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "127.0.0.1",
            "SECURE_SSL_REDIRECT": "false",  # plain HTTP on loopback
            "STATIC_ROOT": tempfile.mkdtemp(prefix="bench-flow-static-"),
            "VENV_PYTHON": sys.executable,
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "GUNICORN_CMD_ARGS": "--no-control-socket",
            "PYTHONUNBUFFERED": "1",
            **({"WEB_CONCURRENCY": str(web)} if web else {}),
        }
        names = [f"bench-flow-{run}-{n}@{socket.gethostname()}" for n in range(len(groups))]
        shape = "; ".join(f"{q or 'every queue'}: {p} processes" for q, p in groups)
        self.stdout.write(
            f"bench_flow: {tickets} tickets from {clients} clients to "
            f"http://127.0.0.1:{port}{API_PATH}; web: bin/serve web "
            f"({env.get('WEB_CONCURRENCY', 'its default')} processes); workers: {shape}; "
            f"{agents} agents, load balanced; run {run}"
        )
        parts: list[Part] = []
        with term_as_interrupt(), celery_app.connection_for_write(broker) as broker_conn:
            celery_app.control.purge(connection=broker_conn)  # an empty broker
            try:  # whatever raises (Ctrl+C too), what was started is stopped
                for (queues, processes), name in zip(groups, names, strict=True):
                    worker_env = {
                        **env,
                        "WORKER_CONCURRENCY": str(processes),
                        "WORKER_QUEUES": queues,
                        "WORKER_NAME": name,
                    }
                    log = LOGS / f"worker-{len(parts)}.log"
                    parts.append(Part("worker", worker_env, log))
                parts.append(Part("web", env, LOGS / "web.log"))
                self.wait_until_up(port, token, names, parts, broker_conn)
                load = Load(port=port, token=token, channel_id=channel.pk, run=run, tickets=tickets)
                self.measure(load, clients, parts, timeout)
            finally:
                stop(parts)
                celery_app.control.purge(connection=broker_conn)

    # -----------------------------------------------------------------------------------
    # Data
    # -----------------------------------------------------------------------------------

    def build(self, n_agents: int, run: str) -> tuple[Channel, str]:
        """The team, the channel and its automation (reused by later runs of the same size),
        and a fresh token of the API user."""
        ensure_default_groups()
        team, _ = Team.objects.get_or_create(name=f"Bench flow {n_agents}")
        group = Group.objects.get(name=AGENTS)
        existing = team.memberships.count()
        if existing < n_agents:
            users = User.objects.bulk_create(
                [
                    User(username=f"bench-flow{n_agents}-{i}", password="!")
                    for i in range(existing, n_agents)
                ]
            )
            Seat.objects.bulk_create([Seat(user=u) for u in users])
            User.groups.through.objects.bulk_create(
                [User.groups.through(user_id=u.pk, group_id=group.pk) for u in users]
            )
            TeamMembership.objects.bulk_create([TeamMembership(team=team, user=u) for u in users])
        # Available (manual status), as an earlier run left them or not.
        User.objects.filter(memberships__team=team).update(
            is_active=True,
            status=User.Status.AVAILABLE,
            availability_mode=User.AvailabilityMode.MANUAL,
            email="",
        )
        channel, _ = Channel.objects.get_or_create(
            name=f"Bench flow {n_agents}", kind=Channel.Kind.TEAM_EMAIL
        )
        Channel.objects.filter(pk=channel.pk).update(is_active=True)
        automation, _ = apps.get_model(
            "channels_cfg", "ChannelAutomation"
        ).objects.update_or_create(
            channel=channel,
            defaults={
                "assign_mode": AssignMode.SPECIFIC,
                "distribution": "load_balanced",
                "available_only": True,
            },
        )
        automation.teams.set([team])
        # Loads start from zero: the open tickets of earlier runs are closed (bench data).
        Ticket.objects.filter(Ticket.OPEN, channel=channel).update(
            status=Ticket.Status.CLOSED, closed_at=timezone.now()
        )
        api_user, _ = User.objects.get_or_create(username=API_USERNAME, defaults={"password": "!"})
        User.objects.filter(pk=api_user.pk).update(is_active=True)
        api_user.groups.add(group)  # ticket access; no seat, in no team: never an owner
        ApiToken.objects.filter(user=api_user).delete()
        token = create_api_token(user=api_user, name=f"bench_flow {run}")
        return channel, token

    # -----------------------------------------------------------------------------------
    # Parts
    # -----------------------------------------------------------------------------------

    def wait_until_up(self, port, token, names, parts, broker_conn) -> None:
        """The web answers the API and every worker answers a ping."""
        deadline = time.monotonic() + START_TIMEOUT
        web_up, waiting = False, set(names)
        while time.monotonic() < deadline:
            self.check_alive(parts)
            if not web_up:
                with suppress(OSError, http.client.HTTPException):
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                    try:
                        conn.request(
                            "GET", f"{API_PATH}0/", headers={"Authorization": f"Bearer {token}"}
                        )
                        web_up = conn.getresponse().status == 404  # no ticket 0: the API answers
                    finally:
                        conn.close()
            if waiting:
                replies = celery_app.control.ping(
                    destination=sorted(waiting), timeout=0.5, connection=broker_conn
                )
                waiting -= {name for reply in replies for name in reply}
            if web_up and not waiting:
                return
            time.sleep(0.2)
        raise CommandError(f"the parts did not start within {START_TIMEOUT}s; see {LOGS}")

    def check_alive(self, parts: list[Part]) -> None:
        for part in parts:
            if part.proc.poll() is not None:
                raise CommandError(f"a part exited ({part.proc.returncode}); see {part.log}")

    # -----------------------------------------------------------------------------------
    # The run
    # -----------------------------------------------------------------------------------

    def measure(self, load: Load, clients: int, parts: list[Part], timeout: int) -> None:
        threads = [threading.Thread(target=load.client, daemon=True) for _ in range(clients)]
        first_post = timezone.now()
        started = time.perf_counter()
        try:
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        finally:
            load.stop.set()  # Ctrl+C: the clients send nothing more
        posting = time.perf_counter() - started
        ms = [s * 1000 for s in load.seconds]
        created = len(load.ids)
        self.stdout.write(
            f"  created: {created} in {posting:.1f} s = {created / posting:.0f} tickets/s; "
            f"POST ms median {statistics.median(ms) if ms else float('nan'):.1f} / p95 "
            f"{percentile(ms, 0.95):.1f}; errors {len(load.errors)}"
        )
        for error in load.errors[:5]:
            self.stdout.write(f"    {error}")

        decisions, lags = self.wait_for_flow(load.ids, parts, timeout)
        routed = len(decisions)
        assigned = sum(1 for _, outcome in decisions.values() if outcome == "assigned")
        last = max((at for at, _ in decisions.values()), default=first_post)
        seconds = max((last - first_post).total_seconds(), 1e-9)
        self.stdout.write(
            f"  routed: {routed} ({assigned} assigned) in {seconds:.1f} s = "
            f"{routed / seconds:.0f} tickets/s (first POST → last routing decision)"
        )
        in_app = [lag for lag, _ in lags]
        announced = [lag for _, lag in lags]
        self.stdout.write(
            f'  notified: {len(lags)} "assigned to you" in the app; after the routing '
            f"decision: median {statistics.median(in_app) if in_app else float('nan'):.2f} s / "
            f"p95 {percentile(in_app, 0.95):.2f} s (announced: median "
            f"{statistics.median(announced) if announced else float('nan'):.2f} s / p95 "
            f"{percentile(announced, 0.95):.2f} s)"
        )
        problems = []
        if load.errors:
            problems.append(f"{len(load.errors)} POSTs failed")
        if routed < created:
            problems.append(f"{created - routed} tickets not routed within {timeout}s")
        if assigned < routed:
            problems.append(f"{routed - assigned} tickets routed without an owner")
        if len(lags) < assigned:
            problems.append(f"{assigned - len(lags)} owners not notified within {timeout}s")
        if problems:
            raise CommandError("; ".join(problems))

    def wait_for_flow(
        self, ids: list[int], parts: list[Part], timeout: int
    ) -> tuple[dict[int, tuple[datetime, str]], list[tuple[float, float]]]:
        """Poll until every ticket has a routing decision and every assigned one its in-app
        notification (or `timeout`); {ticket: (first decision at, outcome)} and, per
        notification, its (in-app lag, announced lag) in seconds."""
        decision_model = apps.get_model("routing", "RoutingDecision")
        delivery_model = apps.get_model("notifications", "Delivery")
        decisions_of = decision_model.objects.filter(ticket_id__in=ids)
        sent = delivery_model.objects.filter(
            ticket_id__in=ids, event=ASSIGNED_TO_ME, medium=IN_APP, notification__isnull=False
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive(parts)
            decided = decisions_of.values("ticket_id").distinct().count()
            if decided == len(ids):
                assigned = decisions_of.filter(outcome="assigned").values("ticket_id").distinct()
                if sent.count() >= assigned.count():
                    break
            time.sleep(POLL_SECONDS)
        decisions: dict[int, tuple[datetime, str]] = {}
        rows = decisions_of.order_by("created_at", "pk").values_list(
            "ticket_id", "created_at", "outcome"
        )
        for ticket_id, at, outcome in rows:
            decisions.setdefault(ticket_id, (at, outcome))  # a ticket's first decision
        lags = [
            (
                (sent_at - decisions[ticket_id][0]).total_seconds(),
                (announced_at - decisions[ticket_id][0]).total_seconds(),
            )
            for ticket_id, sent_at, announced_at in sent.values_list(
                "ticket_id", "sent_at", "notification__created_at"
            )
            if ticket_id in decisions
        ]
        return decisions, lags
