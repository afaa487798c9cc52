"""Replies by WhatsApp: an agent's reply on a ticket of a WhatsApp channel leaves through the
Graph API exactly once, and what Meta then reports moves its state only forward.

The intent is an `OutboundMessage` (the core's outbox row) with its `WhatsAppOutbound`,
written in the reply's transaction by `queue_reply` (called by `whatsapp.receivers` for
`message_added`) and published after commit. `send` claims the row (QUEUED → SENDING, a
conditional update), POSTs it, and stores the wamid Meta answers as `provider_id` with
SENT. No answer, 429, 5xx or one of Meta's "later" codes (`whatsapp.graph`) queues it again
after the shared backoff (`helpdesk.jobs.backoff_seconds`); any other refusal, or the last
attempt, leaves it FAILED with Meta's words. `stale_outbound_ids` (the sweep) publishes
again queued rows overdue by JOBS_GRACE_SECONDS and re-queues sends interrupted for longer
than WHATSAPP_SENDING_LEASE_SECONDS. The Cloud API has no idempotency key: a send whose
worker died after Meta accepted it and before our commit is sent twice — we chose "at
worst twice" over "possibly never", as for email.

The customer-service window (`window_closes_at`): WhatsApp takes free-form text only
within 24 hours of the customer's last message on the ticket — counted from when they sent
it: the message's `created_at` is Meta's timestamp (`whatsapp.inbound.sent_at`), not when
a worker processed it. Outside it `queue_reply`
refuses the reply with a `ValidationError` — raised inside the reply's transaction, so
nothing of the reply is stored and the ticket page shows the reason — and only an approved
template may be sent (`send_template`).
"""

import logging
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import timedelta

from celery import current_app
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone, translation
from django.utils.formats import number_format
from django.utils.translation import gettext, gettext_noop

from helpdesk import outbox
from helpdesk.channel_kinds import kinds_sending_by
from helpdesk.jobs import backoff_seconds, ring_on_commit
from helpdesk.models import Message, OutboundMessage, Ticket, User
from helpdesk.outbox import TemporaryFailure
from helpdesk.services import reply
from whatsapp import graph
from whatsapp.models import OUTBOUND, WhatsAppOutbound, WhatsAppSettings

log = logging.getLogger(__name__)

Status = OutboundMessage.Status
State = WhatsAppOutbound.State
SEND_TASK = "whatsapp.tasks.send_whatsapp_task"
MAX_ATTEMPTS = outbox.MAX_ATTEMPTS  # the first try and five retries, as for email
MAX_TEXT = 4096  # WhatsApp's limit for one text message
WINDOW = timedelta(hours=24)
# The outbox is shared by every way out (`helpdesk.outbox`): this module claims, sweeps and
# retries only the rows of channels whose replies leave through the Graph API.
WHATSAPP_KINDS = kinds_sending_by(OUTBOUND)
# How far each state is along; a report never moves a message back. A failure counts only
# until the message is known to have arrived (delivered or read prove it did).
STATES = {"sent": 1, "failed": 2, "delivered": 3, "read": 4}
_RANK = {State.ACCEPTED: 0, **STATES}
WINDOW_CLOSED = gettext_noop(
    "The customer last wrote more than 24 hours ago: WhatsApp only lets you send an "
    "approved template."
)

# The template `send_template` is sending: read by `queue_reply` for the reply it writes.
_template: ContextVar[dict | None] = ContextVar("whatsapp_template", default=None)


class Outcome:
    SENT = "sent"
    SKIPPED = "skipped"  # claimed by someone else, already sent, or not a WhatsApp row
    FAILED = "failed"


def sends_by_whatsapp(ticket: Ticket) -> bool:
    channel = ticket.channel
    return channel is not None and channel.policy.outbound == OUTBOUND


def settings_of(channel) -> WhatsAppSettings | None:
    try:
        return channel.whatsapp_settings
    except WhatsAppSettings.DoesNotExist:
        return None


# --- the customer-service window ---------------------------------------------------------


def customer_messages(ticket: Ticket):
    """The customer's WhatsApp messages on the ticket (reactions do not count)."""
    return Message.objects.filter(
        ticket_id=ticket.pk,
        channel_id=ticket.channel_id,
        direction=Message.Direction.INBOUND,
        is_automatic=False,
    ).exclude(external_id="")


