"""Admin of the mail settings, for superadmins. The product page is the channel's Details tab
(Settings › Channels › a team-email channel: `mailroom.settings_panel`), which validates,
tests the connection and records every change in the channel's history; this admin does
none of that. The IMAP secret is a password field that never renders the stored value (left
blank: kept); the endpoint token is set by an action and shown once."""

from django import forms
from django.contrib import admin, messages
from django.utils.translation import gettext, gettext_lazy, ngettext

from helpdesk.forms import KeptSecretField, keep_blank_secret
from mailroom.models import MailSettings


class MailSettingsForm(forms.ModelForm):
    imap_secret = KeptSecretField(help_text=gettext_lazy("Leave blank to keep the stored secret."))

    class Meta:
        model = MailSettings
        fields = [
            "channel",
            "addresses",
            "imap_host",
            "imap_port",
            "imap_security",
            "imap_user",
            "imap_secret",
            "imap_folder",
            "after_fetch",
            "processed_folder",
            "from_name",
            "from_address",
            "signature",
        ]

    def clean_imap_secret(self):
        return keep_blank_secret(self, "imap_secret")


@admin.register(MailSettings)
class MailSettingsAdmin(admin.ModelAdmin):
    form = MailSettingsForm
    list_display = ["channel", "imap_host", "imap_user", "last_uid", "last_poll_at"]
    list_select_related = ["channel"]
    readonly_fields = [
        "uidvalidity",
        "last_uid",
        "last_poll_at",
        "last_poll_error",
        "endpoint_token_prefix",
    ]
    actions = ["new_endpoint_token"]

    @admin.action(description=gettext_lazy("Set a new HTTP endpoint token (shown once)"))
    def new_endpoint_token(self, request, queryset):
        for mail_settings in queryset:
            raw = mail_settings.set_endpoint_token()
            mail_settings.save(update_fields=["endpoint_token_hash", "endpoint_token_prefix"])
            self.message_user(
                request,
                gettext("%(channel)s: copy this token now, it will not be shown again: %(token)s")
                % {"channel": mail_settings.channel, "token": raw},
                messages.WARNING,
            )


# --- outbound: the outbox of replies (mailroom/outbound.py) -----------------------------

from helpdesk.models import OutboundMessage  # noqa: E402
from mailroom.outbound import retry_outbound  # noqa: E402


@admin.register(OutboundMessage)
class OutboundMessageAdmin(admin.ModelAdmin):
    """Every reply that leaves by email, claimed once. Queued rows are sent by their task or
    the sweep; failed ones keep the SMTP error: **Retry** queues them again, with the same
    Message-ID."""

    list_display = [
        "id",
        "ticket_link",
        "channel",
        "status",
        "attempts",
        "due_at",
        "sent_at",
        "short_error",
    ]
    list_filter = ["status", "channel"]
    list_select_related = ["channel", "message"]
    search_fields = ["provider_id", "last_error"]
    actions = ["retry"]
    readonly_fields = [
        "message",
        "channel",
        "status",
        "attempts",
        "due_at",
        "claimed_at",
        "sent_at",
        "last_error",
        "provider_id",
    ]

    def has_add_permission(self, request):
        return False

    @admin.display(description=gettext_lazy("Ticket"))
    def ticket_link(self, obj):
        return f"#{obj.message.ticket_id}"

    @admin.display(description=gettext_lazy("Error"))
    def short_error(self, obj):
        return obj.last_error[:80]

    @admin.action(description=gettext_lazy("Retry the selected failed replies"))
    def retry(self, request, queryset):
        count = len(retry_outbound(ids=queryset.values_list("pk", flat=True)))
        self.message_user(
            request,
            ngettext(  # the English says "replies" for one too (kept as it was)
                "%(count)s failed replies will be sent again.",
                "%(count)s failed replies will be sent again.",
                count,
            )
            % {"count": count},
            messages.SUCCESS,
        )
