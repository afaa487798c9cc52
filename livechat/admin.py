"""Admin of the chat settings (for superadmins: account admins edit them on the channel's
Details tab, `livechat.settings_panel`), the conversations, and the replies sent by
webhook. The webhook secret is a password field that never renders the stored value (left
blank: kept); the API token and a generated secret are set by actions and shown once."""

from django import forms
from django.contrib import admin, messages
from django.utils.html import format_html

from helpdesk.forms import KeptSecretField, keep_blank_secret
from livechat import setup, webhooks
from livechat.models import (
    ChatSettings,
    Conversation,
    WebhookReply,
    chat_kinds,
    webhook_kinds,
)


class ChatSettingsForm(forms.ModelForm):
    webhook_secret = KeptSecretField(
        help_text="Signs every webhook request. Leave blank to keep the stored secret."
    )

    class Meta:
        model = ChatSettings
        fields = [
            "channel",
            "title",
            "greeting",
            "allowed_origins",
            "webhook_url",
            "webhook_secret",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "channel" in self.fields:
            queryset = self.fields["channel"].queryset
            self.fields["channel"].queryset = queryset.filter(kind__in=chat_kinds())

    def clean_webhook_secret(self):
        return keep_blank_secret(self, "webhook_secret")


@admin.register(ChatSettings)
class ChatSettingsAdmin(admin.ModelAdmin):
    form = ChatSettingsForm
    list_display = ["channel", "public_id", "title", "api_token_prefix", "webhook_url"]
    list_select_related = ["channel"]
    readonly_fields = ["public_id", "api_token_prefix", "snippet"]
    actions = ["new_api_token", "new_webhook_secret"]

    @admin.display(description="Embed snippet")
    def snippet(self, obj):
        if not obj.pk or not obj.serves_widget:
            return "—"
        return format_html("<code>{}</code>", setup.embed_snippet(obj))

    @admin.action(description="Set a new custom chat API token (shown once)")
    def new_api_token(self, request, queryset):
        for chat in queryset.select_related("channel"):
            raw = setup.new_api_token(chat)
            self.message_user(
                request,
                f"{chat.channel}: copy this API token now, it will not be shown again: {raw}",
                messages.WARNING,
            )

    @admin.action(description="Set a new webhook secret (shown once)")
    def new_webhook_secret(self, request, queryset):
        for chat in queryset.select_related("channel"):
            secret = setup.new_webhook_secret(chat)
            self.message_user(
                request,
                f"{chat.channel}: copy this webhook secret now, it will not be shown again: "
                f"{secret}",
                messages.WARNING,
            )


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ["id", "channel", "short_key", "number", "contact", "ticket", "created_at"]
    list_select_related = ["channel", "contact", "ticket"]
    list_filter = ["channel"]
    readonly_fields = ["channel", "key", "number", "contact", "ticket", "created_at"]

    def has_add_permission(self, request):
        return False

    @admin.display(description="Key")
    def short_key(self, obj):
        return obj.key[:16]


@admin.register(WebhookReply)
class WebhookReplyAdmin(admin.ModelAdmin):
    """Every reply POSTed to a custom chat's webhook, claimed once. Failed ones keep the
    receiver's answer: **Retry** queues them again."""

    list_display = ["id", "ticket_link", "channel", "status", "attempts", "due_at", "sent_at"]
    list_filter = ["status", "channel"]
    list_select_related = ["channel", "message"]
    search_fields = ["last_error"]
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
    ]
    fields = readonly_fields

    def get_queryset(self, request):
        return super().get_queryset(request).filter(channel__kind__in=webhook_kinds())

    def has_add_permission(self, request):
        return False

    @admin.display(description="Ticket")
    def ticket_link(self, obj):
        return f"#{obj.message.ticket_id}"

    @admin.action(description="Retry the selected failed replies")
    def retry(self, request, queryset):
        count = len(webhooks.retry_outbound(ids=queryset.values_list("pk", flat=True)))
        self.message_user(request, f"{count} failed replies will be sent again.", messages.SUCCESS)
