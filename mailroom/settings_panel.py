"""The mail settings of a team-email channel on its Details tab (a `channels_cfg` panel,
registered in `mailroom.apps`): Receiving (the addresses it answers for, IMAP, the HTTP
endpoint), Sending (from name and address, signature) and Acknowledgement.

The form validates types only; `mailroom.mail_settings` saves and refuses. The IMAP secret
is a password field that never renders a value — left blank it keeps the stored secret —
and a new endpoint token is shown once, by the action that sets it. "Test connection"
(`mailroom.connection_check`) uses the values as typed, and the stored secret when none is
typed — only for the saved host and user: the stored secret is never sent to another
server, which anyone able to open the page could type.
"""

from email.utils import parseaddr

from django import forms
from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext, gettext_lazy

from channels_cfg.panels import ActionResult, DetailsPanel
from helpdesk.models import Channel, User
from mailroom import connection_check
from mailroom.acknowledge import PLACEHOLDERS
from mailroom.mail_settings import EDITABLE, new_endpoint_token, save_mail_settings
from mailroom.models import DEFAULT_ACK_BODY, DEFAULT_ACK_SUBJECT, MailSettings

SM = {"class": "form-control-sm"}
SELECT_SM = {"class": "form-select-sm"}
IMAP_FIELDS = ("imap_host", "imap_port", "imap_security", "imap_user", "imap_secret", "imap_folder")
# The acknowledgement's defaults are stored in English and shown in the page's language:
# sent back unchanged, they are the default again (`mailroom.models.default_text`).
ACK_DEFAULTS = {"ack_subject": DEFAULT_ACK_SUBJECT, "ack_body": DEFAULT_ACK_BODY}


def _length(name: str) -> int:
    return MailSettings._meta.get_field(name).max_length


def _text(name: str, label: str, help_text: str = "", **attrs) -> forms.CharField:
    return forms.CharField(
        label=label,
        required=False,
        max_length=_length(name),
        help_text=help_text,
        widget=forms.TextInput(attrs={**SM, **attrs}),
    )


class MailPanelForm(forms.Form):
    prefix = "mail"  # apart from the Details form's fields and the panel's own keys
    addresses = forms.CharField(
        label=gettext_lazy("Addresses it answers for"),
        required=False,
        widget=forms.Textarea(attrs={**SM, "rows": 3, "spellcheck": "false"}),
        help_text=gettext_lazy(
            "One per line. Mail to any of them becomes a ticket of this channel."
        ),
    )
    imap_host = _text(
        "imap_host", gettext_lazy("IMAP host"), placeholder=gettext_lazy("imap.example.com")
    )
    imap_port = forms.IntegerField(
        label=gettext_lazy("Port"), min_value=1, max_value=65535, widget=forms.NumberInput(attrs=SM)
    )
    imap_security = forms.ChoiceField(
        label=gettext_lazy("Security"),
        choices=MailSettings.Security.choices,
        widget=forms.Select(attrs=SELECT_SM),
    )
    imap_user = _text("imap_user", gettext_lazy("User"), autocomplete="off")
    imap_secret = forms.CharField(
        label=gettext_lazy("Secret"),
        required=False,
        max_length=_length("imap_secret"),
        strip=False,
        widget=forms.PasswordInput(
            render_value=False, attrs={**SM, "autocomplete": "new-password"}
        ),
    )
    remove_secret = forms.BooleanField(
        label=gettext_lazy("Remove the stored secret"), required=False
    )
    imap_folder = _text(
        "imap_folder", gettext_lazy("Folder"), help_text=gettext_lazy("Blank: INBOX.")
    )
    after_fetch = forms.ChoiceField(
        label=gettext_lazy("After fetching a mail"),
        choices=MailSettings.AfterFetch.choices,
        widget=forms.Select(attrs=SELECT_SM),
    )
    processed_folder = _text(
        "processed_folder",
        gettext_lazy("Move to folder"),
        help_text=gettext_lazy("When moving; created if missing."),
    )
    from_name = _text(
        "from_name", gettext_lazy("From name"), help_text=gettext_lazy("Blank: the channel's name.")
    )
    from_address = forms.EmailField(
        label=gettext_lazy("From address"),
        required=False,
        max_length=_length("from_address"),
        widget=forms.EmailInput(attrs=SM),
        help_text=gettext_lazy("Blank: the channel's address."),
    )
    signature = forms.CharField(
        label=gettext_lazy("Signature"),
        required=False,
        widget=forms.Textarea(attrs={**SM, "rows": 3}),
        help_text=gettext_lazy("Added under every reply."),
    )
    acknowledge = forms.BooleanField(label=gettext_lazy("Acknowledge new tickets"), required=False)
    ack_subject = _text("ack_subject", gettext_lazy("Subject"))
    ack_body = forms.CharField(
        label=gettext_lazy("Body"), required=False, widget=forms.Textarea(attrs={**SM, "rows": 6})
    )

    def __init__(self, *args, mail_settings: MailSettings | None, channel: Channel, **kwargs):
        self.mail_settings, self.channel = mail_settings, channel
        shown = mail_settings or MailSettings(channel=channel)
        initial = {name: getattr(shown, name) for name in EDITABLE}
        initial["addresses"] = "\n".join(shown.addresses or [])
        for name, default in ACK_DEFAULTS.items():
            if initial[name] == default:
                initial[name] = gettext(default)
        super().__init__(*args, initial=initial, **kwargs)
        self.secret_stored = bool(mail_settings and mail_settings.imap_secret)
        secret = self.fields["imap_secret"]
        if self.secret_stored:
            secret.help_text = gettext(
                "A secret is stored and never shown. Leave blank to keep it."
            )
            secret.widget.attrs["placeholder"] = gettext("Stored — leave blank to keep")
        else:
            secret.help_text = gettext("No secret is stored yet.")

    def clean_addresses(self) -> list[str]:
        return [
            line.strip() for line in self.cleaned_data["addresses"].splitlines() if line.strip()
        ]

    def clean_remove_secret(self) -> bool:
        return self.secret_stored and self.cleaned_data["remove_secret"]  # shown only then

    def _ack_text(self, name: str) -> str:
        value = self.cleaned_data[name]
        default = ACK_DEFAULTS[name]
        return default if value.replace("\r\n", "\n").strip() == gettext(default) else value

    def clean_ack_subject(self) -> str:
        return self._ack_text("ack_subject")

    def clean_ack_body(self) -> str:
        return self._ack_text("ack_body")

    def clean_imap_folder(self) -> str:
        return self.cleaned_data["imap_folder"] or "INBOX"

    @property
    def secret_typed(self) -> bool:
        return self.is_bound and bool(self.data.get(self.add_prefix("imap_secret")))

    def imap_errors(self) -> bool:
        return any(name in self.errors for name in IMAP_FIELDS)


