"""Twilio's voice webhooks, raw first: check, store, process, answer (issue 12, R12, R19).

`receive(call_settings=…, webhook=…)` is the one entry of the four endpoints
(`calls/views.py` only parses the HTTP request):

1. **Signature** — `X-Twilio-Signature` checked with the `twilio` package's
   `RequestValidator` against the public URL Twilio called (`CallSettings.public_url`: base
   URL + proxy prefix + our path). A mismatch is refused (403) and kept as an IGNORED event,
   so a misconfigured token or a forger shows in the admin — as a sample, since anyone can
   post: at most `CALLS_REJECTIONS_PER_HOUR` per channel and hour (`rejected:<hour>:<slot>`,
   the slot a hash of the request; one insert, no counting; 0 keeps none). The same refused
   request twice is one row. (One rule for every webhook:
   `helpdesk.services.intake.rejection_sample_id`, which WhatsApp's webhook uses too.)
2. **Shape** — the fields we read (`calls.forms`); a signed request without them is bad
   input (400), kept QUARANTINED (`invalid:<sha256>`) and nothing else is written.
3. **Raw first** — `store_inbound(kind="call")` with the source's own id: the CallSid for an
   incoming call, `dial:<CallSid>`, `status:<CallSid>:<CallStatus>`,
   `recording:<RecordingSid>`; then `process_inbound` with `handle_call_event`, right here
   in the request: a caller is waiting for the answer. A redelivery stores nothing and is
   not processed again.
4. **Answer** — the TwiML the `Call` row keeps (`Call.twiml`, `Call.dial_twiml`): a
   redelivered webhook gets exactly what the first delivery got.

An incoming call (`handle_incoming`): the contact by `Contact.phone` (the caller's E.164
number as given) or a new one, a Calls ticket (`create_ticket`, external id = CallSid), the
routing engine's one decision for it right now (`routing.engine.route_ticket`, the entry the
Celery task uses — the `route_ticket_task` that `ticket_created` publishes finds it routed),
then the answer: after hours (`RoutingConfig.is_open_at`, the opening-hours rule) the
greeting and <Record>; inside them <Dial> the owner routing picked, if they have a phone
number, else voicemail. The callbacks write a readable message on the ticket, once.

Should processing fail, the caller still hears `answers.fallback` and can leave a message;
the event is FAILED and can be retried from the admin. An event left RECEIVED (the web
process died) is processed by `calls.tasks.process_call_task`, published by the intake
sweep (`settings.INTAKE_TASKS["call"]`).
"""

import hashlib
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from django.conf import settings
from django.db import OperationalError, connection
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext
from twilio.request_validator import RequestValidator

from calls import answers, wording
from calls.forms import (
    ANSWERED,
    FINAL_STATUSES,
    DialForm,
    IncomingCallForm,
    RecordingForm,
    StatusForm,
)
from calls.models import KIND, Call, CallSettings
from channels_cfg.models import ChannelAutomation
from helpdesk.models import Channel, Contact, InboundEvent, Message, Ticket, User
from helpdesk.services import add_inbound_message, create_ticket
from helpdesk.services.intake import (
    Outcome,
    Quarantine,
    process_inbound,
    rejection_sample_id,
    store_inbound,
)
from routing.config import RoutingConfig
from routing.engine import route_ticket

log = logging.getLogger(__name__)

INCOMING, DIAL, STATUS, RECORDING = "incoming", "dial", "status", "recording"
REJECTED, INVALID = "rejected", "invalid"
FORMS = {INCOMING: IncomingCallForm, DIAL: DialForm, STATUS: StatusForm, RECORDING: RecordingForm}
URL_NAMES = {
    INCOMING: "calls-incoming",
    DIAL: "calls-dial",
    STATUS: "calls-status",
    RECORDING: "calls-recording",
}
LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL's lock_timeout expired
E164 = re.compile(r"\+[1-9][0-9]{1,14}")  # as `helpdesk.models.users.validate_e164`


