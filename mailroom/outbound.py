"""Replies by email: an agent's reply leaves through its channel's address exactly once.

The intent is an `OutboundMessage` row, written in the transaction of the reply
(`queue_reply`, called by `mailroom.receivers`) and published after commit. Sending mirrors
`notifications.delivery`: the row is claimed first with a conditional update (QUEUED →
SENDING), so a duplicate or redelivered task sends nothing; a temporary SMTP failure (4xx,
no connection) gives the claim back (QUEUED, `due_at` after a backoff); a permanent refusal
(5xx), the last attempt or an unexpected error leaves it FAILED with the error, for the
thread's Retry button and the admin's Retry action (`retry_outbound`).

The Message-ID is ours, chosen when the row is written and stored in `provider_id` before
anything is sent, so every try of one reply carries the same id: an interrupted send (the
worker died after the claim; `stale_outbound_ids` finds claims older than
`EMAIL_SENDING_LEASE_SECONDS`) is sent again with it, and in the rare case that the first
copy did leave, the customer's mail software sees one message twice, not two messages.

Headers (RFC 5322, RFC 3834): In-Reply-To the customer's latest mail on the ticket,
References the thread's ids oldest first (bounded), Reply-To the ticket's reply address
when there is one, and `Auto-Submitted` on every mail we send, so that the customer's
out-of-office and list software never answer it and two robots cannot start a loop:
`auto-generated` on an agent's reply (a person wrote the text, but the mail is sent by
the helpdesk on their behalf; the customer's own answer carries no such header and threads
back like any mail), `auto-replied` with `X-Auto-Response-Suppress: All` (for Exchange's
responders) and its own subject on an acknowledgement (`mailroom.acknowledge`).
"""

import logging
import secrets
import smtplib
from datetime import timedelta
from email.utils import formataddr

from celery import current_app
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db.models import Q
from django.utils import timezone
from django.utils.html import escape, linebreaks

from helpdesk import outbox
from helpdesk.channel_kinds import kinds_sending_by
from helpdesk.jobs import ring_on_commit
from helpdesk.models import Channel, Message, OutboundMessage, Ticket
from helpdesk.smtp import TemporaryFailure, send_once
from mailroom import acknowledge
from mailroom.inbound import current_directory
from mailroom.models import MailSettings, ReplyToken

log = logging.getLogger(__name__)

Status = OutboundMessage.Status
SEND_TASK = "mailroom.tasks.send_outbound_task"
MAX_ATTEMPTS = outbox.MAX_ATTEMPTS  # tries of one reply before it is left FAILED
# References: the thread's first id and the latest ones (RFC 5322 §3.6.4 allows trimming).
MAX_REFERENCES = 20
# The outbox is shared by every way out (`helpdesk.outbox` holds its rules): this module
# claims, sweeps and retries only the rows of channels whose replies leave by email.
EMAIL_KINDS = kinds_sending_by("email")
# The local part of reply addresses, `reply+<token>@…` (what `mailroom.threading` reads).
REPLY_LOCAL_PART = "reply"


class Outcome:
    SENT = "sent"
    SKIPPED = "skipped"  # claimed by someone else, already sent, or gone
    FAILED = "failed"


# --- who sends, and where answers go ---------------------------------------------------


def mail_settings_for(channel: Channel) -> MailSettings | None:
    """The channel's mail settings (cached on the channel), or None."""
    try:
        return channel.mail_settings
    except MailSettings.DoesNotExist:
        return None


def sender_for(channel: Channel) -> str:
    """The From of a reply: the channel's mail settings (from name and address), else the
    channel's inbox address with its name, else DEFAULT_FROM_EMAIL."""
    mail = mail_settings_for(channel)
    address = (mail.from_address if mail else "") or (channel.address or "").strip()
    if "@" not in address:
        return settings.DEFAULT_FROM_EMAIL
    return formataddr(((mail.from_name if mail else "") or channel.name, address))


def signature_for(channel: Channel) -> str:
    """The channel's signature under every reply ("" when it has none)."""
    mail = mail_settings_for(channel)
    return mail.signature if mail else ""


def reply_address_for(ticket: Ticket) -> str | None:
    """The ticket's unguessable `reply+<token>@<domain>` address for Reply-To, or None.

    Only when the channel answers for `reply@<domain>` (an address in its mail settings, an
    alias of its mailbox with plus-addressing): a Reply-To that no mailbox receives would
    make the customer's answer bounce. Without it, answers thread by In-Reply-To,
    References and the `[#id]` tag of the subject."""
    mail = mail_settings_for(ticket.channel) if ticket.channel else None
    base = next(
        (a for a in (mail.addresses if mail else []) if a.partition("@")[0] == REPLY_LOCAL_PART),
        None,
    )
    if base is None:
        return None
    token = ReplyToken.objects.for_ticket(ticket)
    return f"{REPLY_LOCAL_PART}+{token}@{base.partition('@')[2]}"


def _domain(address: str) -> str:
    return address.rpartition("@")[2].strip("<> ").lower() or "localhost"


