"""What we answer Twilio, as TwiML built with the `twilio` package. Pure: no database.

- `dial`: ring the agent routing picked; the <Dial>'s action URL tells us how it went.
- `voicemail`: nobody answered, or nobody could be rung — the unanswered-call audio when
  the channel has one, then <Record>.
- `after_hours`: the recorded voicemail greeting, else the after-hours message spoken, then
  <Record>.
- `hang_up`, `empty`: after a recording, and for status callbacks.

Every <Record> names our recording URL as its action (without one Twilio would request the
incoming-call URL again after the recording) and as its status callback, so the voicemail
reaches the ticket whichever of the two arrives first; both carry the same RecordingSid.
"""

from dataclasses import dataclass

from django.utils.translation import gettext, gettext_noop
from twilio.twiml.voice_response import VoiceResponse

# Said when a channel has neither a recorded greeting nor an after-hours message, in the
# active language (the intake's: the deployment's).
DEFAULT_AFTER_HOURS = gettext_noop(
    "We are closed right now. Please leave a message after the tone."
)
DEFAULT_UNANSWERED = gettext_noop(
    "Nobody can take your call right now. Please leave a message after the tone."
)
FALLBACK = gettext_noop(
    "We cannot take your call right now. Please leave a message after the tone."
)


@dataclass(frozen=True)
class Voicemail:
    """A channel's voicemail settings, as absolute URLs and text."""

    recording_url: str  # our /calls/<id>/recording/, public
    max_seconds: int
    unanswered_audio_url: str = ""
    greeting_audio_url: str = ""
    after_hours_message: str = ""


def _record(response: VoiceResponse, voicemail: Voicemail) -> str:
    response.record(
        action=voicemail.recording_url,
        method="POST",
        max_length=voicemail.max_seconds,
        play_beep=True,
        recording_status_callback=voicemail.recording_url,
        recording_status_callback_method="POST",
    )
    response.hangup()
    return str(response)


def dial(*, number: str, action_url: str, timeout: int, caller_id: str = "") -> str:
    response = VoiceResponse()
    ring = response.dial(
        action=action_url, method="POST", timeout=timeout, caller_id=caller_id or None
    )
    ring.number(number)
    return str(response)


def voicemail(vm: Voicemail) -> str:
    """Nobody answered (or nobody could be rung) inside the opening hours."""
    response = VoiceResponse()
    if vm.unanswered_audio_url:
        response.play(vm.unanswered_audio_url)
    else:
        response.say(gettext(DEFAULT_UNANSWERED))
    return _record(response, vm)


def after_hours(vm: Voicemail) -> str:
    response = VoiceResponse()
    if vm.greeting_audio_url:
        response.play(vm.greeting_audio_url)
    else:
        response.say(vm.after_hours_message.strip() or gettext(DEFAULT_AFTER_HOURS))
    return _record(response, vm)


def fallback(vm: Voicemail) -> str:
    """Our processing failed: the caller can still leave a message."""
    response = VoiceResponse()
    response.say(gettext(FALLBACK))
    return _record(response, vm)


def hang_up() -> str:
    response = VoiceResponse()
    response.hangup()
    return str(response)


def empty() -> str:
    return str(VoiceResponse())