def window_closes_at(ticket: Ticket, last_inbound_at=None):
    """When free-form replies stop being accepted (None: the customer never wrote here)."""
    if last_inbound_at is None:
        last_inbound_at = (
            customer_messages(ticket)
            .order_by("-created_at")
            .values_list("created_at", flat=True)
            .first()
        )
    return last_inbound_at + WINDOW if last_inbound_at else None


def window_is_open(ticket: Ticket, *, now=None, last_inbound_at=None) -> bool:
    closes = window_closes_at(ticket, last_inbound_at)
    return closes is not None and (now or timezone.now()) < closes


# --- the intent --------------------------------------------------------------------------


def queue_reply(*, message: Message, ticket: Ticket) -> OutboundMessage | None:
    """Put an agent's reply on a WhatsApp ticket in the outbox, in the caller's transaction,
    and ring the sender after commit. Refuses (ValidationError) free text outside the
    window and text WhatsApp would refuse. No row — the reply stays in the helpdesk — for
    a contact without WhatsApp id or a channel not connected yet (no WhatsApp settings)."""
    if message.direction != Message.Direction.OUTBOUND or not sends_by_whatsapp(ticket):
        return None
    contact = ticket.contact
    if contact is None or not contact.whatsapp_id or settings_of(ticket.channel) is None:
        return None
    template = _template.get()
    if template is None:
        if len(message.body) > MAX_TEXT:
            raise ValidationError(
                gettext(
                    "WhatsApp takes at most %(limit)s characters in one message; this reply "
                    "has %(length)s. Shorten it or send it in parts."
                )
                % {
                    "limit": number_format(MAX_TEXT, force_grouping=True),
                    "length": number_format(len(message.body), force_grouping=True),
                }
            )
        if not window_is_open(ticket):
            raise ValidationError(gettext(WINDOW_CLOSED))
    outbound, created = OutboundMessage.objects.get_or_create(
        message=message, defaults={"channel_id": ticket.channel_id}
    )
    if created:
        WhatsAppOutbound.objects.create(
            outbound=outbound,
            to=contact.whatsapp_id,
            template_name=template["name"] if template else "",
            template_language=template["language"] if template else "",
        )
        ring_on_commit(current_app.tasks[SEND_TASK], outbound_id=outbound.pk)
    return outbound


@contextmanager
def _sending_template(template: dict):
    token = _template.set(template)
    try:
        yield
    finally:
        _template.reset(token)


def send_template(
    *, ticket: Ticket, author: User, name: str, expected_version: int | None = None
) -> Message:
    """Send one of the channel's approved templates as a reply (allowed at any time)."""
    wa = settings_of(ticket.channel) if sends_by_whatsapp(ticket) else None
    if wa is None:
        raise ValidationError(
            gettext("This ticket is not on a WhatsApp channel with WhatsApp settings.")
        )
    if ticket.contact is None or not ticket.contact.whatsapp_id:
        raise ValidationError(gettext("The contact has no WhatsApp id, so nothing can be sent."))
    template = wa.template(name)
    if template is None:
        raise ValidationError(gettext("Choose one of the channel's approved templates."))
    body = template.get("text")
    if not body:  # stored on the ticket: in the deployment's language
        with translation.override(settings.LANGUAGE_CODE):
            body = gettext("Template message “%(name)s” (%(language)s).") % {
                "name": name,
                "language": template["language"],
            }
    with _sending_template(template):
        return reply(ticket=ticket, author=author, body=body, expected_version=expected_version)


# --- sending -----------------------------------------------------------------------------


def request_body(row: WhatsAppOutbound, message: Message) -> dict:
    body = {"messaging_product": "whatsapp", "to": row.to}
    if row.is_template:
        body["type"] = "template"
        body["template"] = {"name": row.template_name, "language": {"code": row.template_language}}
    else:
        body["type"] = "text"
        body["text"] = {"body": message.body}
    return body


