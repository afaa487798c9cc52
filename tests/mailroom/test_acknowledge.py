"""The acknowledgement of a new ticket (issue 11, R14's team email): optional per channel,
from its template, sent through the outbox with `Auto-Submitted: auto-replied`, never to
automatic mail or our own addresses, and limited per sender and per domain."""

from email import message_from_bytes

import pytest
from django.core import mail as django_mail
from django.test import TestCase

from helpdesk.models import Message, OutboundMessage, Ticket
from mailroom import acknowledge
from mailroom.models import AutoReply
from tests.mailroom.helpers import SUPPORT, deliver, mail, mailbox_fixture  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_celery")]


@pytest.fixture
def acking(mailbox):
    mailbox.acknowledge = True
    mailbox.ack_subject = "Got it: {{ subject }} [#{{ ticket_number }}]"
    mailbox.ack_body = "Hi {{ contact_name }}, ticket {{ ticket_number }} on {{ channel_name }}."
    mailbox.save()
    return mailbox


def deliver_committed(channel, raw):
    with TestCase.captureOnCommitCallbacks(execute=True):
        return deliver(channel, raw)


def sent_to(address="kim@customer.example"):
    return [m for m in django_mail.outbox if any(address in to for to in m.to)]


def test_a_new_ticket_from_a_person_is_acknowledged_once_through_the_outbox(acking):
    event = deliver_committed(acking.channel, mail())
    ticket = Ticket.objects.get()
    assert event.error == "new ticket; acknowledged"
    ack = Message.objects.get(ticket=ticket, direction=Message.Direction.OUTBOUND)
    assert ack.is_automatic and ack.author is None
    assert ack.body == f"Hi Kim Customer, ticket {ticket.pk} on Support."
    assert OutboundMessage.objects.get(message=ack).status == OutboundMessage.Status.SENT
    (sent,) = sent_to()
    assert sent.subject == f"Got it: Printer on fire [#{ticket.pk}]"
    parsed = message_from_bytes(sent.message().as_bytes())
    assert parsed["Auto-Submitted"] == "auto-replied"
    assert parsed["X-Auto-Response-Suppress"] == "All"
    assert parsed["In-Reply-To"] == "<first.1@customer.example>"
    # Nobody answered yet: the ticket still waits on us, without owner.
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.NEW
    assert ticket.owner_id is None
    # The same mail again is a redelivery: no second acknowledgement.
    deliver_committed(acking.channel, mail())
    assert len(sent_to()) == 1


def test_off_by_default(mailbox):
    deliver_committed(mailbox.channel, mail())
    assert not sent_to()
    assert not Message.objects.filter(direction=Message.Direction.OUTBOUND).exists()


@pytest.mark.parametrize(
    "extra",
    [
        "Auto-Submitted: auto-replied",
        "Precedence: bulk",
        "List-Id: <news.customer.example>",
        "X-Auto-Response-Suppress: All",
    ],
)
def test_automatic_mail_is_never_acknowledged(acking, extra):
    deliver_committed(acking.channel, mail(extra=extra))
    assert not sent_to()
    assert not AutoReply.objects.exists()


def test_a_reply_on_an_existing_ticket_is_not_acknowledged(acking):
    deliver_committed(acking.channel, mail())
    deliver_committed(
        acking.channel,
        mail(
            message_id="<second.2@customer.example>",
            extra="In-Reply-To: <first.1@customer.example>",
        ),
    )
    assert Ticket.objects.count() == 1
    assert len(sent_to()) == 1


def test_one_sender_is_answered_at_most_the_limit_in_the_window(acking, settings):
    settings.MAIL_ACK_PER_SENDER = 2
    for n in range(4):
        event = deliver_committed(
            acking.channel, mail(subject=f"Problem {n}", message_id=f"<m{n}@customer.example>")
        )
    assert Ticket.objects.count() == 4
    assert len(sent_to()) == 2
    assert "already answered 2 times in 24 h (limit 2)" in event.error


def test_one_domain_is_answered_at_most_its_hourly_limit(acking, settings):
    settings.MAIL_ACK_PER_DOMAIN = 3
    for n in range(5):
        deliver_committed(
            acking.channel,
            mail(sender=f"user{n}@flood.example", message_id=f"<f{n}@flood.example>"),
        )
    assert AutoReply.objects.filter(domain="flood.example").count() == 3
    assert len([m for m in django_mail.outbox if "flood.example" in m.to[0]]) == 3


def test_a_broken_template_is_refused_when_saved_and_never_sent(acking):
    with pytest.raises(acknowledge.TemplateError):
        acknowledge.check_template("Hi {% if %}")
    acknowledge.check_template(acking.ack_body)
    acking.ack_body = "Hi {% if %}"
    acking.save()
    event = deliver_committed(acking.channel, mail())
    assert "the template cannot be read" in event.error
    assert not sent_to()


def test_templates_see_only_plain_values(acking):
    acking.ack_body = "{{ ticket_number }} {{ ticket.contact.email }}{{ settings.SECRET_KEY }}."
    acking.save()
    deliver_committed(acking.channel, mail())
    ack = Message.objects.get(direction=Message.Direction.OUTBOUND)
    assert ack.body == f"{Ticket.objects.get().pk} ."
