"""Capacity limits: the one rule of "at capacity", and the reads behind it.

`at_capacity()` decides, for routing (`routing.eligibility.rank` leaves such users out) and for
the owner control's warning on the ticket page (`users_at_capacity`, through the
`{% capacity_warning %}` tag): a user is at capacity when their open tickets of a type reach
their own limit, else the account default. Manual assignment may exceed it; routing never does.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from django.db.models import Count, Q

from helpdesk.models import Ticket, TicketType, User
from routing.models import CapacityLimit


def at_capacity(*, user_id: int, open_count: int, limits: Mapping[int | None, int]) -> int | None:
    """The limit a user with `open_count` open tickets of a type has reached — their own
    (`limits[user_id]`), else the account default (`limits[None]`) — or None while they are
    below it or have no limit."""
    limit = limits.get(user_id, limits.get(None))
    if limit is not None and open_count >= limit:
        return limit
    return None


def capacity_limits(
    *, ticket_type: str, user_ids: Iterable[int] | None = None
) -> dict[int | None, int]:
    """user id → limit for this ticket type, and None → the account default; for the given
    users only (and the default), or for everyone. One query."""
    if user_ids is None:
        rows = CapacityLimit.objects.filter(ticket_type=ticket_type)
    else:
        rows = CapacityLimit.objects.filter(
            Q(user_id__in=user_ids) | Q(user__isnull=True), ticket_type=ticket_type
        )
    return dict(rows.values_list("user_id", "max_open"))


@dataclass(frozen=True)
class AtCapacity:
    user: User
    open_count: int
    limit: int
    type_label: str


def users_at_capacity(*, ticket_type: str) -> list[AtCapacity]:
    """Everyone at capacity for this ticket type, as the owner control shows them. At most
    three queries: the limits, the open counts, the users at capacity."""
    limits = capacity_limits(ticket_type=ticket_type)
    if not limits:
        return []
    counts = Ticket.objects.filter(Ticket.OPEN, ticket_type=ticket_type, owner__isnull=False)
    if None not in limits:  # no account default: only users with a limit of their own
        counts = counts.filter(owner_id__in=list(limits))
    full = {}
    for row in counts.values("owner_id").annotate(n=Count("pk")).order_by():
        limit = at_capacity(user_id=row["owner_id"], open_count=row["n"], limits=limits)
        if limit is not None:
            full[row["owner_id"]] = (row["n"], limit)
    users = User.objects.in_bulk(full.keys())
    label = TicketType(ticket_type).label
    return [AtCapacity(users[uid], n, limit, label) for uid, (n, limit) in sorted(full.items())]
