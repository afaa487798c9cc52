"""The acknowledgement: an optional automatic answer to a new ticket from a person.

A team-email channel whose mail settings have `acknowledge` on answers each new ticket
with its template (`ack_subject`, `ack_body`), unless:
- the mail was automatic (`mailroom.loops`: `may_answer` is false) — the caller never asks;
- the contact has no address, or the address is one of ours;
- the sender was answered `MAIL_ACK_PER_SENDER` times in the last
  `MAIL_ACK_SENDER_WINDOW_HOURS`, or their domain `MAIL_ACK_PER_DOMAIN` times in the last
  hour (RFC 3834 §2: a responder must not answer the same sender over and over; the domain
  limit stops a flood of invented senders).

The counts are `AutoReply` rows in the database, written in the transaction that creates
the ticket, so every worker sees them; on PostgreSQL a transaction-scoped advisory lock per
address makes two workers count one after the other. The answer itself is an automatic
outbound message on the ticket (`helpdesk.services.add_automatic_reply`), which goes
through the same outbox as an agent's reply (`mailroom.outbound`) with
`Auto-Submitted: auto-replied`.
"""

import re
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone, translation
from django.utils.translation import gettext, pgettext

from helpdesk.models import Contact, Ticket
from helpdesk.services import add_automatic_reply
from mailroom.models import (
    DEFAULT_ACK_BODY,
    DEFAULT_ACK_SUBJECT,
    AutoReply,
    MailSettings,
    default_text,
)

# What a template may use: `{{ name }}` for these plain strings, and nothing else — no tags,
# no filters — so rendering is a substitution that cannot fail, reach anything or grow
# beyond the template times the longest value.
PLACEHOLDERS = ("ticket_number", "subject", "contact_name", "contact_email", "channel_name")
MAX_TEMPLATE_CHARS = 10_000
_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}")
_BRACES = re.compile(r"\{\{(.*?)\}\}", re.S)
_TAG = re.compile(r"\{[%#]")


class TemplateError(ValueError):
    """A template that cannot be used, in plain words."""


def _shown(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 60 else text[:59] + "…"


def check_template(text: str) -> None:
    """Refuse anything but text and the placeholders of PLACEHOLDERS, naming the culprit."""
    if len(text) > MAX_TEMPLATE_CHARS:
        raise TemplateError(
            gettext("The template is too long (at most %(limit)s characters).")
            % {"limit": MAX_TEMPLATE_CHARS}
        )
    known = ", ".join(f"{{{{ {name} }}}}" for name in PLACEHOLDERS)
    tag = _TAG.search(text)
    if tag:
        end = text.find("}", tag.end())
        found = text[tag.start() : end + 1 if end >= 0 else tag.start() + 20]
        raise TemplateError(
            gettext(
                "“%(found)s” cannot be used: tags and comments are not supported, only "
                "the placeholders %(known)s."
            )
            % {"found": _shown(found), "known": known}
        )
    for match in _BRACES.finditer(text):
        inside = match.group(1).strip()
        if inside in PLACEHOLDERS:
            continue
        if "|" in inside:
            raise TemplateError(
                gettext(
                    "“%(found)s” cannot be used: filters are not supported, "
                    "only the placeholders %(known)s."
                )
                % {"found": _shown(match.group(0)), "known": known}
            )
        raise TemplateError(
            gettext("“%(found)s” is not a placeholder. Use one of %(known)s.")
            % {"found": _shown(match.group(0)), "known": known}
        )
    rest = _BRACES.sub("", text)
    if "{{" in rest:
        raise TemplateError(
            gettext("A “{{” has no closing “}}”: write placeholders as %(known)s.")
            % {"known": known}
        )


def usable(text: str) -> bool:
    try:
        check_template(text)
    except TemplateError:
        return False
    return True


def values_for(ticket: Ticket, contact: Contact | None) -> dict[str, str]:
    name = (contact.name if contact else "") or ""
    email = (contact.email if contact else "") or ""
    return {
        "ticket_number": str(ticket.pk),
        "subject": ticket.subject,
        # "Hello there," for a contact without name or address.
        "contact_name": name or email.partition("@")[0] or pgettext("greeting", "there"),
        "contact_email": email,
        "channel_name": ticket.channel.name if ticket.channel else "",
    }


def render(text: str, values: dict[str, str]) -> str:
    """The template with each `{{ name }}` replaced by its value (never raises; a name it
    does not know is left as written — `check_template` refuses those when saved)."""
    return _PLACEHOLDER.sub(lambda match: values.get(match.group(1), match.group(0)), text).strip()


def subject_of(mail_settings: MailSettings, ticket: Ticket) -> str:
    """The acknowledgement's subject (its template, or the default one when left empty or
    not usable), on one line, in the deployment's language."""
    with translation.override(settings.LANGUAGE_CODE):
        template = default_text(mail_settings.ack_subject, DEFAULT_ACK_SUBJECT)
        if not usable(template):  # saved before it was checked, or by other means
            template = gettext(DEFAULT_ACK_SUBJECT)
        rendered = render(template, values_for(ticket, ticket.contact))
    return " ".join(rendered.split())[:255] or f"[#{ticket.pk}]"


@dataclass(frozen=True)
class Verdict:
    sent: bool
    reason: str


def _domain(address: str) -> str:
    return address.rpartition("@")[2].lower()


def _serialise_per_address(address: str) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"autoreply:{address}"])


