"""Connects the routing engine to the core's events."""

from django.db import transaction

from helpdesk.models import Ticket
from routing.tasks import route_ticket


def enqueue_routing(sender, ticket: Ticket, **kwargs) -> None:
    """ticket_created → route_ticket.delay(id) after commit. `robust`: if the broker is down
    the ticket is still created, stays pending, and the sweep routes it later."""
    if ticket.routing_state != Ticket.RoutingState.PENDING:
        return
    ticket_id = ticket.pk
    transaction.on_commit(lambda: route_ticket.delay(ticket_id), robust=True)
