"""A reply to a form submission reaches the visitor by email (the form says "We answer you
at this address"), through a real SMTP server (aiosmtpd) — also when the typed address
belongs to another contact and the submission got a contact of its own without one
(webforms.identity, rule 4)."""

from email import message_from_bytes, policy

import pytest
from django.test import TestCase

from helpdesk import services
from helpdesk.models import OutboundMessage, Ticket
from tests.factories import AgentFactory, ContactFactory

pytestmark = [pytest.mark.usefixtures("eager_celery"), pytest.mark.smtp, pytest.mark.django_db]


def committed():
    return TestCase.captureOnCommitCallbacks(execute=True)


def submitted(visitor, **values) -> Ticket:
    with committed():
        assert visitor.send(**values).status_code == 303
    return Ticket.objects.get()


def test_an_agents_reply_to_a_form_ticket_is_mailed_to_the_visitor(smtp_server, visitor, agent):
    ticket = submitted(visitor)
    with committed():
        services.reply(ticket=ticket, author=agent, body="We refunded the second charge.")
    (envelope,) = smtp_server.envelopes
    assert envelope.rcpt_tos == ["kim@customer.example"]
    mail = message_from_bytes(envelope.original_content, policy=policy.default)
    assert mail["Subject"] == f"Re: Invoice 2024-113 charged twice [#{ticket.pk}]"
    assert "We refunded the second charge." in mail.get_body(("plain",)).get_content()
    assert OutboundMessage.objects.get().status == OutboundMessage.Status.SENT


def test_the_typed_address_of_an_owned_contact_still_gets_the_reply(smtp_server, visitor, agent):
    ContactFactory(email="kim@customer.example", owner=AgentFactory())
    ticket = submitted(visitor)
    assert ticket.contact.email == ""  # a contact of its own: the address is not verified
    with committed():
        services.reply(ticket=ticket, author=agent, body="Thanks, we are on it.")
    (envelope,) = smtp_server.envelopes
    assert envelope.rcpt_tos == ["kim@customer.example"]
    assert (
        message_from_bytes(envelope.original_content)["To"] == "Kim Larsen <kim@customer.example>"
    )
