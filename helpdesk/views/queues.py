"""The queue pages (R21–R23, Assigned to me, All open, Closed): a fixed number of queries
whatever the page size or the number of tickets."""

from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.functional import cached_property

from helpdesk import queues
from helpdesk.access import agent_required, tickets_visible_to
from helpdesk.forms import DEFAULT_PER_PAGE, PER_PAGE_CHOICES, BulkForm, QueueFilterForm
from helpdesk.models import Channel
from helpdesk.queues import (
    QUEUES,
    capped_count,
    clean_sort,
    page_ids,
    page_rows,
    search,
    ticket_number,
)
from helpdesk.views.common import count_label, queue_nav


class CappedPaginator(Paginator):
    """Counts at most `cap` rows (one bounded query; `queues.COUNT_CAP` unless told), or
    takes the count the sidebar already made of the same queryset. Past the cap, paging
    stops at the cap."""

    def __init__(self, *args, known_count: int | None = None, cap: int | None = None, **kwargs):
        self.known_count = known_count
        self.cap = queues.COUNT_CAP if cap is None else cap
        super().__init__(*args, **kwargs)

    @cached_property
    def raw_count(self) -> int:
        if self.known_count is not None:
            return self.known_count
        return capped_count(self.object_list, self.cap)

    @property
    def capped(self) -> bool:
        return self.raw_count > self.cap

    @cached_property
    def count(self) -> int:
        return min(self.raw_count, self.cap)


@agent_required
def queue_view(request, slug: str):
    queue = QUEUES.get(slug)
    if queue is None:
        raise Http404("No such queue.")
    channels = list(Channel.objects.order_by("name"))
    form = QueueFilterForm(request.GET, channels=channels)
    values = form.values()
    number = ticket_number(values.get("q", ""))
    if number is not None and tickets_visible_to(request.user).filter(pk=number).exists():
        return redirect("ticket", ticket_id=number)  # "1234" or "#1234" opens that ticket
    nav = queue_nav(request.user, current=slug, paged=True)
    sort = clean_sort(queue, values.get("sort"))

    tickets = queue.tickets(user=request.user)
    if "channel" in values:
        tickets = tickets.filter(channel_id=values["channel"])
    if "type" in values:
        tickets = tickets.filter(ticket_type=values["type"])
    if "priority" in values:
        tickets = tickets.filter(priority=values["priority"])
    if "status" in values and not queue.closed:
        tickets = tickets.filter(status=values["status"])
    partial = False
    if "q" in values:
        found = search(tickets, values["q"])
        tickets, partial = found.tickets, found.partial
    filtered = any(name in values for name in QueueFilterForm.FILTERS)

    known = None if filtered else next(i.count for i in nav if i.active)
    paginator = CappedPaginator(
        page_ids(tickets, sort),
        values.get("per_page", DEFAULT_PER_PAGE),
        known_count=known,
        cap=queues.SEARCH_COUNT_CAP if "q" in values else queues.COUNT_CAP,
    )
    page = paginator.get_page(request.GET.get("page"))
    tickets = list(page_rows(page.object_list, sort))
    context = {
        "queue": queue,
        "nav": nav,
        "form": form,
        "sort": sort,
        "filtered": filtered,
        "page": page,
        "tickets": tickets,
        "bulk_form": BulkForm(),
        "total": paginator.count,
        "total_label": count_label(paginator.raw_count, paginator.cap),
        "capped": paginator.capped,
        "cap": paginator.cap,
        "partial": partial,
        "per_page_choices": PER_PAGE_CHOICES,
    }
    return render(request, "helpdesk/queue.html", context)