@dataclass(frozen=True)
class Webhook:
    """One request from Twilio, as the view read it."""

    callback: str  # INCOMING, DIAL, STATUS or RECORDING
    path: str  # the path and query we were called on (request.get_full_path())
    params: Mapping[str, list[str]]  # every form field, all its values
    raw: bytes = b""
    signature: str = ""
    headers: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Answer:
    status: int
    twiml: str = ""
    error: str = ""
    event_id: int | None = None


# ---------------------------------------------------------------------------------------
# The request
# ---------------------------------------------------------------------------------------


class _Params(dict):
    """The form fields for `RequestValidator`, which reads every value of a field."""

    def getlist(self, key):
        return self[key]


def signature_valid(*, auth_token: str, url: str, params: Mapping, signature: str) -> bool:
    if not auth_token or not signature:
        return False
    return RequestValidator(auth_token).validate(url, _Params(params), signature)


def sign(*, auth_token: str, url: str, params: Mapping[str, str]) -> str:
    """The X-Twilio-Signature Twilio would send (tests and `manage.py bench_calls`)."""
    return RequestValidator(auth_token).compute_signature(url, params)


def callback_url(call_settings: CallSettings, callback: str) -> str:
    """The public address of one of a channel's webhooks (give it to Twilio)."""
    path = reverse(URL_NAMES[callback], args=[call_settings.channel_id])
    return call_settings.public_url(path)


def receive(*, call_settings: CallSettings, webhook: Webhook) -> Answer:
    """Check, store, process and answer one webhook. What the caller hears and the ticket
    shows is in the deployment's language (Twilio's request names none)."""
    with translation.override(settings.LANGUAGE_CODE):
        return _receive(call_settings=call_settings, webhook=webhook)


def _receive(*, call_settings: CallSettings, webhook: Webhook) -> Answer:
    channel = call_settings.channel
    url = call_settings.public_url(webhook.path)
    headers = {**webhook.headers, "X-Twilio-Signature": webhook.signature}
    payload = {"callback": webhook.callback, "url": url, "form": dict(webhook.params)}
    if not signature_valid(
        auth_token=call_settings.auth_token,
        url=url,
        params=webhook.params,
        signature=webhook.signature,
    ):
        why = (
            "refused: the channel has no Twilio auth token"
            if not call_settings.auth_token
            else f"refused: X-Twilio-Signature does not match {url} and the channel's auth token"
        )
        source_id = rejection_sample_id(
            digest=bytes.fromhex(_digest(url, webhook.raw, webhook.signature)),
            limit=settings.CALLS_REJECTIONS_PER_HOUR,
            prefix=REJECTED,
        )
        if source_id is None:
            return Answer(403, error=why)
        event = _settle(channel, source_id, webhook, headers, payload, REJECTED, why)
        return Answer(403, error=why, event_id=event.pk)
    form = FORMS[webhook.callback](data=_single(webhook.params))
    if not form.is_valid():
        why = f"bad {webhook.callback} webhook: {form.errors_text()}"
        digest = _digest(url, webhook.raw)
        event = _settle(channel, f"{INVALID}:{digest}", webhook, headers, payload, INVALID, why)
        return Answer(400, error=why, event_id=event.pk)
    data = form.cleaned_data
    event, _ = store_inbound(
        channel=channel,
        kind=KIND,
        source_id=_source_id(webhook.callback, data),
        raw=webhook.raw,
        payload=_storable(payload),
        headers=_storable(headers),
    )
    process_inbound(event.pk, handle_call_event)  # a redelivery: settled, nothing happens
    return Answer(200, twiml=_answer(call_settings, webhook.callback, data), event_id=event.pk)


def _settle(channel, source_id, webhook, headers, payload, callback, why) -> InboundEvent:
    """Keep a refused request (one row per source id: a rejection's slot, a bad input's
    hash), settled at once."""
    event, _ = store_inbound(
        channel=channel,
        kind=KIND,
        source_id=source_id,
        raw=webhook.raw,
        payload=_storable(
            {**payload, "callback": callback, "refused_callback": webhook.callback, "why": why}
        ),
        headers=_storable(headers),
    )
    process_inbound(event.pk, handle_call_event)
    return event


