"""What the Automation page shows, shared by `channels_cfg.views` and the routing preview's
view (`routing.views`), so neither app imports the other's views."""

from django.shortcuts import get_object_or_404

from channels_cfg.forms import PreviewSampleForm
from channels_cfg.models import ChannelAutomation
from helpdesk.models import Channel

HISTORY_SHOWN = 15
AUTOMATION_TEMPLATE = "channels_cfg/channel_automation.html"


def channel_with_automation(channel_id: int) -> Channel:
    return get_object_or_404(Channel.objects.select_related("automation"), pk=channel_id)


def automation_of(channel: Channel) -> ChannelAutomation:
    """The saved automation, or the defaults (saved on the first Save)."""
    try:
        return channel.automation
    except ChannelAutomation.DoesNotExist:
        return ChannelAutomation.default_for(channel)


def history_of(channel: Channel) -> dict:
    changes = channel.settings_changes.all()
    return {"history": list(changes[:HISTORY_SHOWN]), "history_total": changes.count()}


def automation_page_context(request, channel, automation, form, **extra) -> dict:
    """Everything the Automation tab shows (also used by the routing preview without JS)."""
    return {
        "channel": channel,
        "automation": automation,
        "form": form,
        "sample": extra.pop("sample", None) or PreviewSampleForm(),
        "tab": "automation",
        "group_rules": form.group_rules,
        "errors": form.error_summary() if form.is_bound else [],
        **history_of(channel),
        **extra,
    }
