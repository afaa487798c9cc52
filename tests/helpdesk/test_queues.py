"""The queue definitions of `helpdesk.queues` (R21–R23, Assigned to me, All open, Closed),
their counts, their sort allowlist and — on PostgreSQL — the index each one uses."""

import datetime as dt

import pytest
from django.db import connection
from django.utils import timezone

from helpdesk import queues
from helpdesk.models import TeamMembership, Ticket
from tests.factories import AgentFactory, TeamMembershipFactory, TicketFactory

CLOSED = Ticket.Status.CLOSED


def ids(queryset) -> set[int]:
    return set(queryset.values_list("pk", flat=True))


@pytest.fixture
def world(agent, other_agent, support, billing, sales):
    """One ticket of every shape that matters to the queues."""
    return {
        "unassigned": TicketFactory(),
        "unassigned_closed": TicketFactory(status=CLOSED),
        "support_only": TicketFactory(team=support),
        "billing_only": TicketFactory(team=billing),
        "sales_only": TicketFactory(team=sales),
        "support_other": TicketFactory(team=support, owner=other_agent),
        "support_mine": TicketFactory(team=support, owner=agent),
        "mine_no_team": TicketFactory(owner=agent),
        "mine_closed": TicketFactory(owner=agent, status=CLOSED),
        "support_closed": TicketFactory(team=support, status=CLOSED),
        "other_no_team": TicketFactory(owner=other_agent),
        "waiting": TicketFactory(status=Ticket.Status.WAITING_ON_CONTACT),
    }


def names(world, queryset) -> set[str]:
    found = ids(queryset)
    return {name for name, ticket in world.items() if ticket.pk in found}


def test_r1_r21_unassigned_is_open_tickets_without_owner_and_team(world, agent):
    assert names(world, queues.unassigned_tickets(user=agent)) == {"unassigned", "waiting"}


def test_r21_unassigned_excludes_team_only_tickets(world, agent):
    found = names(world, queues.unassigned_tickets(user=agent))
    assert not found & {"support_only", "billing_only", "sales_only"}


def test_r21_unassigned_excludes_closed_tickets(world, agent):
    assert "unassigned_closed" not in names(world, queues.unassigned_tickets(user=agent))


def test_r22_team_unassigned_is_team_tickets_without_owner(world, agent):
    assert names(world, queues.team_unassigned_tickets(user=agent)) == {
        "support_only",
        "billing_only",
    }


def test_r22_team_unassigned_includes_additional_member_teams(world, agent):
    assert "billing_only" in names(world, queues.team_unassigned_tickets(user=agent))


def test_r22_team_unassigned_excludes_other_teams_owned_and_closed(world, agent):
    found = names(world, queues.team_unassigned_tickets(user=agent))
    assert not found & {"sales_only", "support_other", "support_mine", "support_closed"}


def test_r23_team_open_is_every_open_ticket_of_my_teams_whoever_owns_it(world, agent):
    assert names(world, queues.team_open_tickets(user=agent)) == {
        "support_only",
        "billing_only",
        "support_other",
        "support_mine",
    }


def test_r23_team_open_excludes_closed_and_other_teams(world, agent):
    found = names(world, queues.team_open_tickets(user=agent))
    assert not found & {"support_closed", "sales_only", "mine_no_team"}


def test_r22_r23_team_queues_follow_the_users_own_teams(world, other_agent):
    assert names(world, queues.team_unassigned_tickets(user=other_agent)) == {"sales_only"}
    assert names(world, queues.team_open_tickets(user=other_agent)) == {"sales_only"}


def test_r22_r23_user_without_teams_sees_empty_team_queues(world):
    loner = AgentFactory()
    assert not ids(queues.team_unassigned_tickets(user=loner))
    assert not ids(queues.team_open_tickets(user=loner))


def test_assigned_to_me_is_my_open_tickets(world, agent):
    assert names(world, queues.assigned_to_me_tickets(user=agent)) == {
        "support_mine",
        "mine_no_team",
    }