def send(*, outbound_id: int) -> str:
    """Send one queued reply, once. Raises `TemporaryFailure` when it is queued again."""
    if not outbox.claim(outbound_id, WHATSAPP_KINDS):
        return Outcome.SKIPPED
    outbound = OutboundMessage.objects.select_related(
        "whatsapp", "message", "channel__whatsapp_settings"
    ).get(pk=outbound_id)
    if not hasattr(outbound, "whatsapp"):  # a row written by other means: no recipient
        outbox.finish(outbound_id, Status.FAILED, "This reply has no WhatsApp recipient.")
        return Outcome.FAILED
    wa = settings_of(outbound.channel)
    if wa is None or not wa.access_token:
        outbox.finish(
            outbound_id, Status.FAILED, "The channel has no WhatsApp settings with a token."
        )
        return Outcome.FAILED
    try:
        wamid = graph.send_message(wa, request_body(outbound.whatsapp, outbound.message))
    except graph.GraphError as exc:
        if not exc.temporary:
            outbox.finish(outbound_id, Status.FAILED, exc.description)
            log.warning("WhatsApp reply %s not sent: %s", outbound_id, exc.description)
            return Outcome.FAILED
        if outbound.attempts >= MAX_ATTEMPTS:
            error = f"Gave up after {outbound.attempts} attempts: {exc.description}"
            outbox.finish(outbound_id, Status.FAILED, error)
            return Outcome.FAILED
        retry_in = backoff_seconds(
            outbound.attempts, base=settings.NOTIFICATIONS_RETRY_BASE_SECONDS
        )
        due_at = timezone.now() + timedelta(seconds=retry_in)
        outbox.finish(outbound_id, Status.QUEUED, exc.description, due_at=due_at)
        raise TemporaryFailure(exc.description, retry_in) from exc
    except Exception as exc:
        outbox.finish(outbound_id, Status.FAILED, f"{type(exc).__name__}: {exc}")
        raise
    outbox.finish(outbound_id, Status.SENT, "", provider_id=wamid[:255])
    return Outcome.SENT


# --- what Meta reports -------------------------------------------------------------------


def _error_text(errors: list[dict]) -> tuple[str, str, str]:
    """(code, title, sentence) of a failed status's first error."""
    first = errors[0] if errors else {}
    code = str(first.get("code", ""))[:32]
    title = str(first.get("title") or first.get("message") or "no reason given")[:500]
    data = first.get("error_data")
    details = str(data.get("details", "")) if isinstance(data, dict) else ""
    sentence = f"WhatsApp did not deliver it: {title}"
    if code:
        sentence += f" (code {code})"
    if details and details not in title:
        sentence += f" — {details}"
    return code, title, sentence[:2000]


def record_status(row: WhatsAppOutbound, *, state: str, at, errors: list[dict]) -> bool:
    """Record one of Meta's reports on a message we sent (the caller holds the row's lock).
    Each state's first time is kept whatever the order; the state itself only moves
    forward. A failure marks the outbox row FAILED with Meta's reason; delivered or read
    after it mark it SENT again. Returns whether the state moved."""
    fields = {f"{state}_at": at} if getattr(row, f"{state}_at") is None else {}
    moved = STATES[state] > _RANK[row.state]
    if moved:
        fields["state"] = state
    if moved and state == State.FAILED:
        code, title, sentence = _error_text(errors)
        fields.update(error_code=code, error_title=title)
        OutboundMessage.objects.filter(pk=row.outbound_id, status=Status.SENT).update(
            status=Status.FAILED, last_error=sentence
        )
    elif moved and row.state == State.FAILED:
        OutboundMessage.objects.filter(pk=row.outbound_id, status=Status.FAILED).update(
            status=Status.SENT, last_error=""
        )
    for name, value in fields.items():
        setattr(row, name, value)
    if fields:
        row.save(update_fields=list(fields))
    return moved


# --- retry and sweep ---------------------------------------------------------------------


def _reset_state(ids: list[int]) -> None:
    """A retried reply is a new message: Meta's reports on the failed one no longer count."""
    WhatsAppOutbound.objects.filter(outbound_id__in=ids).update(
        state=State.ACCEPTED, error_code="", error_title=""
    )


def retry_outbound(*, ids, ticket: Ticket | None = None) -> list[int]:
    """FAILED → QUEUED, due now, sent after commit (a new message: Meta gives it a new
    wamid). With `ticket`, only that ticket's replies. Returns the ids."""
    return outbox.retry(
        ids, kinds=WHATSAPP_KINDS, task_name=SEND_TASK, ticket=ticket, reset=_reset_state
    )


def stale_outbound_ids(*, now=None) -> list[int]:
    """The WhatsApp replies a sweep publishes again (`helpdesk.outbox.stale_ids`): queued
    ones overdue by JOBS_GRACE_SECONDS and sends interrupted for longer than
    WHATSAPP_SENDING_LEASE_SECONDS, queued again first."""
    return outbox.stale_ids(
        kinds=WHATSAPP_KINDS, lease_seconds=settings.WHATSAPP_SENDING_LEASE_SECONDS, now=now
    )
