"""The call settings of a calling channel on its Details tab (a `channels_cfg` panel,
registered in `calls.apps`): Twilio (the auth token, and the two URLs to give Twilio's
phone number), the public address behind a proxy, and how agents are rung and voicemail
recorded.

The form checks types only; `calls.settings_service` saves and refuses. The auth token is a
password field that never renders a value — left blank it keeps the stored token. The URLs
shown are those of the saved settings (`calls.intake.callback_url`), the ones Twilio's
signatures are checked against.
"""

from django import forms
from django.utils.translation import gettext, gettext_lazy

from calls import intake
from calls.models import KIND, CallSettings
from calls.settings_service import LABELS, PLAIN, PREFIX, save_call_settings
from channels_cfg.panels import DetailsPanel
from helpdesk.models import Channel, User

SM = {"class": "form-control-sm"}


def _length(name: str) -> int:
    return CallSettings._meta.get_field(name).max_length


def _seconds(label: str, help_text: str) -> forms.IntegerField:
    return forms.IntegerField(
        label=label,
        help_text=help_text,
        widget=forms.NumberInput(attrs={**SM, "inputmode": "numeric"}),
    )


class CallPanelForm(forms.Form):
    prefix = "calls"  # apart from the Details form's fields and the panel's own keys
    auth_token = forms.CharField(
        label=gettext_lazy("Twilio auth token"),
        required=False,
        max_length=_length("auth_token"),
        widget=forms.PasswordInput(
            render_value=False,
            attrs={**SM, "autocomplete": "new-password", "spellcheck": "false"},
        ),
    )
    remove_auth_token = forms.BooleanField(
        label=gettext_lazy("Remove the stored token"), required=False
    )
    public_base_url = forms.CharField(
        label=gettext_lazy("Public base URL"),
        required=False,
        max_length=_length("public_base_url"),
        widget=forms.TextInput(attrs={**SM, "spellcheck": "false"}),
        help_text=gettext_lazy(
            "The address Twilio calls, e.g. https://help.example.com. Blank: this "
            "installation's SITE_URL."
        ),
    )
    proxy_prefix = forms.CharField(
        label=gettext_lazy("Proxy prefix"),
        required=False,
        max_length=_length("proxy_prefix"),
        widget=forms.TextInput(attrs={**SM, "spellcheck": "false"}),
        help_text=gettext_lazy(
            "The path a proxy in front of the helpdesk adds, e.g. /helpdesk. Blank: none."
        ),
    )
    dial_timeout = _seconds(
        gettext_lazy("Dial timeout (seconds)"),
        gettext_lazy("How long an agent's phone rings before voicemail; 5–120."),
    )
    caller_id = forms.CharField(
        label=gettext_lazy("Caller id"),
        required=False,
        max_length=32,  # spaces allowed here; the number itself has at most 16 characters
        widget=forms.TextInput(attrs={**SM, "inputmode": "tel", "autocomplete": "off"}),
        help_text=gettext_lazy(
            "The number agents see when a call rings them: a Twilio number of yours, "
            "e.g. +4722000000. Blank: the caller's number."
        ),
    )
    voicemail_max_seconds = _seconds(
        gettext_lazy("Longest voicemail (seconds)"),
        gettext_lazy("A voicemail stops recording after this; 5–3600."),
    )

    def __init__(self, *args, call_settings: CallSettings | None, channel: Channel, **kwargs):
        self.call_settings, self.channel = call_settings, channel
        shown = call_settings or CallSettings(channel=channel)
        initial = {name: getattr(shown, name) for name in PLAIN}
        super().__init__(*args, initial=initial, **kwargs)
        self.token_stored = bool(call_settings and call_settings.auth_token)
        token = self.fields["auth_token"]
        if self.token_stored:
            token.help_text = gettext("A token is stored and never shown. Leave blank to keep it.")
            token.widget.attrs["placeholder"] = gettext("Stored — leave blank to keep")
        else:
            token.help_text = gettext(
                "None is stored yet: every webhook from Twilio is refused until it is set. "
                "The Twilio console › Account › API keys & tokens › Auth token."
            )

    def clean_remove_auth_token(self) -> bool:
        return self.token_stored and self.cleaned_data["remove_auth_token"]

    @property
    def token_typed(self) -> bool:
        return self.is_bound and bool(self.data.get(self.add_prefix("auth_token")))


class CallPanel(DetailsPanel):
    key = "calls"
    title = gettext_lazy("Calls")
    description = gettext_lazy("How Twilio reaches this channel, and how it rings the agents.")
    template = "calls/_panel.html"
    intake = KIND
    actions = {}

    def form(self, channel: Channel, data=None) -> CallPanelForm:
        found = CallSettings.objects.filter(channel=channel).first()
        return CallPanelForm(data, call_settings=found, channel=channel)

    def save(self, *, channel: Channel, form: CallPanelForm, actor: User | None) -> list[dict]:
        return save_call_settings(channel=channel, data=dict(form.cleaned_data), actor=actor)

    def saved_message(self, changes: list[dict]) -> str:
        if not changes:
            return gettext("Call settings: nothing changed.")
        address = {f"{PREFIX}{LABELS[name]}" for name in ("public_base_url", "proxy_prefix")}
        if any(change["field"] in address for change in changes):
            return gettext(
                "Call settings saved. The URLs changed: give Twilio the new ones shown below."
            )
        return gettext("Call settings saved. The next call uses them.")

    def context(self, *, channel: Channel, form: CallPanelForm) -> dict:
        shown = form.call_settings or CallSettings(channel=channel)
        return {
            "incoming_url": intake.callback_url(shown, intake.INCOMING),
            "status_url": intake.callback_url(shown, intake.STATUS),
        }
