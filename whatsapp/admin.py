"""Admin of the WhatsApp settings (for superadmins: the Details tab is the product page)
and of what Meta reported on the messages we sent. The access token and the app secret are
password fields that never render the stored value (left blank: kept)."""

from django import forms
from django.contrib import admin, messages
from django.utils.translation import gettext_lazy, ngettext

from helpdesk.channel_kinds import POLICIES
from helpdesk.forms import KeptSecretField, keep_blank_secret
from whatsapp.models import OUTBOUND, WhatsAppOutbound, WhatsAppSettings
from whatsapp.outbound import retry_outbound

SECRETS = ("access_token", "app_secret")


class WhatsAppSettingsForm(forms.ModelForm):
    access_token = KeptSecretField(
        help_text=gettext_lazy(
            "A system user's token with whatsapp_business_messaging. Blank keeps it."
        )
    )
    app_secret = KeptSecretField(
        help_text=gettext_lazy("App settings › Basic › App secret. Blank keeps the stored one.")
    )

    class Meta:
        model = WhatsAppSettings
        fields = [
            "channel",
            "api_base_url",
            "phone_number_id",
            "access_token",
            "app_secret",
            "verify_token",
            "templates",
            "media_hosts",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "channel" in self.fields:
            kinds = [kind for kind, policy in POLICIES.items() if policy.outbound == OUTBOUND]
            self.fields["channel"].queryset = self.fields["channel"].queryset.filter(kind__in=kinds)

    def clean_access_token(self):
        return keep_blank_secret(self, "access_token")

    def clean_app_secret(self):
        return keep_blank_secret(self, "app_secret")


@admin.register(WhatsAppSettings)
class WhatsAppSettingsAdmin(admin.ModelAdmin):
    form = WhatsAppSettingsForm
    list_display = ["channel", "phone_number_id", "api_base_url", "webhook_path"]
    list_select_related = ["channel"]

    @admin.display(description=gettext_lazy("Callback URL (path)"))
    def webhook_path(self, obj):
        return f"/whatsapp/{obj.channel_id}/webhook/"


@admin.register(WhatsAppOutbound)
class WhatsAppOutboundAdmin(admin.ModelAdmin):
    """Every WhatsApp message we sent, with Meta's reports. **Retry** sends failed ones
    again (as a new message)."""

    list_display = ["id", "ticket", "to", "template_name", "status", "state", "error_title"]
    list_filter = ["state", "outbound__status"]
    list_select_related = ["outbound__message"]
    search_fields = ["to", "outbound__provider_id", "error_title"]
    actions = ["retry"]
    readonly_fields = [
        "outbound",
        "to",
        "template_name",
        "template_language",
        "state",
        "sent_at",
        "delivered_at",
        "read_at",
        "failed_at",
        "error_code",
        "error_title",
    ]

    def has_add_permission(self, request):
        return False

    @admin.display(description=gettext_lazy("Ticket"))
    def ticket(self, obj):
        return f"#{obj.outbound.message.ticket_id}"

    @admin.display(description=gettext_lazy("Outbox"))
    def status(self, obj):
        return obj.outbound.get_status_display()

    @admin.action(description=gettext_lazy("Retry the selected failed messages"))
    def retry(self, request, queryset):
        ids = queryset.values_list("outbound_id", flat=True)
        count = len(retry_outbound(ids=ids))
        self.message_user(
            request,
            ngettext(  # the English says "messages" for one too (kept as it was)
                "%(count)s failed messages will be sent again.",
                "%(count)s failed messages will be sent again.",
                count,
            )
            % {"count": count},
            messages.SUCCESS,
        )
