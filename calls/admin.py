"""Admin of the call settings (for superadmins: the Details tab is the product page) and a read-only
list of calls. The Twilio auth token is a password field that never renders the stored
value (left blank: kept)."""

from django import forms
from django.contrib import admin
from django.utils.html import format_html_join
from django.utils.translation import gettext, gettext_lazy

from calls import intake
from calls.models import Call, CallSettings
from helpdesk.forms import KeptSecretField, keep_blank_secret


class CallSettingsForm(forms.ModelForm):
    auth_token = KeptSecretField(
        help_text=gettext_lazy(
            "The Twilio account's auth token. Leave blank to keep the stored token."
        )
    )

    class Meta:
        model = CallSettings
        fields = [
            "channel",
            "auth_token",
            "public_base_url",
            "proxy_prefix",
            "dial_timeout",
            "caller_id",
            "voicemail_max_seconds",
        ]

    def clean_auth_token(self):
        return keep_blank_secret(self, "auth_token")  # typed values arrive stripped


@admin.register(CallSettings)
class CallSettingsAdmin(admin.ModelAdmin):
    form = CallSettingsForm
    list_display = ["channel", "public_base_url", "proxy_prefix", "has_token"]
    list_select_related = ["channel"]
    readonly_fields = ["twilio_urls"]

    @admin.display(boolean=True, description=gettext_lazy("Auth token set"))
    def has_token(self, obj):
        return bool(obj.auth_token)

    @admin.display(description=gettext_lazy("URLs to give Twilio"))
    def twilio_urls(self, obj):
        if obj.pk is None:
            return gettext("Save first: the URLs name the channel.")
        rows = [
            (gettext("A call comes in"), intake.callback_url(obj, intake.INCOMING)),
            (gettext("Call status changes"), intake.callback_url(obj, intake.STATUS)),
        ]
        return format_html_join("", "<p>{}: <code>{}</code> (HTTP POST)</p>", rows)


@admin.register(Call)
class CallAdmin(admin.ModelAdmin):
    list_display = [
        "call_sid",
        "channel",
        "from_number",
        "ticket_link",
        "answer",
        "dial_status",
        "status",
        "duration",
        "created_at",
    ]
    list_filter = ["answer", "status", "channel"]
    list_select_related = ["channel"]
    search_fields = ["call_sid", "from_number"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description=gettext_lazy("Ticket"))
    def ticket_link(self, obj):
        return f"#{obj.ticket_id}"
