"""The sample ticket the routing preview runs on."""

from django import forms
from django.utils.translation import gettext_lazy

from channels_cfg.forms.formsets import SMALL_INPUT, SMALL_SELECT
from helpdesk.models import Ticket


class PreviewSampleForm(forms.Form):
    """A sample ticket for the routing preview, so skill rules can be tried (R17)."""

    language = forms.CharField(
        label=gettext_lazy("Language"),
        required=False,
        max_length=16,
        widget=forms.TextInput(SMALL_INPUT),
    )
    text = forms.CharField(
        label=gettext_lazy("Subject or message"),
        required=False,
        max_length=500,
        widget=forms.TextInput(SMALL_INPUT),
    )
    priority = forms.TypedChoiceField(
        label=gettext_lazy("Priority"),
        choices=Ticket.Priority.choices,
        coerce=int,
        required=False,
        empty_value=Ticket.Priority.NORMAL,
        initial=Ticket.Priority.NORMAL,
        widget=forms.Select(SMALL_SELECT),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, prefix="sample", **kwargs)