def limit_reached(address: str, *, now=None) -> str:
    """Why `address` may not be answered automatically now ("" when it may)."""
    now = now or timezone.now()
    per_sender = settings.MAIL_ACK_PER_SENDER
    window = settings.MAIL_ACK_SENDER_WINDOW_HOURS
    recent = AutoReply.objects.filter(
        address=address, created_at__gte=now - timedelta(hours=window)
    ).count()
    if recent >= per_sender:
        return f"{address} was already answered {recent} times in {window} h (limit {per_sender})"
    per_domain = settings.MAIL_ACK_PER_DOMAIN
    domain = _domain(address)
    recent = AutoReply.objects.filter(
        domain=domain, created_at__gte=now - timedelta(hours=1)
    ).count()
    if recent >= per_domain:
        return f"{domain} was already answered {recent} times in 1 h (limit {per_domain})"
    return ""


def acknowledge_new_ticket(*, ticket: Ticket, contact: Contact | None, ours: set[str]) -> Verdict:
    """Answer a new ticket from a person when its channel asks for it (inside the caller's
    transaction). Returns whether an acknowledgement was queued, and why (not)."""
    mail_settings = MailSettings.objects.filter(channel_id=ticket.channel_id).first()
    if mail_settings is None or not mail_settings.acknowledge:
        return Verdict(False, "")
    address = (contact.email if contact else "").strip().lower()
    if "@" not in address:
        return Verdict(False, "not acknowledged: the sender has no address")
    if address in ours:
        return Verdict(False, "not acknowledged: the sender is one of our addresses")
    _serialise_per_address(address)
    why_not = limit_reached(address)
    if why_not:
        return Verdict(False, f"not acknowledged: {why_not}")
    with translation.override(settings.LANGUAGE_CODE):  # the customer's words
        template = default_text(mail_settings.ack_body, DEFAULT_ACK_BODY)
        try:
            check_template(template)  # saved before it was checked, or by other means
        except TemplateError as exc:
            return Verdict(False, f"not acknowledged: the template cannot be used ({exc})")
        body = render(template, values_for(ticket, contact))
    if not body:
        return Verdict(False, "not acknowledged: the template gives an empty text")
    AutoReply.objects.create(address=address, domain=_domain(address), ticket=ticket)
    add_automatic_reply(ticket=ticket, body=body)
    return Verdict(True, "acknowledged")
