"""Capacity (`routing.capacity`): one rule of "at capacity" — a user's own limit, else the
account default — used by routing and by the owner control's warning, which therefore agree.
Manual assignment may still exceed it."""

import pytest
from django.template import Context, Template

from channels_cfg.models import AssignMode
from helpdesk import services
from routing.capacity import at_capacity, users_at_capacity
from routing.engine import route_ticket
from routing.models import CapacityLimit
from tests.factories import AgentFactory, ChannelAutomationFactory, ChannelFactory, TicketFactory


@pytest.mark.parametrize(
    ("user_id", "open_count", "limits", "reached"),
    [
        (1, 2, {1: 2}, 2),  # own limit reached
        (1, 1, {1: 2}, None),
        (1, 3, {1: 5, None: 3}, None),  # own limit above the default: the own one counts
        (1, 3, {1: 2, None: 5}, 2),  # and below it too
        (2, 3, {1: 5, None: 3}, 3),  # no own limit: the account default
        (2, 0, {None: 0}, 0),  # a limit of 0: always at capacity
        (2, 99, {}, None),  # no limits at all
    ],
)
def test_at_capacity_uses_the_own_limit_else_the_account_default(
    user_id, open_count, limits, reached
):
    assert at_capacity(user_id=user_id, open_count=open_count, limits=limits) == reached


@pytest.mark.django_db
def test_users_at_capacity_use_own_limit_else_account_default(django_assert_max_num_queries):
    own, by_default, free = AgentFactory(), AgentFactory(), AgentFactory()
    channel = ChannelFactory()
    for user, n in ((own, 2), (by_default, 3), (free, 1)):
        for _ in range(n):
            TicketFactory(channel=channel, owner=user)
    CapacityLimit.objects.create(user=own, ticket_type="email", max_open=2)
    CapacityLimit.objects.create(user=None, ticket_type="email", max_open=3)
    with django_assert_max_num_queries(3):
        full = users_at_capacity(ticket_type="email")
    assert [(row.user, row.open_count, row.limit) for row in full] == [
        (own, 2, 2),
        (by_default, 3, 3),
    ]
    assert users_at_capacity(ticket_type="calls") == []


@pytest.mark.django_db
def test_capacity_warning_tag_names_who_is_full_but_manual_assignment_still_works():
    full = AgentFactory(first_name="Fay", last_name="Full")
    ticket = TicketFactory(owner=full)
    CapacityLimit.objects.create(user=full, ticket_type="email", max_open=1)
    html = Template("{% load routing_tags %}{% capacity_warning ticket %}").render(
        Context({"ticket": ticket})
    )
    assert "Fay Full (1/1)" in html and "assign by hand" in html
    other = TicketFactory()
    services.assign(ticket=other, owner=full, actor=full, cause="manual")  # may exceed
    other.refresh_from_db()
    assert other.owner == full


@pytest.mark.django_db
def test_the_owner_control_warns_about_exactly_the_users_routing_leaves_out():
    own, by_default, free = AgentFactory(), AgentFactory(), AgentFactory()
    for user, n in ((own, 1), (by_default, 2), (free, 1)):
        for _ in range(n):
            TicketFactory(channel=ChannelFactory(), owner=user)
    CapacityLimit.objects.create(user=own, ticket_type="email", max_open=1)
    CapacityLimit.objects.create(user=free, ticket_type="email", max_open=5)
    CapacityLimit.objects.create(user=None, ticket_type="email", max_open=2)
    warned = {row.user.pk for row in users_at_capacity(ticket_type="email")}
    channel = ChannelAutomationFactory(
        assign_mode=AssignMode.SPECIFIC, users=[own, by_default, free]
    ).channel
    ticket, _ = services.create_ticket(subject="Hi", body="Hello", channel=channel)
    decision = route_ticket(ticket_id=ticket.pk)
    left_out = {e["user_id"] for e in decision.excluded_rows if e["code"] == "at_capacity"}
    assert warned == left_out == {own.pk, by_default.pk}
    assert decision.owner_id == free.pk
