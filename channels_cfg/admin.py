"""Django admin for channels and their automation. Writes go through `channels_cfg.services`,
as on the Channels settings pages, so each one has its audit entry (`ChannelSettingsChange`)."""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext, gettext_lazy

from channels_cfg.models import ChannelAutomation, OpeningHours, SkillRule
from channels_cfg.services import DETAIL_FIELDS, create_channel, update_channel
from helpdesk.models import Channel, TicketType


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    """Connect a channel (`create_channel`) or change its name, address and active state
    (`update_channel`); the kind is fixed once connected, as on the settings pages."""

    list_display = ["name", "kind", "address", "is_active", "ticket_type_label"]
    list_filter = ["kind", "is_active"]
    search_fields = ["name", "address"]
    fields = ["kind", *DETAIL_FIELDS]

    @admin.display(description=gettext_lazy("Ticket type"))
    def ticket_type_label(self, obj):
        return TicketType(obj.ticket_type).label

    def get_readonly_fields(self, request, obj=None):
        return ["kind"] if obj is not None else []

    def save_model(self, request, obj, form, change):
        values = {name: form.cleaned_data[name] for name in DETAIL_FIELDS}
        if change:
            update_channel(channel=obj, actor=request.user, **values)
            return
        channel = create_channel(kind=obj.kind, actor=request.user, **values)
        obj.pk, obj.created_at = channel.pk, channel.created_at


class ReadOnlyInline(admin.TabularInline):
    extra = 0

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class OpeningHoursInline(ReadOnlyInline):
    model = OpeningHours


class SkillRuleInline(ReadOnlyInline):
    model = SkillRule


@admin.register(ChannelAutomation)
class ChannelAutomationAdmin(admin.ModelAdmin):
    """Read-only: the automation is saved by `save_automation` (one transaction, the version
    check and the audit entry) from the channel's Automation tab, linked from each row."""

    list_display = [
        "channel",
        "assign_mode",
        "distribution",
        "available_only",
        "skill_routing",
        "updated_at",
        "updated_by",
        "settings_page",
    ]
    list_filter = ["assign_mode", "distribution", "available_only", "skill_routing"]
    list_select_related = ["channel", "updated_by"]
    search_fields = ["channel__name"]
    inlines = [OpeningHoursInline, SkillRuleInline]

    @admin.display(description=gettext_lazy("Settings"))
    def settings_page(self, obj):
        url = reverse("channels_cfg:automation", args=[obj.channel_id])
        return format_html('<a href="{}">{}</a>', url, gettext("Automation tab"))

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