def test_all_open_excludes_only_closed(world, agent):
    found = names(world, queues.all_open_tickets(user=agent))
    assert found == set(world) - {"unassigned_closed", "mine_closed", "support_closed"}


def test_closed_is_closed_tickets_only(world, agent):
    assert names(world, queues.closed_tickets(user=agent)) == {
        "unassigned_closed",
        "mine_closed",
        "support_closed",
    }


def test_queue_counts_match_each_queue_in_one_query(world, agent, django_assert_num_queries):
    assert agent.has_ticket_access  # permissions are read once per request, before
    with django_assert_num_queries(2):  # the user's teams, then every count at once
        counts = queues.queue_counts(user=agent)
    assert counts == {
        slug: queue.tickets(user=agent).count() for slug, queue in queues.QUEUES.items()
    }
    assert counts["unassigned"] == 2
    assert counts["team-open"] == 4


def test_counts_sql_kept_per_shape_is_filled_with_each_users_own_values(
    world, agent, other_agent, sales, billing
):
    """The counts' SQL is compiled once per shape (ticket access, number of teams) and
    filled for each user: what every user gets is what compiling their own queues gives."""
    both = AgentFactory()  # two teams, as the agent, but others
    TeamMembershipFactory(team=sales, user=both, role=TeamMembership.Role.MAIN)
    TeamMembershipFactory(team=billing, user=both, role=TeamMembership.Role.ADDITIONAL)
    users = [agent, both, other_agent, AgentFactory(), AgentFactory(is_active=False)]
    queues._COUNTS_SQL.clear()
    for user in users + users:  # the second round fills what the first kept
        assert queues.queue_counts_sql(user=user) == queues._compile_counts_sql(user, None)
        assert queues.queue_counts(user=user) == {
            slug: queue.tickets(user=user).count() for slug, queue in queues.QUEUES.items()
        }
    assert len(queues._COUNTS_SQL) == 4  # 2 teams, 1, none; no ticket access
    assert None not in queues._COUNTS_SQL.values()


def test_counts_stay_live_once_their_sql_is_kept(world, agent):
    before = queues.queue_counts(user=agent)
    TicketFactory()
    TicketFactory(owner=agent, status=CLOSED)
    after = queues.queue_counts(user=agent)
    assert after["unassigned"] == before["unassigned"] + 1
    assert after["closed"] == before["closed"] + 1


def test_queue_counts_of_a_user_without_teams(world):
    counts = queues.queue_counts(user=AgentFactory())
    assert counts["team-unassigned"] == counts["team-open"] == 0
    assert counts["open"] == 9


def test_default_order_is_newest_first_with_id_breaking_ties(agent):
    now = timezone.now()
    old = TicketFactory(created_at=now - dt.timedelta(days=2))
    same_a = TicketFactory(created_at=now)
    same_b = TicketFactory(created_at=now)
    queue = queues.QUEUES["unassigned"]
    ordered = queues.ordered(queue.tickets(user=agent), queues.clean_sort(queue, None))
    assert list(ordered) == [same_b, same_a, old]


def test_closed_queue_lists_most_recently_closed_first(agent):
    now = timezone.now()
    early = TicketFactory(status=CLOSED, closed_at=now - dt.timedelta(hours=5))
    late = TicketFactory(status=CLOSED, closed_at=now - dt.timedelta(hours=1))
    queue = queues.QUEUES["closed"]
    ordered = queues.ordered(queue.tickets(user=agent), queues.clean_sort(queue, ""))
    assert list(ordered) == [late, early]


@pytest.mark.parametrize(
    ("asked", "used"),
    [
        ("priority", "priority"),
        ("-activity", "-activity"),
        ("subject", "subject"),
        ("password", "-created"),
        ("-owner__password", "-created"),
        ("contact__email", "-created"),
        ("", "-created"),
        (None, "-created"),
    ],
)
def test_sort_allowlist_ignores_unknown_fields(asked, used):
    assert queues.clean_sort(queues.QUEUES["open"], asked) == used


