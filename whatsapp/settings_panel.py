"""The WhatsApp settings of a WhatsApp channel on its Details tab (a `channels_cfg` panel,
registered in `whatsapp.apps`): the Cloud API (address, phone number id, access token and
"Test the token"), the webhook (the callback URL and verify token to give Meta, the app
secret) and the approved templates and media hosts.

The form converts and checks types only; `whatsapp.settings_service` saves, refuses and
tests. The three secrets are password fields that never render a value — left blank they
keep the stored one — and the page shows only whether one is stored (of the verify token,
its first characters, to compare with what Meta was given).
"""

import secrets

from django import forms
from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext, gettext_lazy

from channels_cfg.panels import ActionResult, DetailsPanel
from helpdesk.models import Channel, User
from whatsapp.models import WhatsAppSettings
from whatsapp.settings_service import (
    SECRETS,
    check_token,
    parse_templates,
    save_whatsapp_settings,
    templates_text,
)
from whatsapp.webhook import KIND

SM = {"class": "form-control-sm"}
API_FIELDS = ("api_base_url", "phone_number_id", "access_token")
# The verify token's first characters are shown when it is at least this long.
HINT_FROM_LENGTH, HINT_CHARACTERS = 16, 4
STORED_HELP = {
    "access_token": gettext_lazy("A token is stored and never shown. Leave blank to keep it."),
    "verify_token": gettext_lazy(
        "A verify token is stored and never shown. Leave blank to keep it."
    ),
    "app_secret": gettext_lazy("An app secret is stored and never shown. Leave blank to keep it."),
}
MISSING_HELP = {
    "access_token": gettext_lazy(
        "No token is stored yet: replies cannot leave. A system user's token "
        "with whatsapp_business_messaging."
    ),
    "verify_token": gettext_lazy("None is stored yet: any long random text."),
    "app_secret": gettext_lazy(
        "None is stored yet: every delivery from Meta is refused until it is set. "
        "The Meta app's App settings › Basic › App secret."
    ),
}


def _length(name: str) -> int:
    return WhatsAppSettings._meta.get_field(name).max_length


def _secret(name: str, label: str) -> forms.CharField:
    return forms.CharField(
        label=label,
        required=False,
        max_length=_length(name),
        widget=forms.PasswordInput(
            render_value=False, attrs={**SM, "autocomplete": "new-password", "spellcheck": "false"}
        ),
    )


class WhatsAppPanelForm(forms.Form):
    prefix = "wa"  # apart from the Details form's fields and the panel's own keys
    api_base_url = forms.CharField(
        label=gettext_lazy("API base URL"),
        required=False,
        max_length=_length("api_base_url"),
        widget=forms.TextInput(attrs={**SM, "spellcheck": "false"}),
        help_text=gettext_lazy("The Graph API with its version. Change it only for a test server."),
    )
    phone_number_id = forms.CharField(
        label=gettext_lazy("Phone number id"),
        required=False,
        max_length=_length("phone_number_id"),
        widget=forms.TextInput(attrs={**SM, "inputmode": "numeric", "autocomplete": "off"}),
        help_text=gettext_lazy("WhatsApp Manager › Phone numbers: the id, not the number."),
    )
    access_token = _secret("access_token", gettext_lazy("Access token"))
    remove_access_token = forms.BooleanField(
        label=gettext_lazy("Remove the stored token"), required=False
    )
    verify_token = _secret("verify_token", gettext_lazy("Verify token"))
    app_secret = _secret("app_secret", gettext_lazy("App secret"))
    remove_app_secret = forms.BooleanField(
        label=gettext_lazy("Remove the stored app secret"), required=False
    )
    templates = forms.CharField(
        label=gettext_lazy("Approved templates"),
        required=False,
        widget=forms.Textarea(attrs={**SM, "rows": 4, "spellcheck": "false"}),
        help_text=gettext_lazy(
            "One per line: name | language | text, e.g. follow_up | en_US | Hello, we "
            "have an answer for you. The text is optional (what the ticket shows); write a line "
            "break in it as \\n."
        ),
    )
    media_hosts = forms.CharField(
        label=gettext_lazy("Media hosts"),
        required=False,
        widget=forms.Textarea(attrs={**SM, "rows": 2, "spellcheck": "false"}),
        help_text=gettext_lazy(
            "One per line: the hosts media may be downloaded from besides the API's "
            "own (Meta's CDN, lookaside.fbsbx.com)."
        ),
    )

    def __init__(self, *args, wa: WhatsAppSettings | None, channel: Channel, **kwargs):
        self.wa, self.channel = wa, channel
        shown = wa or WhatsAppSettings(channel=channel)
        initial = {
            "api_base_url": shown.api_base_url,
            "phone_number_id": shown.phone_number_id,
            "templates": templates_text(shown.templates),
            "media_hosts": "\n".join(shown.media_hosts or []),
        }
        super().__init__(*args, initial=initial, **kwargs)
        self.stored = {name: bool(wa and getattr(wa, name)) for name in SECRETS}
        for name in SECRETS:
            field = self.fields[name]
            field.help_text = (STORED_HELP if self.stored[name] else MISSING_HELP)[name]
            if self.stored[name]:
                field.widget.attrs["placeholder"] = gettext("Stored — leave blank to keep")

    def clean_templates(self) -> list[dict]:
        return parse_templates(self.cleaned_data["templates"])

    def clean_media_hosts(self) -> list[str]:
        lines = self.cleaned_data["media_hosts"].splitlines()
        return [line.strip() for line in lines if line.strip()]

    def clean_remove_access_token(self) -> bool:
        return self.stored["access_token"] and self.cleaned_data["remove_access_token"]

    def clean_remove_app_secret(self) -> bool:
        return self.stored["app_secret"] and self.cleaned_data["remove_app_secret"]

    @property
    def typed_secrets(self) -> set[str]:
        """The secrets typed in this POST (not shown again: the page says so)."""
        if not self.is_bound:
            return set()
        return {name for name in SECRETS if self.data.get(self.add_prefix(name))}

    def api_errors(self) -> bool:
        return any(name in self.errors for name in API_FIELDS)


