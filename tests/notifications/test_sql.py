"""`notifications.sql`: the announcement's hand-written statements ask the same questions as
the ORM and the selectors — who has ticket access (R8), which preferences reach whom (R27) —
and write the same rows, in fewer statements."""

import pytest
from django.contrib.auth.models import Permission
from django.db import DataError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from helpdesk import services as core
from helpdesk.access import TICKET_ACCESS, permission_parts
from helpdesk.models import AssignmentEvent, Ticket
from helpdesk.selectors import users_with_ticket_access
from notifications import in_app, services, sql
from notifications.catalog import Event, Medium
from notifications.models import Delivery, Notification
from tests.factories import AgentFactory, TeamFactory, TeamMembershipFactory, UserFactory
from tests.notifications.conftest import open_ticket

pytestmark = pytest.mark.django_db

ASSIGNED, UNASSIGNED = Event.ASSIGNED_TO_ME, Event.TICKET_UNASSIGNED
Status = Delivery.Status


@pytest.fixture
def everyone(superadmin, outsider):
    """One user of each kind of access: a superuser without a group, an agent (through the
    Agents group), a user granted the permission directly, an inactive agent, an inactive
    superuser, and users without access (no group; a group without the permission)."""
    app_label, codename = permission_parts(TICKET_ACCESS)
    direct = UserFactory(username="direct")
    direct.user_permissions.add(
        Permission.objects.get(content_type__app_label=app_label, codename=codename)
    )
    return {
        "superadmin": superadmin,
        "agent": AgentFactory(username="agent"),
        "direct": direct,
        "inactive": AgentFactory(username="inactive", is_active=False),
        "inactive_super": UserFactory(username="gone", is_superuser=True, is_active=False),
        "outsider": outsider,
        "admin_only": UserFactory(username="admin_only", groups=["Account admins"]),
    }


def test_r8_people_by_id_are_those_the_selector_gives_ticket_access(everyone):
    with_access = set(users_with_ticket_access().values_list("pk", flat=True))
    assert {everyone[n].pk for n in ("superadmin", "agent", "direct")} <= with_access
    for name, user in everyone.items():
        found = sql.people(ids={user.pk}, team_id=None)
        assert [u.pk for u in found] == ([user.pk] if user.pk in with_access else []), name
        assert all(not u.in_team for u in found)


def test_r8_people_of_a_team_are_its_members_with_ticket_access(everyone):
    team, other_team = TeamFactory(), TeamFactory()
    for i, user in enumerate(everyone.values()):
        TeamMembershipFactory(team=team, user=user, role="main" if i % 2 else "additional")
    TeamMembershipFactory(team=other_team, user=AgentFactory(username="elsewhere"))
    owner = AgentFactory(username="owner")
    found = sql.people(ids={owner.pk}, team_id=team.pk)
    expected = users_with_ticket_access().filter(memberships__team=team)
    assert {u.pk for u in found if u.in_team} == set(expected.values_list("pk", flat=True))
    assert [u.pk for u in found if not u.in_team] == [owner.pk]
    assert [u.pk for u in found] == sorted(u.pk for u in found)
    # whole users, as the ORM reads them: names, addresses and languages for the texts
    agent = next(u for u in found if u.pk == everyone["agent"].pk)
    assert (str(agent), agent.email, agent.language) == (
        str(everyone["agent"]),
        everyone["agent"].email,
        everyone["agent"].language,
    )


def test_people_costs_one_statement(everyone):
    team = TeamFactory()
    TeamMembershipFactory(team=team, user=everyone["agent"])
    with CaptureQueriesContext(connection) as ctx:
        sql.people(ids={everyone["direct"].pk, everyone["superadmin"].pk}, team_id=team.pk)
    assert len(ctx.captured_queries) == 1


# ---------------------------------------------------------------------------------------
# PostgreSQL: the same rows as the ORM's way
# ---------------------------------------------------------------------------------------


