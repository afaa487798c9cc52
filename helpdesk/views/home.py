from django.contrib.auth.decorators import login_required, permission_required
from django.db.models import Count, Q
from django.shortcuts import render

from helpdesk.models import Ticket


@login_required
@permission_required("helpdesk.access_tickets", raise_exception=True)
def home(request):
    """The helpdesk landing page: what waits, counted in one query."""
    counts = Ticket.objects.aggregate(
        unassigned=Count("pk", filter=Ticket.OPEN & Q(owner__isnull=True, team__isnull=True)),
        mine=Count("pk", filter=Ticket.OPEN & Q(owner=request.user)),
        open=Count("pk", filter=Ticket.OPEN),
        closed=Count("pk", filter=~Ticket.OPEN),
    )
    return render(request, "helpdesk/home.html", {"counts": counts})
