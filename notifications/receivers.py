"""The core's events → announcements after commit (R24).

Receivers run inside the transaction of the service that sent the event, so they do no
database work there: they decide from the event alone whether anyone could hear of it and
schedule the announcement (a Celery task) for when the change has committed. A rolled-back
change announces nothing. If the broker cannot take the task, the announcement runs in
this process instead, so nothing is lost; its deliveries then wait for the sweep.
"""

import logging

from django.db import transaction
from kombu.exceptions import OperationalError as BrokerError

from helpdesk.models import AssignmentEvent, Message, Ticket, User
from notifications.services import dispatch
from notifications.tasks import announce_assignment, announce_customer_reply, announce_unassigned

log = logging.getLogger(__name__)


def after_commit(task, **kwargs) -> None:
    def run():
        try:
            dispatch(task, **kwargs)
        except (BrokerError, OSError):
            log.warning("Could not enqueue %s; announcing in-process.", task.name, exc_info=True)
            task(**kwargs)

    transaction.on_commit(run, robust=True)


def on_ticket_created(sender, ticket: Ticket, actor: User | None = None, **kwargs) -> None:
    """A ticket that routing will not look at (no channel) is known to stay unassigned now;
    one that routing looks at is announced when routing leaves it unassigned."""
    if ticket.routing_state == Ticket.RoutingState.PENDING:
        return
    if ticket.is_open and ticket.is_unassigned:
        after_commit(announce_unassigned, ticket_id=ticket.pk, actor_id=actor.pk if actor else None)


def on_ticket_routed(sender, ticket: Ticket, outcome: str, summary: str = "", **kwargs) -> None:
    """Routing left the ticket in the Unassigned view (R1, R16): its explanation goes with
    the announcement. Assignments routing made arrive as `ticket_assigned`."""
    if outcome == "unassigned":
        after_commit(announce_unassigned, ticket_id=ticket.pk, detail=summary)


def on_ticket_assigned(
    sender, ticket: Ticket, assignment: AssignmentEvent, actor: User | None = None, **kwargs
) -> None:
    a, actor_id = assignment, (actor.pk if actor else None)
    someone_else_gets_it = a.to_owner_id not in (None, a.from_owner_id, actor_id)
    team_without_owner = a.to_team_id is not None and a.to_owner_id is None
    someone_else_took_mine = a.from_owner_id not in (None, a.to_owner_id, actor_id)
    if someone_else_gets_it or team_without_owner or someone_else_took_mine:
        after_commit(announce_assignment, assignment_id=a.pk)


def on_message_added(sender, ticket: Ticket, message: Message, **kwargs) -> None:
    """The customer wrote: tell the owner. `message.ticket` is the row the service locked
    (cached on the message), so its owner is the current one."""
    if message.direction != Message.Direction.INBOUND:
        return
    owner_id = message.ticket.owner_id
    if owner_id is not None:
        after_commit(announce_customer_reply, message_id=message.pk, owner_id=owner_id)
