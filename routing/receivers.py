"""Connects the routing engine to the core's events."""

from helpdesk.jobs import ring_on_commit
from helpdesk.models import Ticket
from routing.tasks import route_ticket_task


def enqueue_routing(sender, ticket: Ticket, **kwargs) -> None:
    """ticket_created → route_ticket_task(id) after commit. The ticket's pending state is
    the intent: if the broker is down the ticket is still created, stays pending, and
    `sweep_pending_task` routes it later."""
    if ticket.routing_state == Ticket.RoutingState.PENDING:
        ring_on_commit(route_ticket_task, ticket_id=ticket.pk)
