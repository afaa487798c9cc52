"""Connects the routing engine to the core's events."""

from django.utils.translation import gettext

from helpdesk.jobs import ring_on_commit
from helpdesk.models import Ticket, User
from routing.capacity import users_at_capacity
from routing.tasks import route_ticket_task


def enqueue_routing(sender, ticket: Ticket, **kwargs) -> None:
    """ticket_created → route_ticket_task(id) after commit. The ticket's pending state is
    the intent: if the broker is down the ticket is still created, stays pending, and
    `sweep_pending_task` routes it later."""
    if ticket.routing_state == Ticket.RoutingState.PENDING:
        ring_on_commit(route_ticket_task, ticket_id=ticket.pk)


def mark_at_capacity(sender, ticket: Ticket | None, users: list[User], **kwargs) -> dict:
    """helpdesk.owner_search.owner_marks → "at capacity (3/3)" beside each user shown who is
    at their limit for the ticket's type (`users_at_capacity`: at most three queries)."""
    if ticket is None:
        return {}
    shown = {user.pk for user in users}
    return {
        row.user.pk: gettext("at capacity (%(open_count)s/%(limit)s)")
        % {"open_count": row.open_count, "limit": row.limit}
        for row in users_at_capacity(ticket_type=ticket.ticket_type)
        if row.user.pk in shown
    }
