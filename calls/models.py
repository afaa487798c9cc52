"""The rows of phone calls (Twilio's voice webhooks): a calling channel's `CallSettings` and
one `Call` per CallSid.

`CallSettings.auth_token` is a secret (Twilio signs every webhook with it). **No page may
render it back into HTML**: the admin shows an empty password field that keeps the stored
value when left blank (`calls/admin.py`).

A `Call` is what the incoming-call webhook decided, kept so that a redelivered webhook
answers exactly the same TwiML, and what the later callbacks (the dial's outcome, the
call's final status, the voicemail) learned about it.
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils.translation import gettext, gettext_lazy

from helpdesk.models import Channel, Ticket
from helpdesk.models.users import validate_e164

KIND = "call"  # `KindPolicy.intake` of the kinds whose input these webhooks take

validate_prefix = RegexValidator(
    r"^(/[A-Za-z0-9._~-]+)*/?$",
    gettext_lazy("A path such as /helpdesk (or blank): what your proxy puts before /calls/…."),
)


class CallSettings(models.Model):
    """How Twilio reaches one calling channel, and how it dials the agents."""

    channel = models.OneToOneField(Channel, on_delete=models.CASCADE, related_name="call_settings")
    auth_token = models.CharField(
        max_length=128,
        blank=True,
        help_text=gettext_lazy(
            "The Twilio account's auth token: every webhook's X-Twilio-Signature is "
            "checked with it. Without it every webhook is refused."
        ),
    )
    public_base_url = models.URLField(
        blank=True,
        help_text=gettext_lazy(
            "The address Twilio calls, e.g. https://help.example.com (blank: SITE_URL)."
        ),
    )
    proxy_prefix = models.CharField(
        max_length=100,
        blank=True,
        validators=[validate_prefix],
        help_text=gettext_lazy(
            "The path a proxy in front of the helpdesk adds and strips, e.g. /helpdesk."
        ),
    )
    dial_timeout = models.PositiveSmallIntegerField(
        default=20,
        validators=[MinValueValidator(5), MaxValueValidator(120)],
        help_text=gettext_lazy(
            "Seconds an agent's phone rings before the caller goes to voicemail."
        ),
    )
    caller_id = models.CharField(
        max_length=16,
        blank=True,
        validators=[validate_e164],
        help_text=gettext_lazy(
            "The number agents see when a call rings them (a Twilio number of yours); "
            "blank: the caller's number."
        ),
    )
    voicemail_max_seconds = models.PositiveSmallIntegerField(
        default=120,
        validators=[MinValueValidator(5), MaxValueValidator(3600)],
        help_text=gettext_lazy("The longest voicemail recorded, in seconds."),
    )

    class Meta:
        verbose_name = gettext_lazy("call settings")
        verbose_name_plural = gettext_lazy("call settings")

    def __str__(self) -> str:
        return gettext("Call settings of %(channel)s") % {"channel": self.channel}

    def clean(self) -> None:
        if self.channel_id and self.channel.policy.intake != KIND:
            raise ValidationError(
                {"channel": gettext("Call settings belong to a calling channel.")}
            )

    @property
    def public_root(self) -> str:
        """Scheme, host and the proxy's prefix: what comes before our own paths."""
        base = (self.public_base_url or settings.SITE_URL).rstrip("/")
        prefix = self.proxy_prefix.strip().strip("/")
        return f"{base}/{prefix}" if prefix else base

    def public_url(self, path: str) -> str:
        """The address Twilio uses for one of our paths (`/calls/…`, `/media/…`)."""
        if path.startswith(("http://", "https://")):
            return path
        return self.public_root + "/" + path.lstrip("/")


class Call(models.Model):
    """One incoming call (Twilio's CallSid) on a channel, its ticket and what we answered."""

    class Answer(models.TextChoices):
        DIAL = "dial", gettext_lazy("Rang the agent routing picked")
        NOBODY = "nobody", gettext_lazy("Voicemail: nobody to ring")
        AFTER_HOURS = "after_hours", gettext_lazy("Voicemail: after hours")
        FALLBACK = "fallback", gettext_lazy("Voicemail: the call could not be processed")
        BUSY = "busy", gettext_lazy("Voicemail: routing waited too long for a lock")

    channel = models.ForeignKey(Channel, on_delete=models.PROTECT, related_name="+")
    call_sid = models.CharField(max_length=34)
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="+")
    from_number = models.CharField(max_length=64)
    to_number = models.CharField(max_length=64, blank=True)
    answer = models.CharField(max_length=12, choices=Answer)
    dialled_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    dialled_number = models.CharField(max_length=16, blank=True)
    twiml = models.TextField(
        help_text=gettext_lazy("What the incoming-call webhook answered (and answers again).")
    )
    # The <Dial>'s outcome (its action callback): DialCallStatus, DialCallDuration.
    dial_status = models.CharField(max_length=16, blank=True)
    dial_duration = models.PositiveIntegerField(null=True, blank=True)
    dial_twiml = models.TextField(blank=True)
    # The call's final status callback: CallStatus, CallDuration.
    status = models.CharField(max_length=16, blank=True)
    duration = models.PositiveIntegerField(null=True, blank=True)
    recording_sid = models.CharField(max_length=34, blank=True)
    recording_url = models.URLField(max_length=500, blank=True)
    recording_duration = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["channel", "call_sid"], name="call_once_per_channel"),
        ]

    def __str__(self) -> str:
        return gettext("Call %(sid)s from %(number)s") % {
            "sid": self.call_sid,
            "number": self.from_number,
        }
