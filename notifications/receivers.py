"""The core's events → announcements after commit (R24).

Receivers run inside the transaction of the service that sent the event. They decide from
the event alone whether anyone could hear of it and record the announcement as a job
(`helpdesk.jobs.enqueue`: one row in that same transaction, published after commit), so a
rolled-back change announces nothing and a committed one is announced even if the broker is
down or a worker dies: the jobs sweep publishes it again.
"""

from helpdesk.jobs import enqueue
from helpdesk.models import AssignmentEvent, Message, Ticket, User
from notifications.tasks import (
    announce_assignment_task,
    announce_customer_reply_task,
    announce_unassigned_task,
)


def on_ticket_created(sender, ticket: Ticket, actor: User | None = None, **kwargs) -> None:
    """A ticket that routing will not look at (no channel) is known to stay unassigned now;
    one that routing looks at is announced when routing leaves it unassigned."""
    if ticket.routing_state == Ticket.RoutingState.PENDING:
        return
    if ticket.is_open and ticket.is_unassigned:
        enqueue(
            announce_unassigned_task,
            key=f"announce_unassigned:{ticket.pk}:created",
            ticket_id=ticket.pk,
            actor_id=actor.pk if actor else None,
        )


def on_ticket_routed(sender, ticket: Ticket, outcome: str, summary: str = "", **kwargs) -> None:
    """Routing left the ticket in the Unassigned view (R1, R16): its explanation goes with
    the announcement. Assignments routing made arrive as `ticket_assigned`."""
    if outcome == "unassigned":
        enqueue(
            announce_unassigned_task,
            key=f"announce_unassigned:{ticket.pk}:routed",
            ticket_id=ticket.pk,
            detail=summary,
        )


def on_ticket_assigned(
    sender, ticket: Ticket, assignment: AssignmentEvent, actor: User | None = None, **kwargs
) -> None:
    a, actor_id = assignment, (actor.pk if actor else None)
    someone_else_gets_it = a.to_owner_id not in (None, a.from_owner_id, actor_id)
    team_without_owner = a.to_team_id is not None and a.to_owner_id is None
    someone_else_took_mine = a.from_owner_id not in (None, a.to_owner_id, actor_id)
    if someone_else_gets_it or team_without_owner or someone_else_took_mine:
        enqueue(announce_assignment_task, key=f"announce_assignment:{a.pk}", assignment_id=a.pk)


def on_message_added(sender, ticket: Ticket, message: Message, **kwargs) -> None:
    """The customer wrote: tell the owner. `message.ticket` is the row the service locked
    (cached on the message), so its owner is the current one."""
    if message.direction != Message.Direction.INBOUND:
        return
    owner_id = message.ticket.owner_id
    if owner_id is not None:
        enqueue(
            announce_customer_reply_task,
            key=f"announce_customer_reply:{message.pk}",
            message_id=message.pk,
            owner_id=owner_id,
        )
