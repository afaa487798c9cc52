"""A queue page's bulk bar: parse the chosen tickets and action → only tickets the agent can
see → the bulk service (each ticket version-checked) → back to the same page with a
summary of what changed and what was refused, and why."""

from django.contrib import messages
from django.http import Http404, QueryDict
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext, ngettext
from django.views.decorators.http import require_POST

from helpdesk import services
from helpdesk.access import agent_required, tickets_visible_to
from helpdesk.forms import BulkForm
from helpdesk.models import Ticket
from helpdesk.queues import QUEUES

SHOWN_REFUSALS = 5


def _back(request, slug: str) -> str:
    """The same queue page, with its filters (parsed and encoded again: only a query)."""
    base = reverse("queue", args=[slug])
    query = QueryDict(request.POST.get("query", "")[:2000]).urlencode()
    return f"{base}?{query}" if query else base


def _done(form: BulkForm, n: int) -> str:
    """What happened to the `n` tickets that changed, as one sentence."""
    data = form.cleaned_data
    action = data["action"]
    if action == "assign":
        target = data["owner"] or data["team"]
        if target:
            return ngettext(
                "%(n)s ticket assigned to %(target)s.", "%(n)s tickets assigned to %(target)s.", n
            ) % {"n": n, "target": target}
        return ngettext("%(n)s ticket unassigned.", "%(n)s tickets unassigned.", n) % {"n": n}
    if action == "status":
        return ngettext("%(n)s ticket set to %(label)s.", "%(n)s tickets set to %(label)s.", n) % {
            "n": n,
            "label": Ticket.Status(data["status"]).label,
        }
    if action == "priority":
        return ngettext(
            "%(n)s ticket set to %(label)s priority.", "%(n)s tickets set to %(label)s priority.", n
        ) % {"n": n, "label": Ticket.Priority(data["priority"]).label}
    return ngettext("%(n)s ticket closed.", "%(n)s tickets closed.", n) % {"n": n}


@require_POST
@agent_required
def queue_bulk(request, slug: str):
    if slug not in QUEUES:
        raise Http404("No such queue.")
    form = BulkForm(request.POST)
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
        summary.append(_done(form, len(result.changed)))
    if result.unchanged:
        n = len(result.unchanged)
        summary.append(
            ngettext("%(n)s ticket already so.", "%(n)s tickets already so.", n) % {"n": n}
        )
    if result.changed or result.unchanged:
        messages.success(request, " ".join(summary))
    if result.refused:
        shown = "; ".join(f"#{pk}: {why}" for pk, why in result.refused[:SHOWN_REFUSALS])
        more = len(result.refused) - SHOWN_REFUSALS
        tail = gettext("; and %(more)s more") % {"more": more} if more > 0 else ""
        n = len(result.refused)
        messages.warning(
            request,
            ngettext(
                "%(n)s ticket not changed — %(shown)s%(tail)s.",
                "%(n)s tickets not changed — %(shown)s%(tail)s.",
                n,
            )
            % {"n": n, "shown": shown, "tail": tail},
        )
    return redirect(_back(request, slug))
