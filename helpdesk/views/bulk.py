"""A queue page's bulk bar: parse the chosen tickets and action → only tickets the agent can
see → the bulk service (each ticket version-checked) → back to the same page with a
summary of what changed and what was refused, and why."""

from django.contrib import messages
from django.http import Http404, QueryDict
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from helpdesk import services
from helpdesk.access import agent_required, tickets_visible_to
from helpdesk.forms import BulkForm
from helpdesk.models import Ticket
from helpdesk.queues import QUEUES
from helpdesk.selectors import owner_choices

SHOWN_REFUSALS = 5


def _back(request, slug: str) -> str:
    """The same queue page, with its filters (parsed and encoded again: only a query)."""
    base = reverse("queue", args=[slug])
    query = QueryDict(request.POST.get("query", "")[:2000]).urlencode()
    return f"{base}?{query}" if query else base


def _done(form: BulkForm) -> str:
    data = form.cleaned_data
    action = data["action"]
    if action == "assign":
        target = data["owner"] or data["team"]
        return gettext("assigned to %(target)s") % {"target": target} if target else "unassigned"
    if action == "status":
        return gettext("set to %(label)s") % {"label": Ticket.Status(data["status"]).label}
    if action == "priority":
        return gettext("set to %(label)s priority") % {
            "label": Ticket.Priority(data["priority"]).label
        }
    return "closed"


def _plural(n: int) -> str:
    return gettext("%(n)s ticket") % {"n": n} if n == 1 else gettext("%(n)s tickets") % {"n": n}


@require_POST
@agent_required
def queue_bulk(request, slug: str):
    if slug not in QUEUES:
        raise Http404("No such queue.")
    teams, users = owner_choices()
    form = BulkForm(request.POST, teams=teams, users=users)
    if not form.is_valid():
        errors = [e for errs in form.errors.values() for e in errs]
        messages.error(request, " ".join(errors) or gettext("Choose tickets and an action."))
        return redirect(_back(request, slug))
    data = form.cleaned_data
    picked = data["picked"]
    visible = {t.pk: t for t in tickets_visible_to(request.user).filter(pk__in=list(picked))}
    result = services.apply_bulk(
        actor=request.user,
        tickets=[(visible[pk], picked[pk]) for pk in sorted(visible)],
        action=data["action"],
        owner=data.get("owner"),
        team=data.get("team"),
        status=data.get("status") or None,
        priority=data.get("priority"),
    )
    result.refused += [(pk, gettext("not found")) for pk in sorted(set(picked) - set(visible))]
    summary = []
    if result.changed:
        summary.append(f"{_plural(len(result.changed))} {_done(form)}.")
    if result.unchanged:
        summary.append(
            gettext("%(plural)s already so.") % {"plural": _plural(len(result.unchanged))}
        )
    if result.changed or result.unchanged:
        messages.success(request, " ".join(summary))
    if result.refused:
        shown = "; ".join(f"#{pk}: {why}" for pk, why in result.refused[:SHOWN_REFUSALS])
        more = len(result.refused) - SHOWN_REFUSALS
        tail = gettext("; and %(more)s more") % {"more": more} if more > 0 else ""
        messages.warning(
            request,
            gettext("%(plural)s not changed — %(shown)s%(tail)s.")
            % {"plural": _plural(len(result.refused)), "shown": shown, "tail": tail},
        )
    return redirect(_back(request, slug))
