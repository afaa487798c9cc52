"""The channel settings pages (R6, R14–R20): the list of channels, connecting one, its
Details tab (with the sections other apps add, `channels_cfg.panels`) and its Automation tab.

Only account admins (`helpdesk.manage_helpdesk`; superusers have every permission) see
them (`helpdesk.access.account_admin_required`); everyone else gets 403, and anonymous
visitors the login page. Views parse, check access, call one service of
`channels_cfg.services` and redirect (or render the errors).
The routing preview lives in the routing app (`routing.views.preview`), which renders the
Automation page through `channels_cfg.pages.automation_page_context` when JavaScript is
off (no app imports another's views).
"""

from contextlib import suppress

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext, gettext_lazy
from django.views.decorators.http import require_POST

from channels_cfg.forms import (
    AutomationForm,
    ChannelCreateForm,
    ChannelDetailsForm,
)
from channels_cfg.models import AssignMode, ChannelAutomation, ChannelSettingsChange
from channels_cfg.pages import (
    AUTOMATION_TEMPLATE,
    automation_of,
    automation_page_context,
    channel_with_automation,
    history_of,
)
from channels_cfg.panels import ShownPanel, details_panel, details_panels_for
from channels_cfg.services import (
    AutomationChanged,
    create_channel,
    save_automation,
    set_channel_active,
    update_channel,
)
from helpdesk.access import account_admin_required
from helpdesk.models import Channel

SAVED = gettext_lazy("Saved. The new settings apply to tickets that arrive from now on.")


# ---------------------------------------------------------------------------------------
# List, create, activate
# ---------------------------------------------------------------------------------------


@account_admin_required
def channel_list(request):
    """Every connected channel with its routing in one line: 6 queries for any number."""
    channels = list(
        Channel.objects.select_related("automation")
        .prefetch_related(
            "automation__users",
            "automation__teams",
            "automation__fallback_users",
            "automation__fallback_teams",
            "automation__opening_hours",
        )
        .order_by("-is_active", "name")
    )
    return render(request, "channels_cfg/channel_list.html", {"channels": channels})


@account_admin_required
def channel_create(request):
    form = ChannelCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        channel = create_channel(actor=request.user, **form.cleaned_data)
        messages.success(
            request,
            gettext("%(name)s is connected. Now choose how its tickets are assigned.")
            % {"name": channel.name},
        )
        return redirect("channels_cfg:automation", channel.pk)
    return render(request, "channels_cfg/channel_new.html", {"form": form})


def _back(request, channel: Channel):
    if request.POST.get("next") == "details":
        return redirect("channels_cfg:details", channel.pk)
    return redirect("channels_cfg:list")


@require_POST
def _set_active(request, channel_id: int, active: bool):
    channel = get_object_or_404(Channel, pk=channel_id)
    if set_channel_active(channel=channel, active=active, actor=request.user):
        if active:
            messages.success(
                request,
                gettext("%(name)s is active again: new tickets arrive.") % {"name": channel.name},
            )
        else:
            messages.success(
                request,
                gettext(
                    "%(name)s is deactivated: it receives no new tickets. Its "
                    "existing tickets stay where they are."
                )
                % {"name": channel.name},
            )
    return _back(request, channel)


@account_admin_required
def channel_deactivate(request, channel_id: int):
    return _set_active(request, channel_id, False)


@account_admin_required
def channel_activate(request, channel_id: int):
    return _set_active(request, channel_id, True)


# ---------------------------------------------------------------------------------------
# Details tab
# ---------------------------------------------------------------------------------------


@account_admin_required
def channel_details(request, channel_id: int):
    """The Details fieldset, then the panels other apps add for this channel's kind
    (`channels_cfg.panels`); a POST with a `panel` key goes to that panel."""
    channel = get_object_or_404(Channel, pk=channel_id)
    if request.method == "POST" and "panel" in request.POST:
        return _panel_post(request, channel, request.POST["panel"])
    if request.method != "POST":
        return _details_page(request, channel, ChannelDetailsForm(instance=channel))
    editable = Channel.objects.get(pk=channel.pk)  # the form may change it before it is valid
    form = ChannelDetailsForm(request.POST, instance=editable)
    if form.is_valid():
        values = {name: form.cleaned_data[name] for name in ChannelDetailsForm.Meta.fields}
        changed = update_channel(channel=channel, actor=request.user, **values)
        messages.success(request, gettext("Saved.") if changed else gettext("Nothing changed."))
        return redirect("channels_cfg:details", channel.pk)
    return _details_page(request, channel, form)


def _details_page(request, channel: Channel, form, posted: ShownPanel | None = None):
    shown = []
    for panel in details_panels_for(channel):
        if posted is not None and posted.panel is panel:
            shown.append(posted)
            continue
        panel_form = panel.form(channel)
        extra = panel.context(channel=channel, form=panel_form)
        shown.append(ShownPanel(panel, panel_form, extra=extra))
    context = {
        "channel": channel,
        "form": form,
        "tab": "details",
        "panels": shown,
        **history_of(channel),
    }
    return render(request, "channels_cfg/channel_details.html", context)