def _digest(*parts) -> str:
    sha = hashlib.sha256()
    for part in parts:
        sha.update(part if isinstance(part, bytes) else str(part).encode("utf-8", "replace"))
        sha.update(b"\0")
    return sha.hexdigest()


def _storable(data):
    """`data` as JSON PostgreSQL accepts: a NUL character becomes U+FFFD (the raw body
    keeps the request as it came)."""
    return json.loads(json.dumps(data).replace("\\u0000", "\\ufffd"))


def _single(params: Mapping[str, list[str]]) -> dict[str, str]:
    return {name: values[-1] for name, values in params.items() if values}


def _source_id(callback: str, data: dict) -> str:
    sid = data["CallSid"]
    if callback == DIAL:
        return f"dial:{sid}"
    if callback == STATUS:
        return f"status:{sid}:{data['CallStatus']}"
    if callback == RECORDING:
        return f"recording:{data['RecordingSid']}"
    return sid


def _answer(call_settings: CallSettings, callback: str, data: dict) -> str:
    if callback == STATUS:
        return answers.empty()
    if callback == RECORDING:
        return answers.hang_up()
    row = (
        Call.objects.filter(channel_id=call_settings.channel_id, call_sid=data["CallSid"])
        .values("twiml", "dial_twiml")
        .first()
    )
    kept = (row or {}).get("twiml" if callback == INCOMING else "dial_twiml")
    if kept:
        return kept
    log.warning("No answer kept for %s %s: answering with voicemail", callback, data["CallSid"])
    return answers.fallback(_voicemail(call_settings, None))


# ---------------------------------------------------------------------------------------
# The handler (in process_inbound's transaction: all or nothing)
# ---------------------------------------------------------------------------------------


def handle_call_event(event: InboundEvent) -> Outcome:
    """The handler `process_inbound` runs for a call event (inside its transaction); the
    thread's sentences are in the deployment's language."""
    with translation.override(settings.LANGUAGE_CODE):
        return _handle_call_event(event)


def _handle_call_event(event: InboundEvent) -> Outcome:
    payload = event.payload or {}
    callback = payload.get("callback")
    if callback == REJECTED:
        return Outcome(status=InboundEvent.Status.IGNORED, reason=payload.get("why", "refused"))
    if callback == INVALID:
        raise Quarantine(payload.get("why", "bad input"))
    if callback not in FORMS:
        raise Quarantine(f"unknown call webhook {callback!r}")
    form = FORMS[callback](data=_single(payload.get("form") or {}))
    if not form.is_valid():
        raise Quarantine(f"bad {callback} webhook: {form.errors_text()}")
    handler = {
        INCOMING: handle_incoming,
        DIAL: handle_dial,
        STATUS: handle_status,
        RECORDING: handle_recording,
    }[callback]
    return handler(event, form.cleaned_data)