class MailPanel(DetailsPanel):
    key = "mail"
    title = gettext_lazy("Mail")
    description = gettext_lazy("How this channel receives mail and how its replies leave.")
    template = "mailroom/_mail_panel.html"
    intake = "email"
    actions = {
        "test_imap": gettext_lazy("Test connection"),
        "test_smtp": gettext_lazy("Test sending"),
        "new_token": gettext_lazy("New endpoint token"),
    }

    def form(self, channel: Channel, data=None) -> MailPanelForm:
        mail = MailSettings.objects.filter(channel=channel).first()
        return MailPanelForm(data, mail_settings=mail, channel=channel)

    def save(self, *, channel: Channel, form: MailPanelForm, actor: User | None) -> list[dict]:
        return save_mail_settings(channel=channel, data=dict(form.cleaned_data), actor=actor)

    def saved_message(self, changes: list[dict]) -> str:
        if not changes:
            return gettext("Mail settings: nothing changed.")
        return gettext("Mail settings saved. The next fetch and the next reply use them.")

    def run(
        self, action: str, *, channel: Channel, form: MailPanelForm, actor: User | None
    ) -> ActionResult:
        if action == "new_token":
            form.mail_settings, raw = new_endpoint_token(channel=channel, actor=actor)
            return ActionResult(
                True,
                gettext(
                    "A new endpoint token is set; the previous one no longer works. Copy it "
                    "now: it is shown only this once."
                ),
                reveal=raw,
            )
        form.is_valid()  # the typed values, each checked
        if action == "test_imap":
            return self._test_imap(form)
        return self._test_smtp(form)

    def _test_imap(self, form: MailPanelForm) -> ActionResult:
        if form.imap_errors():
            return ActionResult(False, gettext("Fix the fields marked below, then test again."))
        data = form.cleaned_data
        if not data["imap_host"] and not data["imap_user"]:
            return ActionResult(False, gettext("Enter the IMAP host and user first."))
        if not data["imap_host"]:
            return ActionResult(False, gettext("Enter the IMAP host first."))
        if not data["imap_user"]:
            return ActionResult(False, gettext("Enter the IMAP user first."))
        secret = data["imap_secret"]
        saved = form.mail_settings
        if not secret and not data["remove_secret"] and saved and saved.imap_secret:
            if not _same_mailbox(saved, host=data["imap_host"], user=data["imap_user"]):
                return ActionResult(
                    False,
                    gettext(
                        "Type the secret to test a different server: the stored secret is used "
                        "only with the saved host and user."
                    ),
                )
            secret = saved.imap_secret
        if not secret:
            return ActionResult(False, gettext("Type the secret first: none is stored."))
        target = connection_check.ImapTarget(
            host=data["imap_host"],
            port=data["imap_port"],
            security=data["imap_security"],
            user=data["imap_user"],
            secret=secret,
            folder=data["imap_folder"],
        )
        result = connection_check.check_imap(target)
        return ActionResult(result.ok, result.message)

    def _test_smtp(self, form: MailPanelForm) -> ActionResult:
        if "from_address" in form.errors:
            return ActionResult(False, gettext("Fix the from address, then test again."))
        result = connection_check.check_smtp(sender=envelope_sender(form))
        return ActionResult(result.ok, result.message)

    def context(self, *, channel: Channel, form: MailPanelForm) -> dict:
        mail = form.mail_settings
        server = connection_check.smtp_server()
        path = reverse("mail-inbound", args=[channel.pk])
        return {
            "mail": mail,
            "endpoint_url": f"{settings.SITE_URL}{path}",
            "token_prefix": mail.endpoint_token_prefix if mail else "",
            "smtp": server,
            "not_smtp": "" if server else connection_check.not_smtp_text(),
            "placeholders": [f"{{{{ {name} }}}}" for name in PLACEHOLDERS],
            "labels": self.actions,
        }


def _same_mailbox(saved: MailSettings, *, host: str, user: str) -> bool:
    """The typed host (case aside) and user are the saved ones."""
    return (host.strip().lower(), user.strip()) == (
        saved.imap_host.strip().lower(),
        saved.imap_user.strip(),
    )


def envelope_sender(form: MailPanelForm) -> str:
    """The address a test MAIL FROM uses: the from address as typed, else — as a reply's
    From (`mailroom.outbound.sender_for`) — the channel's address, else DEFAULT_FROM_EMAIL."""
    typed = (form.cleaned_data.get("from_address") or "").strip()
    if typed:
        return typed
    address = (form.channel.address or "").strip()
    return address if "@" in address else parseaddr(settings.DEFAULT_FROM_EMAIL)[1]
