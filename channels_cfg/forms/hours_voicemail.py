"""Opening hours and voicemail on the Automation form (R19), for the kinds whose policy has
them: the hours per weekday in a time zone, the audio for unanswered calls, and the voicemail
message (or recorded greeting) after hours."""

import zoneinfo

from crispy_forms.layout import HTML, Field
from django import forms
from django.core.files.uploadedfile import UploadedFile
from django.utils.functional import lazy
from django.utils.translation import gettext, gettext_lazy

from channels_cfg.forms.audio import audio_field
from channels_cfg.forms.formsets import OpeningHoursFormSet, report_formset_errors
from channels_cfg.forms.layout import AFTER_HOURS_NOTE, note, section
from channels_cfg.models import AUDIO_MAX_BYTES, FILE, setting_names

FILES = setting_names(FILE)
MAX_MIB = AUDIO_MAX_BYTES // (1024 * 1024)


def _unanswered_audio_help() -> str:
    return gettext(
        "Played when nobody answers; the call then goes to voicemail. "
        "MP3, WAV, OGG or M4A, at most %(max_mib)s MiB."
    ) % {"max_mib": MAX_MIB}


def _greeting_help() -> str:
    return gettext(
        "Optional: played instead of reading the message above. "
        "MP3, WAV, OGG or M4A, at most %(max_mib)s MiB."
    ) % {"max_mib": MAX_MIB}


# Help texts with a number, translated when shown (a lazy % would translate at import).
unanswered_audio_help = lazy(_unanswered_audio_help, str)
greeting_help = lazy(_greeting_help, str)


class HoursAndVoicemailFields(forms.Form):
    """A part of `AutomationForm`, which sets `self.policy`, `self.stored` and
    `self.automation`."""

    opening_hours_time_zone = forms.ChoiceField(
        label=gettext_lazy("Time zone"),
        choices=[(z, z) for z in sorted(zoneinfo.available_timezones())],
        help_text=gettext_lazy("The opening hours are read in this time zone."),
    )
    unanswered_call_audio = audio_field(
        gettext_lazy("Audio message for unanswered calls"), unanswered_audio_help()
    )
    after_hours_message = forms.CharField(
        label=gettext_lazy("Voicemail message"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy("Read to callers after hours before they leave a voicemail."),
    )
    voicemail_greeting = audio_field(gettext_lazy("Recorded voicemail greeting"), greeting_help())

    def _initial_files(self) -> dict:
        return {name: getattr(self.automation, name) or None for name in FILES}

    def _setup_hours(self, data) -> None:
        self.hours = None
        if self.policy.opening_hours:
            self.hours = OpeningHoursFormSet(
                data, prefix="hours", initial=self.stored["opening_hours"]
            )

    def _check_hours(self) -> None:
        if self.hours is not None:
            report_formset_errors(self, "hours", self.hours)

    def _hours_and_files_data(self, cleaned: dict) -> dict:
        """The hours as entered; files: an upload, False to remove the file, None to keep it."""
        data = {}
        if self.hours is not None:
            data["opening_hours"] = self.hours.rows()
        for name in FILES:
            if name in self.fields:
                value = cleaned.get(name)
                data[name] = value if isinstance(value, UploadedFile) or value is False else None
        return data

    # --- layout -----------------------------------------------------------------------

    def _opening_hours_sections(self) -> list:
        if not self.policy.opening_hours:
            return []
        return [
            section(
                gettext("Opening hours"),
                Field("opening_hours_time_zone", css_class="form-select-sm cs-tz"),
                HTML('{% include "channels_cfg/_hours.html" %}'),
            )
        ]

    def _voicemail_sections(self) -> list:
        if not self.policy.voicemail:
            return []
        return [
            section(gettext("Unanswered calls"), Field("unanswered_call_audio")),
            section(
                gettext("Routing after hours"),
                note(AFTER_HOURS_NOTE),
                "after_hours_message",
                Field("voicemail_greeting"),
            ),
        ]