def handle_incoming(event: InboundEvent, data: dict) -> Outcome:
    channel = event.channel
    sid, caller, called = data["CallSid"], data["From"], data.get("To", "")
    kept = Call.objects.filter(channel=channel, call_sid=sid).values_list("ticket_id").first()
    if kept is not None:
        return Outcome(ticket=Ticket(pk=kept[0]), reason="already answered: nothing new")
    call_settings = CallSettings.objects.get(channel=channel)
    at = timezone.now()
    ticket, _ = create_ticket(
        subject=gettext("Call from %(caller)s") % {"caller": caller},
        body=wording.incoming(caller, called),
        channel=channel,
        contact=contact_for_phone(caller),
        external_id=sid,
        sender_address=caller,
    )
    decided = _decide_in_time(ticket.pk, at)  # the engine's one decision, now
    owner_id = Ticket.objects.filter(pk=ticket.pk).values_list("owner_id", flat=True).get()
    owner = User.objects.filter(pk=owner_id).only("pk", "phone").first() if owner_id else None
    automation = _automation(channel)
    voicemail = _voicemail(call_settings, automation)
    fields = {}
    if not RoutingConfig.from_automation(automation).is_open_at(at):
        answer, twiml = Call.Answer.AFTER_HOURS, answers.after_hours(voicemail)
        reason = "after hours: voicemail"
    elif not decided:
        answer, twiml = Call.Answer.BUSY, answers.voicemail(voicemail)
        reason = "routing waited too long for a lock: voicemail; the worker routes the ticket"
    elif owner is not None and owner.phone:
        answer = Call.Answer.DIAL
        twiml = answers.dial(
            number=owner.phone,
            action_url=callback_url(call_settings, DIAL),
            timeout=call_settings.dial_timeout,
            caller_id=call_settings.caller_id,
        )
        fields = {"dialled_user": owner, "dialled_number": owner.phone}
        reason = f"ringing user {owner.pk} at {owner.phone}"
    else:
        answer, twiml = Call.Answer.NOBODY, answers.voicemail(voicemail)
        reason = (
            f"user {owner.pk} has no phone number: voicemail"
            if owner is not None
            else "nobody to ring: voicemail"
        )
    Call.objects.create(
        channel=channel,
        call_sid=sid,
        ticket=ticket,
        from_number=caller,
        to_number=called,
        answer=answer,
        twiml=twiml,
        **fields,
    )
    first = Message.objects.filter(ticket=ticket).order_by("id").only("pk").first()
    return Outcome(ticket=ticket, message=first, reason=f"new call ticket; {reason}")


def _decide_in_time(ticket_id: int, at) -> bool:
    """`route_ticket` within the webhook's time budget: on PostgreSQL no lock is waited for
    longer than CALLS_DECISION_LOCK_TIMEOUT_MS (`lock_timeout`, for this decision only).
    False when one was: the decision alone is rolled back (its savepoint), the ticket stays
    pending, and the `route_ticket_task` that `ticket_created` publishes after commit (or
    the routing sweep) routes it — the caller gets voicemail meanwhile."""
    timeout_ms = settings.CALLS_DECISION_LOCK_TIMEOUT_MS
    if connection.vendor != "postgresql" or timeout_ms <= 0:
        route_ticket(ticket_id=ticket_id, at=at)
        return True
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('lock_timeout'), set_config('lock_timeout', %s, true)",
            [f"{timeout_ms}ms"],
        )
        previous = cursor.fetchone()[0]
    try:
        # `route_ticket` is one `atomic` block, here a savepoint of the event's transaction:
        # a timeout rolls the decision back alone, and the transaction goes on.
        route_ticket(ticket_id=ticket_id, at=at)
        decided = True
    except OperationalError as exc:
        if getattr(exc.__cause__, "sqlstate", None) != LOCK_NOT_AVAILABLE:
            raise
        log.warning("Routing ticket %s waited %s ms for a lock: voicemail", ticket_id, timeout_ms)
        decided = False
    with connection.cursor() as cursor:  # the rest of the transaction waits as before
        cursor.execute("SELECT set_config('lock_timeout', %s, true)", [previous])
    return decided


def handle_dial(event: InboundEvent, data: dict) -> Outcome:
    call = _call(event.channel, data["CallSid"])
    if call.dial_status:
        return Outcome(ticket=Ticket(pk=call.ticket_id), reason="dial outcome already recorded")
    call.dial_status = data["DialCallStatus"]
    call.dial_duration = data.get("DialCallDuration")
    if call.dial_status in ANSWERED:
        call.dial_twiml = answers.hang_up()
    else:
        call_settings = CallSettings.objects.get(channel=event.channel)
        call.dial_twiml = answers.voicemail(_voicemail(call_settings, _automation(event.channel)))
    call.save(update_fields=["dial_status", "dial_duration", "dial_twiml"])
    return Outcome(ticket=Ticket(pk=call.ticket_id), reason=f"dial: {call.dial_status}")


