"""The chat settings of a chat channel on its Details tab (a `channels_cfg` panel,
registered in `livechat.apps`). Its shape follows the kind's policy, never a kind's name:

- a chatflow (`policy.outbound == WIDGET`): the widget's title, greeting and allowed
  origins, its public id and the `<script>` snippet to paste, and the demo page (when it
  is served: `setup.demo_served`);
- a custom chat (`policy.outbound == WEBHOOK`): the API's address and the first
  characters of its token ("New API token"), the webhook's address and its secret
  ("New webhook secret").

The form converts and checks types only; `livechat.setup` saves, refuses and records the
history. The API token is kept only as a hash; the webhook secret is a password field that
never renders a value (left blank it keeps the stored one). A new token or secret is shown
once, in the page that answers the action that set it.
"""

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.translation import gettext, gettext_lazy

from channels_cfg.panels import ActionResult, DetailsPanel
from helpdesk.models import Channel, User
from livechat import selectors, setup
from livechat.models import INTAKE, WEBHOOK, WIDGET, ChatSettings

SM = {"class": "form-control-sm"}


def _length(name: str) -> int:
    return ChatSettings._meta.get_field(name).max_length


class ChatPanelForm(forms.Form):
    prefix = "chat"  # apart from the Details form's fields and the panel's own keys
    title = forms.CharField(
        label=gettext_lazy("Title"),
        max_length=_length("title"),
        widget=forms.TextInput(attrs=SM),
        help_text=gettext_lazy("The heading of the chat panel on your site."),
        error_messages={
            "required": gettext_lazy("Give the chat panel a title, e.g. Chat with us.")
        },
    )
    greeting = forms.CharField(
        label=gettext_lazy("Greeting"),
        required=False,
        max_length=_length("greeting"),
        widget=forms.Textarea(attrs={**SM, "rows": 2}),
        help_text=gettext_lazy("What the panel says before the first message. Blank: nothing."),
    )
    allowed_origins = forms.CharField(
        label=gettext_lazy("Allowed origins"),
        required=False,
        widget=forms.Textarea(attrs={**SM, "rows": 3, "spellcheck": "false"}),
        help_text=gettext_lazy(
            "The sites that may show the chat, one origin per line, e.g. "
            "https://www.example.com (scheme and host, no path). The helpdesk's own address is "
            "always allowed; with none listed, no other site is."
        ),
    )
    webhook_url = forms.URLField(
        label=gettext_lazy("Webhook URL"),
        required=False,
        max_length=_length("webhook_url"),
        assume_scheme="https",
        widget=forms.URLInput(attrs={**SM, "spellcheck": "false"}),
        help_text=gettext_lazy(
            "Where the agents' replies are POSTed, signed. Blank: replies wait."
        ),
        error_messages={
            "invalid": gettext_lazy("Enter the webhook's full address, e.g. https://…/hooks.")
        },
    )
    webhook_secret = forms.CharField(
        label=gettext_lazy("Webhook secret"),
        required=False,
        max_length=_length("webhook_secret"),
        widget=forms.PasswordInput(
            render_value=False, attrs={**SM, "autocomplete": "new-password", "spellcheck": "false"}
        ),
    )

    def __init__(self, *args, chat: ChatSettings, **kwargs):
        self.chat = chat
        fields = setup.editable_fields(chat)
        initial = {name: getattr(chat, name) for name in fields if name != "webhook_secret"}
        if "allowed_origins" in initial:
            initial["allowed_origins"] = "\n".join(chat.allowed_origins or [])
        super().__init__(*args, initial=initial, **kwargs)
        for name in list(self.fields):
            if name not in fields:
                del self.fields[name]
        self.show_secret_state(bool(chat.webhook_secret))

    def show_secret_state(self, stored: bool) -> None:
        """Say under the secret's field whether one is stored (never what it is)."""
        self.secret_stored = stored
        if "webhook_secret" in self.fields:
            secret = self.fields["webhook_secret"]
            if stored:
                secret.help_text = gettext(
                    "A secret is stored and never shown. Leave blank to keep it, type one "
                    "(at least 16 characters) or press “New webhook secret”."
                )
                secret.widget.attrs["placeholder"] = gettext("Stored — leave blank to keep")
            else:
                secret.help_text = gettext(
                    "None is stored yet: replies are not signed until one is. Type one or "
                    "press “New webhook secret”."
                )

    def clean_allowed_origins(self) -> list[str]:
        lines = self.cleaned_data["allowed_origins"].splitlines()
        return [line.strip() for line in lines if line.strip()]

    @property
    def secret_typed(self) -> bool:
        return self.is_bound and bool(self.data.get(self.add_prefix("webhook_secret")))


def api_url(channel: Channel) -> str:
    """The absolute address of the custom chat API: what the other system posts to."""
    return settings.SITE_URL.rstrip("/") + reverse("livechat:api-messages", args=[channel.pk])


class ChatPanel(DetailsPanel):
    key = "chat"
    title = gettext_lazy("Chat")
    description = gettext_lazy(
        "How visitors or your own system reach this channel, and how replies reach them."
    )
    template = "livechat/_panel.html"
    actions = {
        "new_token": gettext_lazy("New API token (shown once)"),
        "new_secret": gettext_lazy("New webhook secret (shown once)"),
    }

    def applies_to(self, channel: Channel) -> bool:
        policy = channel.policy
        return policy.intake == INTAKE and policy.outbound in {WIDGET, WEBHOOK}

    def form(self, channel: Channel, data=None) -> ChatPanelForm:
        chat = ChatSettings.objects.filter(channel=channel).first()
        if chat is None:
            chat = setup.ensure_chat_settings(channel)  # the public id exists to be copied
        chat.channel = channel
        return ChatPanelForm(data, chat=chat)

    def save(self, *, channel: Channel, form: ChatPanelForm, actor: User | None) -> list[dict]:
        return setup.save_chat_settings(channel=channel, data=dict(form.cleaned_data), actor=actor)

    def saved_message(self, changes: list[dict]) -> str:
        if not changes:
            return gettext("Chat settings: nothing changed.")
        return gettext("Chat settings saved. They apply from the next conversation and reply on.")

    def run(
        self, action: str, *, channel: Channel, form: ChatPanelForm, actor: User | None
    ) -> ActionResult:
        renew = setup.renew_api_token if action == "new_token" else setup.renew_webhook_secret
        try:
            form.chat, raw = renew(channel=channel, actor=actor)
        except ValidationError as exc:
            return ActionResult(False, " ".join(exc.messages))
        if action == "new_token":
            message = gettext(
                "A new API token is set; the previous one no longer works. Copy it now: it "
                "is shown only this once."
            )
        else:
            form.show_secret_state(True)
            message = gettext(
                "A new webhook secret is set; replies are signed with it from now on. Copy it "
                "now: it is shown only this once."
            )
        return ActionResult(True, message, reveal=raw)

    def context(self, *, channel: Channel, form: ChatPanelForm) -> dict:
        chat = form.chat
        extra = {"public_id": chat.public_id, "labels": self.actions}
        if chat.serves_widget:
            extra["snippet"] = setup.embed_snippet(chat)
            if setup.demo_served():
                shown = selectors.demo_chat()
                extra |= {
                    "demo_url": reverse("livechat:demo"),
                    "demo_shows_this": shown is not None and shown.channel_id == channel.pk,
                }
        if chat.serves_api:
            extra |= {"api_url": api_url(channel), "token_prefix": chat.api_token_prefix}
        return extra