def new_message_id(message: Message, channel: Channel) -> str:
    """`<reply.{message}.{random}@{domain of the sender}>`: unique, chosen once per row."""
    domain = _domain(sender_for(channel))
    return f"<reply.{message.pk}.{secrets.token_hex(8)}@{domain}>"


# --- the intent --------------------------------------------------------------------------


def recipient_for(ticket: Ticket) -> tuple[str, str] | None:
    """(name, address) a reply on `ticket` goes to: the contact's address; for a contact
    without one, the address the customer gave on the ticket's first message — a form
    submission whose typed address belongs to another contact keeps it only there
    (`webforms.identity`, rule 4), and the form promised to answer at it. None: no address.
    One query, only for a contact without an address."""
    contact = ticket.contact
    if contact is None:
        return None
    if contact.email:
        return contact.name, contact.email
    given = (
        Message.objects.filter(ticket=ticket, direction=Message.Direction.INBOUND)
        .exclude(sender_address="")
        .order_by("pk")
        .values_list("sender_address", flat=True)
        .first()
    )
    return (contact.name, given) if given else None


def wants_email(message: Message, ticket: Ticket) -> bool:
    """An agent's reply on a ticket of an email channel, to a customer with an address that
    is not one of ours (a channel's address or from address, DEFAULT_FROM_EMAIL: mail to
    ourselves would come back in as mail, `mailroom.inbound.current_directory`)."""
    channel = ticket.channel
    if not (
        message.direction == Message.Direction.OUTBOUND
        and channel is not None
        and channel.policy.outbound == "email"
    ):
        return False
    recipient = recipient_for(ticket)
    return recipient is not None and recipient[1].strip().lower() not in current_directory().ours


def queue_reply(*, message: Message, ticket: Ticket) -> OutboundMessage | None:
    """Put an agent's reply in the outbox, in the caller's transaction, and ring the sender
    after commit. Anything that does not leave by email (a note, a chat reply, a contact
    without address) gets no row. A second call for the same message adds nothing."""
    if not wants_email(message, ticket):
        return None
    outbound, created = OutboundMessage.objects.get_or_create(
        message=message,
        defaults={
            "channel": ticket.channel,
            "provider_id": new_message_id(message, ticket.channel),
        },
    )
    if created:
        _ring_on_commit(outbound.pk)
    return outbound


def _ring_on_commit(outbound_id: int) -> None:
    # By name: the tasks module imports this one (imports go one way).
    ring_on_commit(current_app.tasks[SEND_TASK], outbound_id=outbound_id)


# --- composing ---------------------------------------------------------------------------


def subject_for(ticket: Ticket) -> str:
    """`Re: <subject> [#<id>]` — one "Re:", one tag, whatever the subject already has."""
    subject = " ".join(ticket.subject.split())
    while subject[:3].lower() == "re:":
        subject = subject[3:].lstrip()
    tag = f"[#{ticket.pk}]"
    return f"Re: {subject} {tag}" if tag not in subject else f"Re: {subject}"


def _is_real_id(message_id: str) -> bool:
    """A Message-ID a mail client can know: `<…@…>`, not one invented for a mail without
    one (those use the reserved `.invalid` domain)."""
    return (
        message_id.startswith("<")
        and message_id.endswith(">")
        and "@" in message_id
        and not message_id.lower().endswith(".invalid>")
    )


def thread_ids(outbound: OutboundMessage) -> tuple[str | None, list[str]]:
    """(In-Reply-To, References) of a reply: the customer's latest mail before it, and the
    ids of the thread's mails (theirs and ours that were sent), oldest first, bounded."""
    message = outbound.message
    rows = (
        Message.objects.filter(ticket_id=message.ticket_id, created_at__lte=message.created_at)
        .exclude(pk=message.pk)
        .filter(
            Q(direction=Message.Direction.INBOUND)
            | Q(direction=Message.Direction.OUTBOUND, outbound__status=Status.SENT)
        )
        .order_by("created_at", "id")
        .values_list("direction", "external_id", "outbound__provider_id")
    )
    ids: list[str] = []
    in_reply_to = None
    for direction, external_id, provider_id in rows:
        message_id = external_id if direction == Message.Direction.INBOUND else provider_id
        if not message_id or not _is_real_id(message_id) or message_id in ids:
            continue
        ids.append(message_id)
        if direction == Message.Direction.INBOUND:
            in_reply_to = message_id
    if len(ids) > MAX_REFERENCES:
        ids = [ids[0], *ids[-(MAX_REFERENCES - 1) :]]
    return in_reply_to, ids


def bodies(message: Message, signature: str) -> tuple[str, str]:
    """The text part and the HTML part (the text escaped, with the signature)."""
    text = message.body.rstrip()
    html = f'<div class="reply">{linebreaks(escape(text))}</div>'
    if signature.strip():
        text = f"{text}\n\n-- \n{signature.strip()}"
        html += f'<div class="signature">{linebreaks(escape(signature.strip()))}</div>'
    return f"{text}\n", f"<!doctype html><html><body>{html}</body></html>"


