"""The owner pickers' search (R3, R5): as the agent types, at most `MAX_RESULTS` teams and
users with ticket access, as a listbox fragment the picker shows under the text field
(static/js/owner_picker.js) — for the Ticket owner control (`/tickets/<id>/owner/search/`)
and a queue's bulk bar (`/owners/search/`). Same access as the pages: ticket access (R8),
and a ticket the agent cannot see is a 404. A fixed number of queries whatever the number of
users."""

from django.shortcuts import render
from django.views.decorators.http import require_GET

from helpdesk.access import agent_required, ticket_for_agent
from helpdesk.forms import OwnerSearchForm
from helpdesk.owner_search import search_owners

TEMPLATE = "helpdesk/_owner_options.html"


@agent_required
@require_GET
def ticket_owner_search(request, ticket_id: int):
    return _answer(request, ticket_for_agent(request.user, ticket_id))


@agent_required
@require_GET
def owner_search(request):
    """The same search for a picker that is not about one ticket (a queue's bulk bar)."""
    return _answer(request, None)


def _answer(request, ticket):
    form = OwnerSearchForm(request.GET)
    if not form.is_valid():
        error = " ".join(message for messages in form.errors.values() for message in messages)
        return render(request, TEMPLATE, {"ticket": ticket, "error": error}, status=400)
    text = form.cleaned_data["q"]
    results = search_owners(text=text, ticket=ticket)
    context = {"ticket": ticket, "text": text, "results": results}
    response = render(request, TEMPLATE, context)
    response["Cache-Control"] = "private, no-store"  # who is away changes by the minute
    return response
