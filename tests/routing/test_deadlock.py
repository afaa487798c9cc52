"""Routing cannot deadlock with transactions that insert rows referencing its users (issue 9).

Inserting a row with a foreign key (a Delivery, Notification, AssignmentEvent, Message,
RoutingDecision …) makes PostgreSQL check the reference with `SELECT … FOR KEY SHARE` on the
referenced row, held until the inserting transaction ends. Django declares its foreign keys
DEFERRABLE INITIALLY DEFERRED, so a transaction runs these checks when it commits, in the
order it inserted its rows. `FOR UPDATE` conflicts with KEY SHARE: when the engine locked its
candidates `FOR UPDATE` (in id order), a commit checking a later candidate and then an
earlier one could close a cycle with it. The ticket services lock `FOR NO KEY UPDATE`,
which KEY SHARE does not conflict with, and the engine locks its ticket so too and no user
row at all (the ticket type's advisory lock, `routing.reads.lock_decisions`).

PostgreSQL, real concurrency: threads, each with its own connection, with a short
`deadlock_timeout` (a deadlock is reported at once) and a `lock_timeout` (a wait that should
not happen fails instead of hanging):

1. a commit that has checked candidate B and is paused before checking A while the router
   locks A and B: the interleaving that deadlocks under `FOR UPDATE`;
2. a decision (or an agent's service) in progress, holding its locks, while another
   transaction commits rows referencing its ticket and users: that commit must not wait;
3. a bounded storm: routers beside writers that reference the pool's users in descending id
   order through the notification and ticket services.
"""

import contextlib
import random
import threading
import time
from collections import Counter

import pytest
from django.db import DatabaseError, connection, transaction

from channels_cfg.models import AssignMode, Distribution
from helpdesk import events, services
from helpdesk.models import AssignmentEvent, Channel, Message, Ticket, User
from notifications.catalog import Event
from notifications.models import Delivery
from notifications.services import notify
from routing import reads
from routing.engine import route_ticket
from routing.models import RoutingDecision
from tests.factories import AgentFactory, ChannelAutomationFactory, ChannelFactory, TicketFactory

# Eager Celery on purpose: the after-commit work of every transaction (announcements,
# deliveries) runs in the committing thread at its commit, concurrently with the routers —
# part of the load these interleavings are about, and what `assert_delivered` checks.
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("eager_celery"),
]

SESSION = (
    "SET deadlock_timeout = '100ms'",  # detect a deadlock at once (superuser only)
    "SET lock_timeout = '2s'",  # a lock wait that should not happen fails the test
    "SET statement_timeout = '10s'",
)
WAIT = 5.0  # seconds any thread waits for another before it gives up
POLL = 0.005
JOIN = 30.0


# ---------------------------------------------------------------------------------------
# Threads with their own connections
# ---------------------------------------------------------------------------------------


def configure_session() -> None:
    with connection.cursor() as cursor:
        for statement in SESSION:
            with contextlib.suppress(DatabaseError):  # deadlock_timeout needs a superuser
                cursor.execute(statement)


def backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def is_waiting_for_a_lock(pid: int) -> bool:
    """Live from the lock manager (pg_stat_activity would be a snapshot per transaction)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT cardinality(pg_blocking_pids(%s)) > 0", [pid])
        return cursor.fetchone()[0]


def wait_until(condition, wake: threading.Event | None = None) -> None:
    """Poll a condition of the database (lock waits notify nobody), up to WAIT seconds;
    `wake` ends a poll interval early."""
    deadline = time.monotonic() + WAIT
    wake = wake or threading.Event()
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the interleaving"
        wake.wait(POLL)


def run_in_threads(*targets) -> list[str]:
    """Run each target in its own thread and connection; return the errors they raised."""
    errors = []

    def run(target):
        try:
            configure_session()
            target()
        except Exception as exc:  # reported by the test
            cause = exc.__cause__
            cause = f" ({type(cause).__module__}.{type(cause).__name__})" if cause else ""
            errors.append(
                f"{target.__name__}: {type(exc).__module__}.{type(exc).__name__}{cause}: {exc}"
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(t,), name=t.__name__) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=JOIN)
    assert not [t.name for t in threads if t.is_alive()], "a thread hung"
    return errors


def logged_errors(caplog) -> list[str]:
    """Errors logged meanwhile: after-commit work (announcements, deliveries) runs in robust
    on_commit hooks, which log an exception instead of raising it."""
    return [r.getMessage() for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]


def route_when_locked(monkeypatch, on_locked):
    """Call `on_locked()` inside every decision right after it took its locks (the engine
    reads the loads and turns just after taking the ticket type's lock)."""
    real = reads.loads_and_turns

    def loads_and_turns(*args, **kwargs):
        on_locked()
        return real(*args, **kwargs)

    monkeypatch.setattr(reads, "loads_and_turns", loads_and_turns)


def channel_routing_to(users, distribution=Distribution.LOAD_BALANCED, name="Support"):
    channel = ChannelFactory(name=name, kind=Channel.Kind.TEAM_EMAIL)
    ChannelAutomationFactory(
        channel=channel, assign_mode=AssignMode.SPECIFIC, users=users, distribution=distribution
    )
    return channel


def tell(user_id: int, ticket: Ticket, key: str) -> None:
    """One notification row per medium for `user_id`: inserts referencing the user and the
    ticket (KEY SHARE on both until the transaction ends)."""
    notify(
        event=Event.TICKET_UNASSIGNED,
        key=key,
        ticket=ticket,
        recipients=User.objects.filter(pk=user_id),
        text=f"deadlock test {key}",
    )


def assert_routed_once(ticket_ids, owners) -> None:
    tickets = dict(Ticket.objects.filter(pk__in=ticket_ids).values_list("pk", "owner_id"))
    assert {t: tickets[t] in owners for t in ticket_ids} == dict.fromkeys(ticket_ids, True)
    decisions = Counter(
        RoutingDecision.objects.filter(ticket_id__in=ticket_ids).values_list("ticket_id", flat=True)
    )
    routed = Counter(
        AssignmentEvent.objects.filter(
            ticket_id__in=ticket_ids, cause=AssignmentEvent.Cause.ROUTING
        ).values_list("ticket_id", flat=True)
    )
    assert decisions == routed == Counter(ticket_ids)  # exactly once each


def assert_delivered(keys) -> None:
    """Every writer's rows committed, and their after-commit deliveries ran."""
    rows = Delivery.objects.filter(event_key__in=keys)
    assert set(rows.values_list("event_key", flat=True)) == set(keys)
    assert not rows.exclude(status=Delivery.Status.SENT).exists()
    assert not rows.filter(notification__isnull=True).exists()


# ---------------------------------------------------------------------------------------
# 1. The deadlock of issue 9, made to happen
# ---------------------------------------------------------------------------------------


def test_commit_referencing_candidates_in_reverse_order_does_not_deadlock_routing(
    monkeypatch, caplog
):
    """The writer inserted rows referencing B, then ticket Z, then A. Its commit checks them
    in that order: KEY SHARE on B, then it waits at Z (a third transaction holds Z — the
    pause production load gives by chance). The router now takes its locks; Z is released
    and the commit goes on to A. When the router locked A and B `FOR UPDATE` (id order), it
    waited for the writer (B) and the writer for it (A): the deadlock of issue 9. It must
    take its locks without waiting for the writer."""
    a, b = sorted((AgentFactory(), AgentFactory()), key=lambda u: u.pk)
    ticket = TicketFactory(channel=channel_routing_to([a, b]))
    y, z = TicketFactory(channel=None), TicketFactory(channel=None)  # the writer's tickets
    z_held, release_z, router_go, router_locked = (threading.Event() for _ in range(4))
    route_when_locked(monkeypatch, router_locked.set)
    pids, seen = {}, {}

    def holder():
        with transaction.atomic():
            # A lock that conflicts with KEY SHARE whatever the engine does (a delete would).
            Ticket.objects.select_for_update().get(pk=z.pk)
            z_held.set()
            assert release_z.wait(WAIT), "never released"

    def writer():
        pids["writer"] = backend_pid()
        assert z_held.wait(WAIT)
        with transaction.atomic():
            tell(b.pk, y, "writer:b")
            tell(b.pk, z, "writer:z")
            tell(a.pk, y, "writer:a")
        # The commit runs the foreign-key checks: B, Y; Z (waits for the holder); A.

    def router():
        pids["router"] = backend_pid()
        assert router_go.wait(WAIT)
        route_ticket(ticket_id=ticket.pk)

    def conductor():
        wait_until(lambda: "writer" in pids and is_waiting_for_a_lock(pids["writer"]))
        router_go.set()  # the writer holds KEY SHARE on B and waits at Z
        wait_until(
            lambda: router_locked.is_set() or is_waiting_for_a_lock(pids.get("router", 0)),
            wake=router_locked,
        )
        seen["router took its locks during the writer's commit"] = router_locked.is_set()
        release_z.set()

    errors = run_in_threads(holder, writer, router, conductor)
    assert not errors, errors
    assert seen == {"router took its locks during the writer's commit": True}
    assert_routed_once([ticket.pk], {a.pk, b.pk})
    assert_delivered(["writer:b", "writer:z", "writer:a"])
    assert not logged_errors(caplog)


# ---------------------------------------------------------------------------------------
# 2. A decision or a service in progress does not block foreign-key writers
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("holder", ["routing decision", "agent service"])
def test_locks_held_by_a_decision_or_service_let_writers_reference_ticket_and_users(
    holder, monkeypatch, caplog
):
    """While the router (ticket + candidates) or an agent's assign (ticket) holds its locks,
    another transaction inserts rows referencing that ticket and those users and commits.
    FOR NO KEY UPDATE lets its foreign-key checks through; FOR UPDATE would make it wait for
    the holder (which here waits for it: the test fails on lock_timeout)."""
    a, b = sorted((AgentFactory(), AgentFactory()), key=lambda u: u.pk)
    channel = channel_routing_to([a, b])
    ticket = TicketFactory(channel=channel if holder == "routing decision" else None)
    locked, writer_done = threading.Event(), threading.Event()

    def hold():
        if threading.current_thread().name == "holding":
            locked.set()
            assert writer_done.wait(WAIT), "the writer did not finish"

    route_when_locked(monkeypatch, hold)

    def on_assigned(sender, **kwargs):  # inside the service's transaction, ticket locked
        if holder == "agent service":
            hold()

    events.ticket_assigned.connect(on_assigned, weak=False, dispatch_uid="test-deadlock-hold")

    def holding():
        if holder == "routing decision":
            route_ticket(ticket_id=ticket.pk)
        else:
            services.assign(
                ticket=Ticket.objects.get(pk=ticket.pk),
                owner=User.objects.get(pk=a.pk),
                actor=User.objects.get(pk=b.pk),
                cause=AssignmentEvent.Cause.MANUAL,
            )

    def writer():
        try:
            assert locked.wait(WAIT), "the holder never took its locks"
            with transaction.atomic():
                tell(b.pk, ticket, "during:b")
                tell(a.pk, ticket, "during:a")
        finally:
            writer_done.set()

    try:
        errors = run_in_threads(holding, writer)
    finally:
        events.ticket_assigned.disconnect(dispatch_uid="test-deadlock-hold")
    assert not errors, errors
    if holder == "routing decision":
        assert_routed_once([ticket.pk], {a.pk, b.pk})
    else:
        assert Ticket.objects.get(pk=ticket.pk).owner_id == a.pk
    assert_delivered(["during:b", "during:a"])
    assert not logged_errors(caplog)


# ---------------------------------------------------------------------------------------
# 3. A bounded storm
# ---------------------------------------------------------------------------------------

ROUTERS = 4
WRITERS = 4
TICKETS = 120
AGENTS = 8  # channel A routes to agents 0–5 (load balanced), channel B to 2–7 (round robin)
# A bound that stops the storm by itself, not a speed target (bench_routing measures
# speed): a slow or shared machine routes the 120 tickets in 5 – 15 s.
STORM_SECONDS = 60.0


def test_storm_of_routers_and_writers_referencing_users_routes_everything_once(caplog):
    """Routers route 120 tickets of two channels sharing agents while writers commit
    transactions that reference four of those agents in descending id order (one
    notification per recipient, as an announcement to several people makes them), then an
    internal note and an assignment through the ticket services."""
    agents = [AgentFactory(username=f"s{i}") for i in range(AGENTS)]
    agent_ids = sorted(a.pk for a in agents)
    channels = [
        channel_routing_to(agents[:6], Distribution.LOAD_BALANCED, name="A"),
        channel_routing_to(agents[2:], Distribution.ROUND_ROBIN, name="B"),
    ]
    ticket_ids = [TicketFactory(channel=channels[i % 2]).pk for i in range(TICKETS)]
    own_tickets = [TicketFactory(channel=None).pk for _ in range(WRITERS)]
    work = list(reversed(ticket_ids))
    work_lock = threading.Lock()
    start = threading.Barrier(ROUTERS + WRITERS, timeout=WAIT)
    routers_done = threading.Event()
    finished_routers = []
    deadline = time.monotonic() + STORM_SECONDS
    keys, notes, assignments, iterations = [], [], [], Counter()

    def next_ticket():
        with work_lock:
            return work.pop() if work and time.monotonic() < deadline else None

    def router():
        start.wait()
        try:
            while (ticket_id := next_ticket()) is not None:
                route_ticket(ticket_id=ticket_id)
        finally:
            with work_lock:
                finished_routers.append(1)
                if len(finished_routers) == ROUTERS:
                    routers_done.set()

    def make_writer(n):
        def writer():
            rng = random.Random(n)
            users = {u.pk: u for u in User.objects.filter(pk__in=agent_ids)}
            own = Ticket.objects.get(pk=own_tickets[n])
            start.wait()
            i = 0
            while not routers_done.is_set() and time.monotonic() < deadline:
                first, second, third, last = sorted(rng.sample(agent_ids, 4), reverse=True)
                key = f"w{n}:{i}"
                with transaction.atomic():
                    notify(
                        event=Event.TICKET_UNASSIGNED,
                        key=key,
                        ticket=own,
                        recipients=User.objects.filter(
                            pk__in=[first, second, third, last]
                        ).order_by("-pk"),  # rows, hence foreign-key checks, in this order
                        text=f"deadlock test {key}",
                    )
                    note = services.add_note(ticket=own, author=users[second], body="n")
                    event = services.assign(
                        ticket=own,
                        owner=users[rng.choice([third, last])],
                        actor=users[first],
                        cause=AssignmentEvent.Cause.MANUAL,
                    )
                keys.append(key)
                notes.append(note.pk)
                if event is not None:
                    assignments.append(event.pk)
                iterations[n] += 1
                i += 1

        writer.__name__ = f"writer{n}"
        return writer

    errors = run_in_threads(*[router] * ROUTERS, *[make_writer(n) for n in range(WRITERS)])
    assert not errors, errors
    assert not work, f"{len(work)} tickets not routed within {STORM_SECONDS} s"
    assert min(iterations[n] for n in range(WRITERS)) >= 5, iterations  # they overlapped

    assert_routed_once(ticket_ids, set(agent_ids))
    owners = Counter(Ticket.objects.filter(pk__in=ticket_ids).values_list("owner_id", flat=True))
    assert set(owners) == set(agent_ids)  # both pools used, nobody else
    deliveries = Delivery.objects.filter(event_key__in=keys)
    assert deliveries.count() == 4 * len(keys)  # one in-app delivery per recipient
    assert_delivered(keys)
    assert Message.objects.filter(pk__in=notes).count() == len(notes)
    assert AssignmentEvent.objects.filter(
        pk__in=assignments, ticket_id__in=own_tickets, cause=AssignmentEvent.Cause.MANUAL
    ).count() == len(assignments)
    assert not logged_errors(caplog)