def _panel_errors(form, exc: ValidationError) -> None:
    """A refusal of the panel's service, on the fields it names (else above the form)."""
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc)
        return
    for name, errors in exc.message_dict.items():
        form.add_error(name if name in form.fields else None, errors)


def _bad_request(text: str) -> HttpResponseBadRequest:
    # Plain text: the posted key is echoed back, never as HTML.
    return HttpResponseBadRequest(text, content_type="text/plain; charset=utf-8")


def _panel_post(request, channel: Channel, key: str):
    """Save a panel (redirect with a message), or run one of its actions (the page again,
    values as typed, the result beside the button)."""
    panel = details_panel(channel, key)
    if panel is None:
        return _bad_request(
            gettext("This channel has no settings section “%(key)s”.") % {"key": key}
        )
    action = request.POST.get("action", "")
    if action and action not in panel.actions:
        return _bad_request(
            gettext("The section “%(title)s” has no action “%(action)s”.")
            % {"title": panel.title, "action": action}
        )
    form = panel.form(channel, request.POST)
    shown = ShownPanel(panel, form)
    if action:
        shown.results[action] = panel.run(action, channel=channel, form=form, actor=request.user)
    elif form.is_valid():
        try:
            changes = panel.save(channel=channel, form=form, actor=request.user)
        except ValidationError as exc:
            _panel_errors(form, exc)
        else:
            messages.success(request, panel.saved_message(changes))
            return redirect("channels_cfg:details", channel.pk)
    shown.extra = panel.context(channel=channel, form=form)
    return _details_page(request, channel, ChannelDetailsForm(instance=channel), posted=shown)


# ---------------------------------------------------------------------------------------
# Automation tab
# ---------------------------------------------------------------------------------------

ADD_ROW = {"hours": "hours-TOTAL_FORMS", "rules": "rules-TOTAL_FORMS"}


def _with_extra_row(request, channel, automation, which: str) -> AutomationForm:
    """“Add hours” / “Add rule” without JavaScript: the same form with one more blank row
    (nothing is saved)."""
    data = request.POST.copy()
    key = ADD_ROW[which]
    with suppress(ValueError):
        data[key] = str(int(data.get(key, "0")) + 1)
    return AutomationForm(data, request.FILES, channel=channel, automation=automation)


def _service_errors(form: AutomationForm, exc: ValidationError, mode: str) -> None:
    """Show a refusal of the service (a seat removed since the page was shown…) on the
    field it is about."""
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc)
        return
    for field, errors in exc.message_dict.items():
        if field == "teams" and mode == AssignMode.TEAM_ONLY:
            field = "team"
        form.add_error(field if field in form.fields else None, errors)


@account_admin_required
def channel_automation(request, channel_id: int):
    channel = channel_with_automation(channel_id)
    automation = automation_of(channel)
    if request.method != "POST":
        form = AutomationForm(channel=channel, automation=automation)
        context = automation_page_context(request, channel, automation, form)
        return render(request, AUTOMATION_TEMPLATE, context)

    which = request.POST.get("add")
    if which in ADD_ROW:
        form = _with_extra_row(request, channel, automation, which)
        context = automation_page_context(request, channel, automation, form, added=which)
        return render(request, AUTOMATION_TEMPLATE, context)

    form = AutomationForm(request.POST, request.FILES, channel=channel, automation=automation)
    if form.is_valid():
        data = form.automation_data()
        expected = form.cleaned_data["version"]
        try:
            saved = save_automation(
                automation=automation, data=data, actor=request.user, expected_version=expected
            )
        except AutomationChanged as exc:
            return _conflict(request, channel, exc.automation, expected)
        except ValidationError as exc:
            _service_errors(form, exc, data["assign_mode"])
        else:
            messages.success(
                request, SAVED if saved.version != expected else gettext("Nothing changed.")
            )
            return redirect("channels_cfg:automation", channel.pk)
    context = automation_page_context(request, channel, automation, form)
    return render(request, AUTOMATION_TEMPLATE, context)


def _conflict(request, channel, current: ChannelAutomation, expected: int):
    """Another admin saved first: show the current settings, what changed, and save nothing."""
    current = ChannelAutomation.objects.select_related("channel").get(pk=current.pk)
    form = AutomationForm(channel=channel, automation=current)
    since = list(
        channel.settings_changes.filter(
            section=ChannelSettingsChange.Section.AUTOMATION, version__gt=expected
        ).order_by("created_at", "id")
    )
    context = automation_page_context(
        request, channel, current, form, conflict={"changes": since, "current": current}
    )
    return render(request, AUTOMATION_TEMPLATE, context, status=409)