def _rows(ticket: Ticket, users, key: str) -> list[Delivery]:
    return [
        Delivery(
            event_key=key,
            event=ASSIGNED,
            recipient=user,
            medium=medium,
            ticket=ticket,
            text=f"Hello {user.username}",
            detail="Why: because",
        )
        for user in users
        for medium in Medium.values
    ]


@pytest.mark.postgres
def test_r24_insert_deliveries_inserts_once_and_returns_what_is_pending(agent, other_agent):
    ticket = open_ticket()
    rows = _rows(ticket, [agent, other_agent], "k:1")
    first = sql.insert_deliveries(rows)
    assert len(first) == 4
    stored = Delivery.objects.filter(pk__in=[pk for pk, _ in first])
    assert set(stored.values_list("recipient__username", "medium", "status", "text")) == {
        (user.username, medium, Status.PENDING, f"Hello {user.username}")
        for user in (agent, other_agent)
        for medium in Medium.values
    }
    assert {(pk, medium) for pk, medium in first} == set(stored.values_list("pk", "medium"))
    # Again: nothing new, and only what is still pending comes back.
    Delivery.objects.filter(recipient=agent, medium=Medium.IN_APP).update(status=Status.SENT)
    again = sql.insert_deliveries(_rows(ticket, [agent, other_agent], "k:1"))
    assert Delivery.objects.count() == 4
    assert set(again) == {(pk, m) for pk, m in first} - set(
        Delivery.objects.filter(status=Status.SENT).values_list("pk", "medium")
    )


@pytest.mark.postgres
def test_r24_notify_all_writes_the_same_rows_on_both_paths(
    agent, other_agent, superadmin, monkeypatch
):
    services.update_preferences(user=agent, changes={(ASSIGNED, Medium.EMAIL): False})
    team = TeamFactory()
    TeamMembershipFactory(team=team, user=other_agent)
    services.update_default_preferences(
        actor=superadmin, changes={(ASSIGNED, Medium.EMAIL): False}, team=team
    )

    def announce(path_is_postgres: bool, key: str) -> set:
        monkeypatch.setattr(sql, "postgres", lambda: path_is_postgres)
        ticket = open_ticket()
        notice = services.Notice(
            event=ASSIGNED, key=key, recipients=[agent, other_agent, superadmin], text="Hi"
        )
        ids = services.notify_all(ticket=ticket, notices=[notice], actor_id=superadmin.pk)
        assert len(ids) == Delivery.objects.filter(event_key=key).count()
        deliveries = Delivery.objects.filter(event_key=key)
        notes = Notification.objects.filter(ticket=ticket)
        return {
            *deliveries.values_list("recipient_id", "medium", "status", "attempts", "text"),
            *notes.values_list("recipient_id", "event", "text", "detail"),
            ("linked", deliveries.filter(notification__isnull=False).count()),
        }

    orm = announce(False, "k:orm")
    assert announce(True, "k:sql") == orm
    assert ("linked", 2) in orm  # the two in-app deliveries, each with its notification


@pytest.mark.postgres
def test_r24_deliver_in_app_claims_pending_in_app_only_and_links_each_notification(
    agent, other_agent
):
    ticket = open_ticket()
    ids = [pk for pk, _ in sql.insert_deliveries(_rows(ticket, [agent, other_agent], "k:2"))]
    taken = Delivery.objects.get(recipient=other_agent, medium=Medium.IN_APP)
    Delivery.objects.filter(pk=taken.pk).update(status=Status.SENDING)  # a task's claim
    now = timezone.now()
    with CaptureQueriesContext(connection) as ctx:
        sent = in_app.deliver_now(ids)
    assert len(ctx.captured_queries) == 1
    mine = Delivery.objects.get(recipient=agent, medium=Medium.IN_APP)
    assert sent == [mine.pk]
    assert (mine.status, mine.attempts) == (Status.SENT, 1)
    assert mine.sent_at == mine.claimed_at >= now
    note = mine.notification
    assert (note.recipient, note.event, note.ticket, note.text, note.detail) == (
        agent,
        ASSIGNED,
        ticket,
        mine.text,
        mine.detail,
    )
    assert note.created_at == mine.created_at and note.read_at is None
    # Emails and the row another claimed are untouched; a second call sends nothing.
    assert Delivery.objects.filter(status=Status.PENDING).count() == 2
    assert Delivery.objects.get(pk=taken.pk).status == Status.SENDING
    assert in_app.deliver_now(ids) == []
    assert Notification.objects.count() == 1


