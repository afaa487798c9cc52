"""Who may reach the helpdesk pages and which tickets they see: one helper for every view.

Ticket access (R8) is the permission `helpdesk.access_tickets`. An anonymous visitor is sent
to the login page; a signed-in user without ticket access gets the 403 page; a ticket id the
user cannot see (or that does not exist) is a 404.
"""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from helpdesk.models import Ticket, User


def has_ticket_access(user) -> bool:
    return bool(user.is_authenticated and user.has_ticket_access)


def agent_required(view):
    """`@login_required` plus ticket access; every helpdesk page is wrapped in this."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not has_ticket_access(request.user):
            raise PermissionDenied("You need ticket access to use the helpdesk.")
        return view(request, *args, **kwargs)

    return login_required(wrapped)


def tickets_visible_to(user: User) -> QuerySet[Ticket]:
    """The tickets `user` may see and work. Every agent sees every ticket today; the queues
    and the ticket pages all start from this queryset, so a narrower rule changes here."""
    if not has_ticket_access(user):
        return Ticket.objects.none()
    return Ticket.objects.all()


def ticket_for_agent(user: User, ticket_id: int) -> Ticket:
    """The ticket with what the workspace shows, or 404."""
    queryset = tickets_visible_to(user).select_related(
        "contact", "contact__owner", "channel", "owner", "team"
    )
    return get_object_or_404(queryset, pk=ticket_id)
