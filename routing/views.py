"""Routing's pages.

`decision_details`: the details of one decision (its settings, every candidate with their
load, everyone left out and why), which the ticket page loads when the agent opens "Details
of the decision" — so the ticket page's size and cost do not grow with the pool (issue 14).

`preview`: the routing preview of the channel settings page: who would receive the next
tickets of a channel now, with the settings as entered (before Save), and who is left out
and why.

Computed only by `routing.preview.preview_next` — the engine's own `decide()` run dry — on
the `RoutingConfig` of the bound Automation form. With htmx the partial is swapped in beside
the form; without JavaScript the "Preview" button posts the whole form here and gets the
Automation page back, with the values as entered and the preview filled in.
"""

from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from channels_cfg.forms import AutomationForm, PreviewSampleForm
from channels_cfg.pages import (
    AUTOMATION_TEMPLATE,
    automation_of,
    automation_page_context,
    channel_with_automation,
)
from helpdesk.access import account_admin_required, agent_required, ticket_for_agent
from routing.config import RoutingConfig
from routing.eligibility import TicketFacts
from routing.models import RoutingDecision
from routing.preview import preview_next

PREVIEW_COUNT = 5


@agent_required
@require_GET
@vary_on_headers("HX-Request")  # one URL, two answers: no cache may give the part as the page
def decision_details(request, decision_id: int):
    """A decision's details, for an agent who may see its ticket (404 otherwise): the part
    for the ticket page with htmx, a page of its own without JavaScript. Three queries
    whatever the number of candidates."""
    decision = get_object_or_404(
        RoutingDecision.objects.select_related("owner", "team"), pk=decision_id
    )
    ticket = ticket_for_agent(request.user, decision.ticket_id)
    context = {"decision": decision, "ticket": ticket}
    if request.htmx:
        return render(request, "routing/_decision_details.html", context)
    return render(request, "routing/decision.html", context)


@account_admin_required
@require_POST
def preview(request, channel_id: int):
    channel = channel_with_automation(channel_id)
    automation = automation_of(channel)
    form = AutomationForm(request.POST, channel=channel, automation=automation)
    sample = PreviewSampleForm(request.POST)
    context = {"channel": channel, "previewed": True, "preview": None, "preview_errors": []}
    if form.is_valid() and sample.is_valid():
        data = form.automation_data()
        config = RoutingConfig.from_settings(kind=channel.kind, settings=data)
        facts = TicketFacts(
            ticket_type=channel.ticket_type,
            subject=sample.cleaned_data["text"],
            language=sample.cleaned_data["language"].strip(),
            priority=sample.cleaned_data["priority"],
        )
        context["preview"] = preview_next(
            config=config, channel=channel, count=PREVIEW_COUNT, facts=facts
        )
        context["preview_mode"] = config.mode
    else:
        context["preview_errors"] = form.error_summary() + [
            (sample[name].label, error, "")
            for name, errors in sample.errors.items()
            for error in errors
        ]
    if request.htmx:
        return render(request, "routing/preview.html", context)
    page = automation_page_context(request, channel, automation, form, sample=sample)
    page.update(context)
    return render(request, AUTOMATION_TEMPLATE, page)