def callback_url(channel: Channel) -> str:
    """The absolute address of the channel's webhook: what Meta is given."""
    return settings.SITE_URL + reverse("whatsapp:webhook", args=[channel.pk])


def verify_token_hint(wa: WhatsAppSettings | None) -> str:
    """The first characters of a long stored verify token ("" for none or a short one)."""
    token = wa.verify_token if wa else ""
    return token[:HINT_CHARACTERS] if len(token) >= HINT_FROM_LENGTH else ""


class WhatsAppPanel(DetailsPanel):
    key = "whatsapp"
    title = "WhatsApp"
    description = gettext_lazy(
        "How this channel reaches the WhatsApp Cloud API, and how Meta reaches it."
    )
    template = "whatsapp/_panel.html"
    intake = KIND
    actions = {"test_token": gettext_lazy("Test the token")}

    def form(self, channel: Channel, data=None) -> WhatsAppPanelForm:
        wa = WhatsAppSettings.objects.filter(channel=channel).first()
        return WhatsAppPanelForm(data, wa=wa, channel=channel)

    def save(self, *, channel: Channel, form: WhatsAppPanelForm, actor: User | None) -> list[dict]:
        return save_whatsapp_settings(channel=channel, data=dict(form.cleaned_data), actor=actor)

    def saved_message(self, changes: list[dict]) -> str:
        if not changes:
            return gettext("WhatsApp settings: nothing changed.")
        return gettext(
            "WhatsApp settings saved. The next reply and the next delivery from Meta use them."
        )

    def run(
        self, action: str, *, channel: Channel, form: WhatsAppPanelForm, actor: User | None
    ) -> ActionResult:
        form.is_valid()  # the typed values, each checked
        if form.api_errors():
            return ActionResult(False, gettext("Fix the fields marked below, then test again."))
        data = form.cleaned_data
        result = check_token(
            stored=form.wa,
            api_base_url=data["api_base_url"],
            phone_number_id=data["phone_number_id"],
            typed_token=data["access_token"],
            remove_token=data.get("remove_access_token", False),
        )
        return ActionResult(result.ok, result.message)

    def context(self, *, channel: Channel, form: WhatsAppPanelForm) -> dict:
        has_verify_token = form.stored["verify_token"]
        return {
            "callback_url": callback_url(channel),
            "verify_hint": verify_token_hint(form.wa),
            "has_verify_token": has_verify_token,
            # A suggestion for a first verify token (nothing stores it).
            "suggested_token": "" if has_verify_token else secrets.token_urlsafe(24),
            "labels": self.actions,
        }