def handle_status(event: InboundEvent, data: dict) -> Outcome:
    call = _call(event.channel, data["CallSid"], agent=True)
    status, seconds = data["CallStatus"], data.get("CallDuration")
    ticket = Ticket(pk=call.ticket_id)
    if status not in FINAL_STATUSES:
        return Outcome(
            status=InboundEvent.Status.IGNORED, ticket=ticket, reason=f"not final: {status}"
        )
    if not call.status:
        call.status, call.duration = status, seconds
        call.save(update_fields=["status", "duration"])
    body = wording.outcome(
        answer=call.answer,
        agent=str(call.dialled_user) if call.dialled_user else gettext("the agent"),
        dial_status=call.dial_status,
        dial_seconds=call.dial_duration,
        call_status=status,
        call_seconds=seconds,
    )
    message, created = add_inbound_message(
        ticket=ticket,
        body=body,
        external_id=f"status:{call.call_sid}:{status}",
        sender_address=call.from_number,
        is_automatic=True,  # a record of the call: changes no status
    )
    return Outcome(
        ticket=ticket, message=message, reason=f"call {status}" + ("" if created else ", kept")
    )


def handle_recording(event: InboundEvent, data: dict) -> Outcome:
    call = _call(event.channel, data["CallSid"])
    ticket = Ticket(pk=call.ticket_id)
    recording_status = data.get("RecordingStatus") or "completed"
    if recording_status != "completed":
        return Outcome(
            status=InboundEvent.Status.IGNORED,
            ticket=ticket,
            reason=f"recording {recording_status}: nothing to listen to",
        )
    url, seconds = data["RecordingUrl"], data.get("RecordingDuration")
    if not call.recording_sid:
        call.recording_sid, call.recording_url = data["RecordingSid"], url
        call.recording_duration = seconds
        call.save(update_fields=["recording_sid", "recording_url", "recording_duration"])
    message, created = add_inbound_message(
        ticket=ticket,
        body=wording.voicemail(seconds, url),
        external_id=f"recording:{data['RecordingSid']}",
        sender_address=call.from_number,
    )
    return Outcome(
        ticket=ticket, message=message, reason="voicemail" + ("" if created else ", kept")
    )


# ---------------------------------------------------------------------------------------
# Reads and the contact
# ---------------------------------------------------------------------------------------


class UnknownCall(LookupError):
    """A callback for a call we never answered (its incoming webhook failed or never came):
    the event is FAILED and can be retried once the call is known."""


def _call(channel: Channel, sid: str, *, agent: bool = False) -> Call:
    calls = Call.objects.select_for_update(of=("self",)).filter(channel=channel, call_sid=sid)
    if agent:
        calls = calls.select_related("dialled_user")
    call = calls.first()
    if call is None:
        raise UnknownCall(f"no call {sid} was answered on this channel")
    return call


def _automation(channel: Channel) -> ChannelAutomation:
    found = ChannelAutomation.objects.select_related("channel").filter(channel=channel).first()
    return found or ChannelAutomation.default_for(channel)


def _voicemail(call_settings: CallSettings, automation: ChannelAutomation | None):
    def audio(file) -> str:
        return call_settings.public_url(file.url) if file else ""

    return answers.Voicemail(
        recording_url=callback_url(call_settings, RECORDING),
        max_seconds=call_settings.voicemail_max_seconds,
        unanswered_audio_url=audio(automation.unanswered_call_audio) if automation else "",
        greeting_audio_url=audio(automation.voicemail_greeting) if automation else "",
        after_hours_message=automation.after_hours_message if automation else "",
    )


def contact_for_phone(phone: str) -> Contact | None:
    """The contact with this phone number (E.164 as the caller id gives it), created on first
    sight; None for a caller without a number (anonymous, a SIP or client address). The
    number is not unique in the table, so two first calls at once take a transaction lock on
    it (PostgreSQL) and the second finds the first's contact."""
    phone = phone.strip()
    if not E164.fullmatch(phone):
        return None
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"contact-phone:{phone}"])
    contact = Contact.objects.filter(phone=phone).order_by("pk").first()
    return contact or Contact.objects.create(phone=phone)