def compose(
    outbound: OutboundMessage, recipient: tuple[str, str] | None = None
) -> EmailMultiAlternatives:
    """The mail of one outbox row, to `recipient` (default: `recipient_for` its ticket)."""
    message = outbound.message
    ticket = message.ticket
    recipient = recipient or recipient_for(ticket)
    if recipient is None:
        raise ValueError(f"Ticket {ticket.pk}: the contact has no email address.")
    in_reply_to, references = thread_ids(outbound)
    headers = {"Message-ID": outbound.provider_id, "Auto-Submitted": "auto-generated"}
    subject = subject_for(ticket)
    if message.is_automatic:  # an acknowledgement (mailroom.acknowledge), not a person
        headers["Auto-Submitted"] = "auto-replied"
        headers["X-Auto-Response-Suppress"] = "All"
        mail_settings = mail_settings_for(outbound.channel)
        if mail_settings is not None:
            subject = acknowledge.subject_of(mail_settings, ticket)
    if in_reply_to:
        headers["In-Reply-To"] = in_reply_to
    if references:
        headers["References"] = " ".join(references)
    reply_to = reply_address_for(ticket)
    text, html = bodies(message, signature_for(outbound.channel))
    email = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=sender_for(outbound.channel),
        to=[formataddr(recipient)],
        reply_to=[reply_to] if reply_to else None,
        headers=headers,
    )
    email.attach_alternative(html, "text/html")
    for attachment in message.attachments.all():
        with attachment.file.open("rb") as f:
            email.attach(attachment.filename, f.read(), attachment.content_type or None)
    return email


# --- sending -----------------------------------------------------------------------------


def send(*, outbound_id: int) -> str:
    """Send one queued reply, once. Raises `TemporaryFailure` when it is queued again."""
    if not outbox.claim(outbound_id, EMAIL_KINDS):
        return Outcome.SKIPPED
    outbound = OutboundMessage.objects.select_related(
        "channel__mail_settings", "message__ticket__contact", "message__ticket__channel"
    ).get(pk=outbound_id)
    if not outbound.provider_id:  # a row written by other means: choose its id before sending
        outbound.provider_id = new_message_id(outbound.message, outbound.channel)
        OutboundMessage.objects.filter(pk=outbound_id).update(provider_id=outbound.provider_id)
    recipient = recipient_for(outbound.message.ticket)
    if recipient is None:
        outbox.finish(outbound_id, Status.FAILED, "The contact has no email address.")
        return Outcome.FAILED
    try:
        attempt = send_once(
            compose(outbound, recipient),
            attempts=outbound.attempts,
            final=outbound.attempts >= MAX_ATTEMPTS,
            base=settings.NOTIFICATIONS_RETRY_BASE_SECONDS,
            explain=_describe,
        )
    except Exception as exc:
        outbox.finish(outbound_id, Status.FAILED, _describe(exc))
        raise
    if attempt.sent:
        outbox.finish(outbound_id, Status.SENT, "")
        return Outcome.SENT
    if attempt.retry_in is None:
        outbox.finish(outbound_id, Status.FAILED, attempt.error)
        log.warning("Reply %s not sent: %s", outbound_id, attempt.error)
        return Outcome.FAILED
    due_at = timezone.now() + timedelta(seconds=attempt.retry_in)
    outbox.finish(outbound_id, Status.QUEUED, attempt.error, due_at=due_at)
    raise TemporaryFailure(attempt.error, attempt.retry_in)


def _describe(exc: BaseException) -> str:
    """The SMTP server's answer in its own words ("550 5.1.1 No such user"), else the error."""

    def answer(code: int, message) -> str:
        text = message.decode("utf-8", "replace") if isinstance(message, bytes) else message
        return f"{code} {' '.join(str(text).split())}"

    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        described = "; ".join(
            f"{address}: {answer(code, message)}"
            for address, (code, message) in exc.recipients.items()
        )
        return f"Recipient refused: {described}"[:2000]
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"SMTP error {answer(exc.smtp_code, exc.smtp_error)}"[:2000]
    return f"{type(exc).__name__}: {exc}"[:2000]


# --- retry and sweep ---------------------------------------------------------------------


def retry_outbound(*, ids, ticket: Ticket | None = None) -> list[int]:
    """FAILED → QUEUED, due now, and sent after commit (the thread's Retry button, the
    admin's Retry action), keeping the Message-ID. With `ticket`, only that ticket's
    replies. Returns the ids."""
    return outbox.retry(ids, kinds=EMAIL_KINDS, task_name=SEND_TASK, ticket=ticket)


def stale_outbound_ids(*, now=None) -> list[int]:
    """The email replies a sweep publishes again (`helpdesk.outbox.stale_ids`): queued ones
    overdue by JOBS_GRACE_SECONDS, and sends interrupted for longer than
    EMAIL_SENDING_LEASE_SECONDS, queued again with their Message-ID."""
    return outbox.stale_ids(
        kinds=EMAIL_KINDS, lease_seconds=settings.EMAIL_SENDING_LEASE_SECONDS, now=now
    )
