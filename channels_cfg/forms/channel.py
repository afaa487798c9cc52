"""A channel's details, and the form that creates a channel."""

from crispy_bootstrap5.bootstrap5 import Switch
from crispy_forms.helper import FormHelper
from crispy_forms.layout import Field, Layout
from django import forms
from django.utils.translation import gettext, gettext_lazy

from helpdesk.models import Channel


class ChannelDetailsForm(forms.ModelForm):
    class Meta:
        model = Channel
        fields = ["name", "address", "is_active"]
        labels = {"is_active": gettext_lazy("Active")}
        help_texts = {
            "name": gettext_lazy("Shown to agents in the queues and on tickets."),
            "is_active": gettext_lazy(
                "An inactive channel receives no new tickets; its tickets stay."
            ),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.disable_csrf = True
        self.helper.layout = Layout(
            Field("name", css_class="form-control-sm"),
            Field("address", css_class="form-control-sm"),
            Switch("is_active"),
        )


class ChannelCreateForm(ChannelDetailsForm):
    class Meta(ChannelDetailsForm.Meta):
        fields = ["kind", "name", "address", "is_active"]
        help_texts = {
            **ChannelDetailsForm.Meta.help_texts,
            "kind": gettext_lazy(
                "Decides the automation options: team email, forms and WhatsApp assign "
                "tickets; chats have an assignment toggle; calling has opening hours."
            ),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [("", gettext("Choose a kind…")), *Channel.Kind.choices]
        self.helper.layout.fields.insert(0, Field("kind", css_class="form-select-sm"))
