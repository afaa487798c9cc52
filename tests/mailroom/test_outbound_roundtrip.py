"""The round trip (issue 11): our reply reaches a real SMTP server (aiosmtpd), the customer
answers it as a mail client would (In-Reply-To our Message-ID, or only to the Reply-To
address), and the inbound handler threads the answer into the same ticket. Then the real
thing: a reply sent from the ticket page's Send leaves through a real Celery worker, once."""

from email import message_from_bytes
from email.utils import format_datetime, parseaddr

import pytest
from django.test import Client, TestCase
from django.urls import reverse
from django.utils import timezone

from helpdesk import services
from helpdesk.models import Contact, InboundEvent, Message, OutboundMessage, Ticket
from helpdesk.services.intake import process_inbound
from mailroom.inbound import handle_email, store_email
from mailroom.models import MailSettings
from tests.factories import ChannelFactory, TicketFactory
from tests.support.services import wait_until

pytestmark = pytest.mark.usefixtures("eager_celery")


def committed():
    return TestCase.captureOnCommitCallbacks(execute=True)


def email_ticket(owner):
    channel = ChannelFactory(name="Support", address="support@help.example")
    MailSettings.objects.create(
        channel=channel,
        addresses=["support@help.example", "reply@help.example"],
        from_name="Acme Support",
        from_address="support@help.example",
    )
    contact = Contact.objects.create(name="Kim Customer", email="kim@customer.example")
    return TicketFactory(channel=channel, contact=contact, owner=owner, subject="Printer on fire")


def customer_answer(ours: bytes, *, threaded: bool) -> bytes:
    """What the customer's mail client sends when Kim presses Reply on our mail."""
    received = message_from_bytes(ours)
    to = received["Reply-To"] or received["From"]
    headers = [
        "From: Kim Customer <kim@customer.example>",
        f"To: {to}",
        f"Subject: Re: {received['Subject']}",
        f"Date: {format_datetime(timezone.now())}",
        "Message-ID: <answer.1@customer.example>",
    ]
    if threaded:
        references = f"{received['References'] or ''} {received['Message-ID']}".strip()
        headers += [f"In-Reply-To: {received['Message-ID']}", f"References: {references}"]
    headers += ["MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8"]
    body = (
        "Thanks, it prints again!\n\nOn Monday, Acme Support wrote:\n"
        "> Have you tried turning it off and on again?\n"
    )
    return ("\r\n".join(headers) + "\r\n\r\n" + body.replace("\n", "\r\n")).encode()


@pytest.mark.smtp
@pytest.mark.django_db
@pytest.mark.parametrize("threaded", [True, False], ids=["in-reply-to", "reply-token-only"])
def test_the_customers_answer_to_our_reply_lands_in_the_same_ticket(smtp_server, agent, threaded):
    ticket = email_ticket(agent)
    with committed():
        services.reply(
            ticket=ticket, author=agent, body="Have you tried turning it off and on again?"
        )
    (envelope,) = smtp_server.envelopes
    assert envelope.rcpt_tos == ["kim@customer.example"]
    ours = envelope.original_content
    sent = message_from_bytes(ours)
    row = OutboundMessage.objects.get()
    assert row.status == OutboundMessage.Status.SENT
    assert sent["Message-ID"] == row.provider_id
    assert parseaddr(sent["Reply-To"])[1].startswith("reply+")
    assert sent["Subject"] == f"Re: Printer on fire [#{ticket.pk}]"

    event, created = store_email(
        channel=ticket.channel, raw=customer_answer(ours, threaded=threaded)
    )
    assert created
    event = process_inbound(event.pk, handle_email)

    assert event.status == InboundEvent.Status.PROCESSED, event.error
    assert event.ticket_id == ticket.pk
    assert Ticket.objects.count() == 1
    answer = Message.objects.get(ticket=ticket, direction=Message.Direction.INBOUND)
    assert answer.body.startswith("Thanks, it prints again!")
    assert answer.external_id == "<answer.1@customer.example>"


@pytest.fixture
def smtp_for_worker(smtp_server, request):
    request.applymarker(pytest.mark.worker_env(EMAIL_URL=smtp_server.url))
    return smtp_server


@pytest.mark.smtp
@pytest.mark.celery_worker
def test_send_on_the_ticket_page_leaves_once_through_a_real_worker(
    smtp_for_worker, celery_worker, agent
):
    ticket = email_ticket(agent)
    client = Client()
    client.force_login(agent)
    response = client.post(
        reverse("ticket-reply", args=[ticket.pk]),
        {"body": "Fixed on our side.", "action": "send", "version": ticket.version},
    )
    assert response.status_code == 302

    received = smtp_for_worker.wait_for(1, timeout=60)
    assert len(received) == 1, "the worker did not send the reply"
    row = wait_until(
        lambda: OutboundMessage.objects.filter(status=OutboundMessage.Status.SENT).first(),
        timeout=30,
    )
    celery_worker.wait_idle()  # anything sent twice would have been sent by now
    assert len(smtp_for_worker.received) == 1
    email = received[0]
    assert email["Message-ID"] == row.provider_id
    assert email["To"] == "Kim Customer <kim@customer.example>"
    assert email["From"] == "Acme Support <support@help.example>"
    assert email["Auto-Submitted"] == "auto-generated"
    assert row.attempts == 1
    assert [e.rcpt_tos for e in smtp_for_worker.envelopes] == [["kim@customer.example"]]
