"""The fields of Twilio's voice webhooks we read, validated (validation only).

Twilio sends many more fields (AccountSid, CallerCity, ApiVersion …); they are kept in the
stored event and otherwise ignored. A missing or malformed field we need makes the request
bad input (400): nothing but the quarantined event is written.
"""

from django import forms
from django.utils.translation import gettext, gettext_lazy

CALL_SID = r"^CA[0-9a-fA-F]{32}$"
RECORDING_SID = r"^RE[0-9a-fA-F]{32}$"
# Everything a call can be in; the last four are final.
CALL_STATUSES = (
    "queued",
    "ringing",
    "in-progress",
    "completed",
    "busy",
    "no-answer",
    "failed",
    "canceled",
)
FINAL_STATUSES = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})
DIAL_STATUSES = ("completed", "answered", "busy", "no-answer", "failed", "canceled")
ANSWERED = frozenset({"completed", "answered"})
MAX_SECONDS = 7 * 24 * 3600


def _choices(values):
    return [(v, v) for v in values]


class _CallForm(forms.Form):
    CallSid = forms.RegexField(
        CALL_SID, error_messages={"invalid": gettext_lazy("not a Twilio CallSid")}
    )

    def errors_text(self) -> str:
        return "; ".join(
            f"{field}: {' '.join(str(e) for e in errors)}" for field, errors in self.errors.items()
        )


def _seconds(required: bool = False) -> forms.IntegerField:
    return forms.IntegerField(min_value=0, max_value=MAX_SECONDS, required=required)


class IncomingCallForm(_CallForm):
    From = forms.CharField(max_length=64)  # +4712345678, or "anonymous", "client:…", "sip:…"
    To = forms.CharField(max_length=64, required=False)
    CallStatus = forms.ChoiceField(choices=_choices(CALL_STATUSES), required=False)


class DialForm(_CallForm):
    DialCallStatus = forms.ChoiceField(choices=_choices(DIAL_STATUSES))
    DialCallDuration = _seconds()


class StatusForm(_CallForm):
    CallStatus = forms.ChoiceField(choices=_choices(CALL_STATUSES))
    CallDuration = _seconds()


class RecordingForm(_CallForm):
    RecordingSid = forms.RegexField(
        RECORDING_SID, error_messages={"invalid": gettext_lazy("not a Twilio RecordingSid")}
    )
    RecordingUrl = forms.URLField(max_length=500)
    RecordingDuration = _seconds()
    RecordingStatus = forms.CharField(max_length=20, required=False)

    def clean_RecordingUrl(self) -> str:
        url = self.cleaned_data["RecordingUrl"]
        if not url.startswith(("https://", "http://")):
            raise forms.ValidationError(gettext("the recording's address must be http(s)"))
        return url
