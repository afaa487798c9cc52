"""Capacity limits as the owner control shows them: who is at (or over) their limit."""

from dataclasses import dataclass

from django.db.models import Count

from helpdesk.models import Ticket, TicketType, User
from routing.models import CapacityLimit


@dataclass(frozen=True)
class AtCapacity:
    user: User
    open_count: int
    limit: int
    type_label: str


def users_at_capacity(*, ticket_type: str) -> list[AtCapacity]:
    """Users whose open tickets of this type reach their limit (own, else account default).
    At most three queries: the limits, the open counts, the users at capacity."""
    limits = dict(
        CapacityLimit.objects.filter(ticket_type=ticket_type).values_list("user_id", "max_open")
    )
    if not limits:
        return []
    default = limits.pop(None, None)
    counts = Ticket.objects.filter(Ticket.OPEN, ticket_type=ticket_type, owner__isnull=False)
    if default is None:
        counts = counts.filter(owner_id__in=limits)
    rows = counts.values("owner_id").annotate(n=Count("pk")).order_by()
    full = {
        r["owner_id"]: (r["n"], limits.get(r["owner_id"], default))
        for r in rows
        if limits.get(r["owner_id"], default) is not None
        and r["n"] >= limits.get(r["owner_id"], default)
    }
    users = User.objects.in_bulk(full.keys())
    label = TicketType(ticket_type).label
    return [AtCapacity(users[uid], n, limit, label) for uid, (n, limit) in sorted(full.items())]