@pytest.mark.postgres
def test_r27_preference_rows_are_the_orms(superadmin, monkeypatch):
    users = AgentFactory.create_batch(4)
    team, other = TeamFactory(), TeamFactory()
    TeamMembershipFactory(team=team, user=users[0])
    TeamMembershipFactory(team=team, user=users[1], role="additional")
    TeamMembershipFactory(team=other, user=users[2])
    for audience in ({}, {"team": team}, {"team": other}, {"user": users[3]}):
        services.update_default_preferences(
            actor=superadmin, changes={(ASSIGNED, Medium.EMAIL): False}, **audience
        )
    services.update_default_preferences(
        actor=superadmin, changes={(UNASSIGNED, Medium.EMAIL): True}, team=team
    )
    services.update_default_preferences(
        actor=superadmin, changes={(ASSIGNED, Medium.IN_APP): False}, user=users[0]
    )
    services.update_preferences(user=users[1], changes={(ASSIGNED, Medium.IN_APP): False})
    services.update_preferences(user=users[2], changes={(UNASSIGNED, Medium.IN_APP): False})
    ids, events = [u.pk for u in users[:3]], [ASSIGNED]
    from_sql = sql.preference_rows(user_ids=ids, events=events)
    monkeypatch.setattr(sql, "postgres", lambda: False)
    assert sorted(from_sql, key=repr) == sorted(services._preference_rows(ids, events), key=repr)
    # the other team's default reaches users[2]; users[3]'s own default is not asked for
    assert (sql.DEFAULT, None, other.pk, ASSIGNED, Medium.EMAIL, False) in from_sql
    assert (sql.DEFAULT, users[0].pk, None, ASSIGNED, Medium.IN_APP, False) in from_sql
    assert not [row for row in from_sql if row[1] == users[3].pk]


# ---------------------------------------------------------------------------------------
# The occurrence
# ---------------------------------------------------------------------------------------


def test_r24_assignment_reads_the_event_its_ticket_and_the_names_in_one_statement(
    agent, other_agent
):
    team = TeamFactory(name="Support")
    ticket = open_ticket(owner=agent)
    by_hand = core.assign(ticket=ticket, owner=None, team=team, actor=other_agent, cause="manual")
    routed = core.assign(ticket=ticket, owner=agent, team=None, actor=None, cause="routing")
    with CaptureQueriesContext(connection) as ctx:
        found = sql.assignment(by_hand.pk)
    assert len(ctx.captured_queries) == 1
    expected = AssignmentEvent.objects.get(pk=by_hand.pk)
    for field in AssignmentEvent._meta.concrete_fields:
        assert getattr(found.event, field.attname) == getattr(expected, field.attname), field
    for field in Ticket._meta.concrete_fields:
        assert getattr(found.ticket, field.attname) == getattr(
            Ticket.objects.get(pk=ticket.pk), field.attname
        ), field
    assert found.event.created_at.tzinfo is not None
    assert found.event.ticket is found.ticket
    assert (found.actor, found.to_owner, found.to_team) == (str(other_agent), None, "Support")
    again = sql.assignment(routed.pk)
    assert (again.actor, again.to_owner, again.to_team) == (None, str(agent), None)
    assert sql.assignment(routed.pk + 1000) is None


@pytest.mark.postgres
def test_insert_deliveries_refuses_a_value_too_long_as_the_orm_does(agent):
    rows = _rows(open_ticket(), [agent], "k" * 65)  # event_key holds 64
    with pytest.raises(DataError), transaction.atomic():
        sql.insert_deliveries(rows)
    assert not Delivery.objects.exists()
