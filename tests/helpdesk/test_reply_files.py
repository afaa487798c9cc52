"""Issue 11: an agent's reply carries files, and they reach the customer with the mail —
within the mail limits, only on tickets answered by email, never with an internal note."""

from email import message_from_bytes, policy

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase
from django.urls import reverse

from helpdesk.models import Attachment, Channel, Contact, Message, Ticket
from tests.factories import ChannelFactory, TicketFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def email_ticket(**kwargs) -> Ticket:
    contact = Contact.objects.create(name="Kim Customer", email="kim@customer.example")
    channel = ChannelFactory(kind=Channel.Kind.TEAM_EMAIL, address="support@help.example")
    return TicketFactory(channel=channel, contact=contact, subject="Invoice", **kwargs)


def post_reply(client, ticket, *files, action="send"):
    return client.post(
        reverse("ticket-reply", args=[ticket.pk]),
        {
            "body": "Here you are.",
            "action": action,
            "version": ticket.version,
            "files": list(files),
        },
    )


def pdf(name="invoice.pdf", size=None):
    data = b"%PDF-1.4\n" + b"x" * (size or 10)
    return SimpleUploadedFile(name, data, content_type="text/html")  # the browser's word


def test_a_reply_keeps_its_files_and_the_agent_can_download_them(agent_client):
    ticket = email_ticket()
    response = post_reply(agent_client, ticket, pdf(), SimpleUploadedFile("notes.txt", b"hi"))
    assert response.status_code == 302
    message = Message.objects.get(ticket=ticket, direction=Message.Direction.OUTBOUND)
    rows = {a.filename: a for a in message.attachments.all()}
    assert set(rows) == {"invoice.pdf", "notes.txt"}
    assert rows["invoice.pdf"].content_type == "application/pdf"  # by name, not the browser's
    download = agent_client.get(
        reverse("attachment-download", args=[ticket.pk, rows["notes.txt"].pk])
    )
    assert download.status_code == 200 and b"".join(download.streaming_content) == b"hi"


def test_a_file_over_the_limit_is_refused_and_nothing_is_stored(agent_client, settings):
    settings.MAIL_MAX_ATTACHMENT_BYTES = 100
    ticket = email_ticket()
    response = post_reply(agent_client, ticket, pdf(size=200))
    assert response.status_code == 400
    assert "invoice.pdf is 209" in response.content.decode()
    assert not Message.objects.filter(ticket=ticket).exists()
    assert not Attachment.objects.exists()
    assert Ticket.objects.get(pk=ticket.pk).version == ticket.version


def test_files_together_over_the_message_limit_are_refused(agent_client, settings):
    settings.MAIL_MAX_MESSAGE_BYTES = 30
    ticket = email_ticket()
    response = post_reply(agent_client, ticket, pdf("a.pdf"), pdf("b.pdf"))
    assert response.status_code == 400
    assert "Together the files may be at most" in response.content.decode()
    assert not Attachment.objects.exists()


def test_files_are_refused_on_a_channel_that_does_not_answer_by_email(agent_client):
    ticket = TicketFactory(channel=ChannelFactory(kind=Channel.Kind.WHATSAPP))
    response = post_reply(agent_client, ticket, pdf())
    assert response.status_code == 400
    assert "only on tickets answered by email" in response.content.decode()
    assert not Message.objects.filter(ticket=ticket).exists()
    assert (
        'id="reply-files"'
        not in agent_client.get(reverse("ticket", args=[ticket.pk])).content.decode()
    )


def test_a_note_carries_no_files(agent_client):
    ticket = email_ticket()
    response = post_reply(agent_client, ticket, pdf(), action="note")
    assert response.status_code == 400
    assert not Message.objects.filter(ticket=ticket).exists()


@pytest.mark.smtp
@pytest.mark.usefixtures("eager_celery")
def test_the_files_reach_the_customer_with_the_mail(smtp_server, agent_client):
    ticket = email_ticket()
    with TestCase.captureOnCommitCallbacks(execute=True):
        post_reply(agent_client, ticket, pdf(), SimpleUploadedFile("notes.txt", b"hello"))
    (envelope,) = smtp_server.envelopes
    mail = message_from_bytes(envelope.original_content, policy=policy.default)
    files = {part.get_filename(): part for part in mail.iter_attachments()}
    assert set(files) == {"invoice.pdf", "notes.txt"}
    assert files["notes.txt"].get_content().strip() == "hello"
    assert files["invoice.pdf"].get_content_type() == "application/pdf"
    assert files["invoice.pdf"].get_content().startswith(b"%PDF-1.4")
