"""The routing preview of the channel settings page: who would receive the next tickets of
a channel now, with the settings as entered (before Save), and who is left out and why.

Computed only by `routing.preview.preview_next` — the engine's own `decide()` run dry — on
the `RoutingConfig` of the bound Automation form. With htmx the partial is swapped in beside
the form; without JavaScript the "Preview" button posts the whole form here and gets the
Automation page back, with the values as entered and the preview filled in.
"""

from django.shortcuts import render
from django.views.decorators.http import require_POST

from channels_cfg.forms import AutomationForm, PreviewSampleForm
from channels_cfg.pages import (
    AUTOMATION_TEMPLATE,
    automation_of,
    automation_page_context,
    channel_with_automation,
)
from helpdesk.access import account_admin_required
from routing.config import RoutingConfig
from routing.eligibility import TicketFacts
from routing.preview import preview_next

PREVIEW_COUNT = 5


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
