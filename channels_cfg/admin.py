from django import forms
from django.contrib import admin

from channels_cfg.models import ChannelAutomation, OpeningHours, SkillRule


class OpeningHoursInline(admin.TabularInline):
    model = OpeningHours
    extra = 0


class SkillRuleInline(admin.TabularInline):
    model = SkillRule
    extra = 0


class ChannelAutomationAdminForm(forms.ModelForm):
    """The admin supplies the model and fields."""

    def clean(self):
        cleaned = super().clean()
        # ChannelAutomation.clean() validates the selection being saved, not the stored one.
        self.instance.pending_selection = {
            f: cleaned.get(f) for f in ChannelAutomation.SELECTION_FIELDS
        }
        return cleaned


@admin.register(ChannelAutomation)
class ChannelAutomationAdmin(admin.ModelAdmin):
    form = ChannelAutomationAdminForm
    list_display = [
        "channel",
        "assign_mode",
        "distribution",
        "available_only",
        "skill_routing",
        "updated_at",
        "updated_by",
    ]
    list_filter = ["assign_mode", "distribution", "available_only", "skill_routing"]
    list_select_related = ["channel", "updated_by"]
    search_fields = ["channel__name"]
    filter_horizontal = ["users", "teams", "fallback_users", "fallback_teams"]
    readonly_fields = ["version", "updated_at", "updated_by"]
    inlines = [OpeningHoursInline, SkillRuleInline]

    def save_model(self, request, obj, form, change):
        obj.updated_by = request.user
        if change:
            obj.version += 1
        super().save_model(request, obj, form, change)
