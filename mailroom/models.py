"""Email's own rows: a team-email channel's mail settings and the tickets' reply tokens.

`MailSettings` holds secrets — the IMAP password (kept as given: the poller must log in
with it) and the HTTP endpoint's token (only its SHA-256, like `ApiToken`). **No page may
render `imap_secret` or `endpoint_token_hash` back into HTML**: a settings form shows an
empty password field that keeps the stored value when left blank, and a new endpoint token
is shown once, when it is set.
"""

import hashlib
import secrets
from base64 import b32encode

from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.utils.translation import gettext, gettext_lazy, gettext_noop

from helpdesk.models import Channel, Ticket
from helpdesk.services.contacts import normalize_email

# The acknowledgement's templates: text with `{{ name }}` placeholders for five plain
# strings (`mailroom.acknowledge.PLACEHOLDERS`), substituted — not Django templates.
# Kept in English in the database; a template still equal to its default is sent in the
# deployment's language (`default_text`).
DEFAULT_ACK_SUBJECT = gettext_noop("We received your request [#{{ ticket_number }}]")
DEFAULT_ACK_BODY = gettext_noop(
    "Hello {{ contact_name }},\n\n"
    "Thank you for writing to {{ channel_name }}. Your request “{{ subject }}” is ticket "
    "#{{ ticket_number }}; we will answer you as soon as we can.\n\n"
    "To add something, reply to this mail and keep the ticket number in the subject."
)


def default_text(value: str, default: str) -> str:
    """`value`, or the default translated when it is blank or still the (English) default."""
    value = value.strip()
    return gettext(default) if not value or value == default else value


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class MailSettings(models.Model):
    """How one team-email channel receives (IMAP, pipe or HTTP) and sends mail."""

    class Security(models.TextChoices):
        SSL = "ssl", gettext_lazy("TLS from the start (IMAPS, port 993)")
        STARTTLS = "starttls", gettext_lazy("STARTTLS (port 143)")
        NONE = "none", gettext_lazy("None (loopback or tests only)")

    class AfterFetch(models.TextChoices):
        SEEN = "seen", gettext_lazy(r"Flag it \Seen")
        MOVE = "move", gettext_lazy("Move it to a folder")

    channel = models.OneToOneField(
        Channel,
        on_delete=models.CASCADE,
        related_name="mail_settings",
        limit_choices_to={"kind": Channel.Kind.TEAM_EMAIL},
    )
    addresses = models.JSONField(
        default=list,
        blank=True,
        help_text=gettext_lazy(
            "Addresses this channel answers for (lower-case), e.g. support@example.com."
        ),
    )
    imap_host = models.CharField(max_length=255, blank=True)
    imap_port = models.PositiveIntegerField(default=993)
    imap_security = models.CharField(max_length=8, choices=Security, default=Security.SSL)
    imap_user = models.CharField(max_length=255, blank=True)
    imap_secret = models.CharField(
        max_length=255, blank=True, help_text=gettext_lazy("Never shown again once saved.")
    )
    imap_folder = models.CharField(max_length=255, default="INBOX")
    after_fetch = models.CharField(max_length=4, choices=AfterFetch, default=AfterFetch.SEEN)
    processed_folder = models.CharField(
        max_length=255,
        blank=True,
        default="Helpdesk",
        help_text=gettext_lazy("Where fetched mail is moved."),
    )
    uidvalidity = models.BigIntegerField(null=True, blank=True, editable=False)
    last_uid = models.BigIntegerField(default=0, editable=False)
    last_poll_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_poll_error = models.TextField(blank=True, editable=False)
    endpoint_token_hash = models.CharField(max_length=64, blank=True, editable=False)
    endpoint_token_prefix = models.CharField(max_length=8, blank=True, editable=False)
    from_name = models.CharField(max_length=200, blank=True)
    from_address = models.EmailField(blank=True)
    signature = models.TextField(blank=True)
    acknowledge = models.BooleanField(
        default=False,
        help_text=gettext_lazy(
            "Answer each new ticket from a person with the acknowledgement below."
        ),
    )
    ack_subject = models.CharField(max_length=255, blank=True, default=DEFAULT_ACK_SUBJECT)
    ack_body = models.TextField(blank=True, default=DEFAULT_ACK_BODY)

    class Meta:
        verbose_name = gettext_lazy("mail settings")
        verbose_name_plural = gettext_lazy("mail settings")

    def __str__(self) -> str:
        return gettext("Mail settings of %(channel)s") % {"channel": self.channel}

    def clean(self) -> None:
        if self.channel_id and self.channel.kind != Channel.Kind.TEAM_EMAIL:
            raise ValidationError(
                {"channel": gettext("Mail settings belong to a team-email channel.")}
            )
        self.addresses = sorted({normalize_email(a) for a in self.addresses or [] if a.strip()})

    @property
    def polls_imap(self) -> bool:
        return bool(self.imap_host and self.imap_user)

    def set_endpoint_token(self) -> str:
        """A new token for the HTTP endpoint; returns the raw value (show it once)."""
        raw = secrets.token_urlsafe(32)
        self.endpoint_token_hash = hash_token(raw)
        self.endpoint_token_prefix = raw[:8]
        return raw

    def endpoint_token_matches(self, raw: str) -> bool:
        if not self.endpoint_token_hash or not raw:
            return False
        return secrets.compare_digest(hash_token(raw), self.endpoint_token_hash)


def new_reply_token() -> str:
    """160 random bits as 32 lower-case letters and digits (base32): unguessable, and
    intact through mail systems that lower-case local parts."""
    return b32encode(secrets.token_bytes(20)).decode().lower().rstrip("=")


class ReplyTokenManager(models.Manager):
    def for_ticket(self, ticket: Ticket) -> str:
        """The ticket's token (for the `reply+<token>@…` Reply-To), created when first needed."""
        found = self.filter(ticket=ticket).values_list("token", flat=True).first()
        if found:
            return found
        try:
            with transaction.atomic():
                return self.create(ticket=ticket, token=new_reply_token()).token
        except IntegrityError:  # created concurrently
            return self.filter(ticket=ticket).values_list("token", flat=True).get()


class ReplyToken(models.Model):
    """The unguessable token of a ticket's reply address: a mail to `reply+<token>@…`
    threads into this ticket whatever its headers say."""

    ticket = models.OneToOneField(Ticket, on_delete=models.CASCADE, related_name="reply_token")
    token = models.CharField(max_length=64, unique=True, default=new_reply_token)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ReplyTokenManager()

    def __str__(self) -> str:
        return gettext("Reply token of #%(ticket)s") % {"ticket": self.ticket_id}


class AutoReply(models.Model):
    """One automatic answer we sent (an acknowledgement): what the per-sender and
    per-domain limits count (`mailroom.acknowledge`), in PostgreSQL so every worker sees
    the same counts."""

    address = models.CharField(max_length=320)
    domain = models.CharField(max_length=255)
    ticket = models.ForeignKey(Ticket, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["address", "created_at"], name="autoreply_address_idx"),
            models.Index(fields=["domain", "created_at"], name="autoreply_domain_idx"),
        ]

    def __str__(self) -> str:
        return gettext("Automatic answer to %(address)s") % {"address": self.address}
