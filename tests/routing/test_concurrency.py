"""Many routers at once give the same result as one router doing the tickets one by one.

PostgreSQL, real concurrency: several threads, each with its own database connection, route
1,000 tickets of two channels whose pools share half their agents, while a person assigns
tickets by hand. Afterwards every ticket is assigned exactly once, the loads each decision
saw are the loads a sequential replay computes (nobody read stale counts), load-balanced
counts differ by at most one inside each group of equally placed agents, round robin gives
each agent its share ±1 per channel, capacity is never exceeded, and no manual assignment
is overwritten.
"""

import queue
import random
import threading
from collections import Counter, defaultdict

import pytest
from django.db import connection
from django.utils import timezone

from channels_cfg.models import AssignMode, Distribution
from helpdesk import services
from helpdesk.models import AssignmentEvent, Channel, Ticket
from routing.engine import route_ticket
from routing.models import CapacityLimit, RoutingDecision
from tests.factories import AgentFactory, ChannelAutomationFactory, ChannelFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROUTERS = 4
TICKETS = 1000
AGENTS = 24  # channel A routes to agents 0–15, channel B to 8–23: they share 8
MANUAL = 20


def build(distribution):
    agents = [AgentFactory(username=f"a{i:02d}") for i in range(AGENTS)]
    supervisor = AgentFactory(username="supervisor")
    channels = []
    for name, pool in (("A", agents[:16]), ("B", agents[8:])):
        channel = ChannelFactory(name=name, kind=Channel.Kind.TEAM_EMAIL)
        ChannelAutomationFactory(
            channel=channel,
            assign_mode=AssignMode.SPECIFIC,
            users=pool,
            distribution=distribution,
        )
        channels.append(channel)
    now = timezone.now()
    tickets = Ticket.objects.bulk_create(
        [
            Ticket(
                subject=f"t{i}",
                channel=channels[i % 2],
                ticket_type="email",
                routing_state=Ticket.RoutingState.PENDING,
                created_at=now,
            )
            for i in range(TICKETS)
        ]
    )
    return agents, supervisor, channels, [t.pk for t in tickets]


def run_concurrently(ticket_ids, supervisor):
    """ROUTERS threads route from a shared queue; one more thread assigns by hand."""
    manual_ids = random.Random(5).sample(ticket_ids, MANUAL)
    work = queue.Queue()
    # The routers reach the person's tickets last, so the person usually acts first; when
    # the router wins, the person is told the ticket changed (never a silent overwrite).
    for ticket_id in sorted(ticket_ids, key=lambda t: t in manual_ids):
        work.put(ticket_id)
    errors, assigned_by_hand = [], set()
    start = threading.Barrier(ROUTERS + 1)

    def router():
        try:
            start.wait()
            while True:
                try:
                    ticket_id = work.get_nowait()
                except queue.Empty:
                    return
                route_ticket(ticket_id=ticket_id)
        except Exception as exc:  # surfaced in the main thread
            errors.append(exc)
        finally:
            connection.close()

    def person():
        try:
            start.wait()
            for ticket_id in manual_ids:
                ticket = Ticket.objects.get(pk=ticket_id)
                if ticket.owner_id is not None:
                    continue
                try:
                    services.assign(
                        ticket=ticket,
                        owner=supervisor,
                        actor=supervisor,
                        cause=AssignmentEvent.Cause.MANUAL,
                        expected_version=ticket.version,
                    )
                    assigned_by_hand.add(ticket_id)
                except services.TicketChanged:
                    pass
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=router) for _ in range(ROUTERS)]
    threads.append(threading.Thread(target=person))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors, errors
    assert assigned_by_hand, "the person should have assigned some tickets"
    return assigned_by_hand


def assert_every_ticket_assigned_once_and_manual_kept(ticket_ids, manual_ids, supervisor):
    events = defaultdict(list)
    for event in AssignmentEvent.objects.filter(ticket_id__in=ticket_ids).order_by("id"):
        events[event.ticket_id].append(event)
    owners = dict(Ticket.objects.filter(pk__in=ticket_ids).values_list("pk", "owner_id"))
    assert all(owners[t] is not None for t in ticket_ids)
    for ticket_id in ticket_ids:
        causes = [e.cause for e in events[ticket_id]]
        if ticket_id in manual_ids:
            assert owners[ticket_id] == supervisor.pk
            assert causes == ["manual"], causes  # the router never overwrote the person
        else:
            assert causes == ["routing"], (ticket_id, causes)
    decisions = Counter(
        RoutingDecision.objects.filter(ticket_id__in=ticket_ids).values_list("ticket_id", flat=True)
    )
    assert max(decisions.values()) == 1  # no ticket decided twice
    skipped = RoutingDecision.objects.filter(
        ticket_id__in=ticket_ids, outcome=RoutingDecision.Outcome.SKIPPED
    ).values_list("ticket_id", "summary")
    for ticket_id, summary in skipped:  # every "nothing to do" names the person's assignment
        assert ticket_id in manual_ids and summary.startswith("Nothing to do: already assigned")


def test_load_balanced_routing_under_concurrency_equals_sequential_replay():
    agents, supervisor, _channels, ticket_ids = build(Distribution.LOAD_BALANCED)
    capped = agents[3]
    CapacityLimit.objects.create(user=capped, ticket_type="email", max_open=5)
    manual_ids = run_concurrently(ticket_ids, supervisor)
    assert_every_ticket_assigned_once_and_manual_kept(ticket_ids, manual_ids, supervisor)

    # Replay in commit order: every decision saw exactly the loads a single router would.
    # (The pools overlap, so every decision held some shared agent's lock: they serialised.)
    loads = Counter()
    decided = RoutingDecision.objects.filter(ticket_id__in=ticket_ids).exclude(
        outcome=RoutingDecision.Outcome.SKIPPED  # "nothing to do": the person was faster
    )
    for decision in decided.order_by("id"):
        seen = {c["user_id"]: c["load"] for c in decision.candidate_rows}
        assert seen == {uid: loads[uid] for uid in seen}, decision.summary
        assert seen[decision.owner_id] == min(seen.values())
        loads[decision.owner_id] += 1

    open_counts = Counter(
        Ticket.objects.filter(Ticket.OPEN, pk__in=ticket_ids).values_list("owner_id", flat=True)
    )
    assert open_counts[capped.pk] <= 5  # capacity never exceeded
    for group in (agents[:8], agents[8:16], agents[16:]):
        counts = [open_counts[a.pk] for a in group if a != capped]
        assert max(counts) - min(counts) <= 1, counts


def test_round_robin_under_concurrency_gives_each_agent_its_share():
    agents, supervisor, channels, ticket_ids = build(Distribution.ROUND_ROBIN)
    manual_ids = run_concurrently(ticket_ids, supervisor)
    assert_every_ticket_assigned_once_and_manual_kept(ticket_ids, manual_ids, supervisor)
    routed = RoutingDecision.objects.filter(ticket_id__in=ticket_ids).exclude(
        outcome=RoutingDecision.Outcome.SKIPPED
    )
    for channel, pool in zip(channels, (agents[:16], agents[8:]), strict=True):
        share = Counter(routed.filter(channel=channel).values_list("owner_id", flat=True))
        counts = [share[a.pk] for a in pool]
        assert sum(counts) == routed.filter(channel=channel).count()
        assert max(counts) - min(counts) <= 1, counts