def test_search_matches_subject_contact_name_and_email(agent):
    by_subject = TicketFactory(subject="Printer on fire")
    by_name = TicketFactory(contact__name="Kim Printer")
    by_email = TicketFactory(contact__email="printer@acme.example")
    TicketFactory(subject="Something else")
    found = ids(queues.search(queues.all_open_tickets(user=agent), "PRINTER").tickets)
    assert found == {by_subject.pk, by_name.pk, by_email.pk}


# --- PostgreSQL: every queue's page and count are served by its partial index -------------

QUEUE_INDEXES = {
    "unassigned": "ticket_unassigned_idx",
    "team-unassigned": "ticket_team_unassigned_idx",
    "team-open": "ticket_team_open_idx",
    "mine": "ticket_owner_open_idx",
    "open": "ticket_open_idx",
    "closed": "ticket_closed_idx",
}


@pytest.fixture
def bench_data(db):
    """A few thousand tickets shaped like a working helpdesk (the bench_queues builder),
    with fresh planner statistics."""
    from helpdesk.management.commands.bench_queues import bench_agent, build_tickets

    build_tickets(2000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE helpdesk_ticket")
    return bench_agent()


def _plan(queryset) -> str:
    """The plan with sequential and bitmap scans ruled out: a test table is small and not
    vacuumed, so PostgreSQL would rightly read it whole; what matters is that an index can
    serve the queue's filter in the queue's order (bench_queues prints the plans at 100k)."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
    return queryset.explain()


@pytest.mark.postgres
@pytest.mark.parametrize("slug", list(queues.QUEUES))
def test_each_queue_page_reads_its_partial_index(bench_data, slug):
    queue = queues.QUEUES[slug]
    ids = queues.page_ids(queue.tickets(user=bench_data), queue.default_sort)[:25]
    ids_plan = _plan(ids)
    if slug in {"team-unassigned", "team-open"}:
        # Two teams: the planner may walk the open-tickets index in order and keep my
        # teams' rows, or read both teams' ranges of the team index and sort them.
        assert QUEUE_INDEXES[slug] in ids_plan or "ticket_open_idx" in ids_plan, ids_plan
    else:
        assert QUEUE_INDEXES[slug] in ids_plan, ids_plan
        # One index range in the queue's own order: picking the page needs no sort.
        assert "Sort" not in ids_plan, ids_plan
    rows_plan = _plan(queues.page_rows(ids, queue.default_sort))
    assert "Seq Scan on helpdesk_ticket" not in rows_plan, rows_plan
    assert "helpdesk_ticket_pkey" in rows_plan, rows_plan  # only the page's rows are joined


@pytest.mark.postgres
def test_sidebar_counts_are_index_scans_of_the_partial_indexes(bench_data):
    sql, params = queues.queue_counts_sql(user=bench_data)
    _plan(Ticket.objects.all())
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(line for (line,) in cursor.fetchall())
    assert "Seq Scan on helpdesk_ticket" not in plan, plan
    for slug in ("unassigned", "team-unassigned", "team-open", "closed"):
        assert QUEUE_INDEXES[slug] in plan, plan


@pytest.mark.postgres
def test_single_team_queue_reads_the_team_index_in_order(bench_data):
    bench_data.memberships.exclude(role="main").delete()
    bench_data._helpdesk_team_ids = None
    tickets = queues.team_unassigned_tickets(user=bench_data)
    plan = _plan(queues.page_ids(tickets, "-created")[:25])
    assert "ticket_team_unassigned_idx" in plan, plan
    assert "Sort" not in plan, plan


def test_counts_stop_at_the_cap(agent):
    for _ in range(4):
        TicketFactory()
    counts = queues.queue_counts(user=agent, cap=3)
    assert counts["unassigned"] == 4  # cap + 1: "more than 3"
    assert queues.capped_count(queues.unassigned_tickets(user=agent), cap=10) == 4
