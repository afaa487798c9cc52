"""The public page of a form channel on its Details tab (a `channels_cfg` panel, registered
in `webforms.apps`): where the form lives (its public address and the `<iframe>` snippet
to paste into another site), what it says (title, intro, thank-you text), whether it
takes an attachment, which sites may embed it, and "New public address".

The form converts and checks types only; `webforms.services` saves, refuses and records
the change history. Nothing here is secret: the public id is printed in every page that
embeds the form. The settings row is created the first time the tab is shown (as
everything that asks for a form's settings does), so the address exists to be copied.
"""

from django import forms
from django.conf import settings
from django.utils.translation import gettext, gettext_lazy

from channels_cfg.panels import ActionResult, DetailsPanel
from helpdesk.models import Channel, User
from webforms.limits import KINDS_IN_WORDS, megabytes
from webforms.models import INTAKE, FormSettings, parse_origins
from webforms.services import (
    EDITABLE,
    embed_snippet,
    form_settings_for,
    new_form_address,
    public_url,
    update_form_settings,
)

SM = {"class": "form-control-sm"}


def _length(name: str) -> int:
    return FormSettings._meta.get_field(name).max_length


class FormPanelForm(forms.Form):
    prefix = "form"  # apart from the Details form's fields and the panel's own keys
    title = forms.CharField(
        label=gettext_lazy("Title"),
        required=False,
        max_length=_length("title"),
        widget=forms.TextInput(attrs=SM),
        help_text=gettext_lazy("The page's heading. Blank: the channel's name."),
    )
    intro = forms.CharField(
        label=gettext_lazy("Intro"),
        required=False,
        max_length=_length("intro"),
        widget=forms.Textarea(attrs={**SM, "rows": 3}),
        help_text=gettext_lazy("A short plain text above the fields."),
    )
    thank_you = forms.CharField(
        label=gettext_lazy("Thank-you text"),
        max_length=_length("thank_you"),
        widget=forms.Textarea(attrs={**SM, "rows": 3}),
        help_text=gettext_lazy("What the visitor reads once the form is sent (plain text)."),
        error_messages={
            "required": gettext_lazy("Write what the visitor reads once the form is sent.")
        },
    )
    allow_attachments = forms.BooleanField(
        label=gettext_lazy("Allow attachments"),
        required=False,
    )
    embed_origins = forms.CharField(
        label=gettext_lazy("Sites that may embed the form"),
        required=False,
        widget=forms.Textarea(attrs={**SM, "rows": 3, "spellcheck": "false"}),
        help_text=gettext_lazy(
            "One origin per line, e.g. https://www.example.com (scheme and host only). "
            "Empty: any site may show the form in an iframe."
        ),
    )

    def __init__(self, *args, form_settings: FormSettings, **kwargs):
        self.form_settings = form_settings
        initial = {name: getattr(form_settings, name) for name in EDITABLE}
        super().__init__(*args, initial=initial, **kwargs)
        self.fields["allow_attachments"].help_text = gettext(
            "Offer one optional file of at most %(megabytes)s: %(KINDS_IN_WORDS)s."
        ) % {
            "megabytes": megabytes(settings.FORMS_MAX_ATTACHMENT_BYTES),
            "KINDS_IN_WORDS": KINDS_IN_WORDS,
        }

    def clean_embed_origins(self) -> str:
        # The same rule as the model's, so a bad line is marked before anything is saved.
        return "\n".join(parse_origins(self.cleaned_data["embed_origins"]))


class FormPanel(DetailsPanel):
    key = "webform"
    title = gettext_lazy("Web form")
    description = gettext_lazy(
        "The public page of this channel: where it is, what it says, who may embed it."
    )
    template = "webforms/_panel.html"
    intake = INTAKE
    actions = {"new_address": gettext_lazy("New public address")}

    def form(self, channel: Channel, data=None) -> FormPanelForm:
        row = form_settings_for(channel)
        row.channel = channel  # the snippet's title falls back to the channel's name
        return FormPanelForm(data, form_settings=row)

    def save(self, *, channel: Channel, form: FormPanelForm, actor: User | None) -> list[dict]:
        return update_form_settings(channel=channel, data=dict(form.cleaned_data), actor=actor)

    def saved_message(self, changes: list[dict]) -> str:
        if not changes:
            return gettext("Web form: nothing changed.")
        return gettext("Web form saved. The public page shows it from now on.")

    def run(
        self, action: str, *, channel: Channel, form: FormPanelForm, actor: User | None
    ) -> ActionResult:
        form.form_settings = new_form_address(channel=channel, actor=actor)
        return ActionResult(
            True,
            gettext(
                "The form has a new address (below). The old link and every pasted snippet now "
                "answer “This form does not exist”: replace them with the new ones."
            ),
        )

    def context(self, *, channel: Channel, form: FormPanelForm) -> dict:
        row = form.form_settings
        return {
            "public_url": public_url(row),
            "snippet": embed_snippet(row),
            "labels": self.actions,
        }
