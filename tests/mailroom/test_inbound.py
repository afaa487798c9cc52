"""Issue 11, inbound email end to end: a stored mail through `handle_email` becomes a ticket,
threads into one, or is kept with the reason why not — all or nothing."""

import pytest

from helpdesk.models import Attachment, Contact, InboundEvent, Message, OutboundMessage, Ticket
from helpdesk.services import close
from helpdesk.services.intake import process_many
from mailroom.inbound import email_source_id, handle_email, store_email
from mailroom.models import MailSettings, ReplyToken
from tests.factories import ChannelFactory, MessageFactory, TicketFactory
from tests.mailroom.conftest import eml
from tests.mailroom.helpers import deliver, fixture_with, mail, mailbox_fixture  # noqa: F401

Status = InboundEvent.Status


def test_new_mail_opens_a_ticket_with_its_contact_and_attachments(mailbox):
    event = deliver(mailbox.channel, eml("attachment_base64.eml"))

    assert event.status == Status.PROCESSED, event.error
    ticket = event.ticket
    assert ticket.channel == mailbox.channel
    assert ticket.subject == "Invoices for May"
    assert ticket.routing_state == Ticket.RoutingState.PENDING
    assert (ticket.contact.email, ticket.contact.name) == ("marc.weber@example.org", "Marc Weber")
    [message] = ticket.messages.all()
    assert event.message == message
    assert message.external_id == "<20240604080130.77321@example.org>"
    assert message.sender_address == "marc.weber@example.org"
    files = list(Attachment.objects.filter(message=message))
    assert files, "the PDF attachment is stored"
    assert all(f.size == len(f.file.read()) for f in files)
    assert {f.content_type for f in files} >= {"application/pdf"}


def test_a_known_sender_is_matched_case_insensitively(mailbox):
    Contact.objects.create(email="kim@customer.example", name="Kim")
    event = deliver(mailbox.channel, mail(sender="KIM <Kim@Customer.Example>"))
    assert event.ticket.contact.name == "Kim"
    assert Contact.objects.filter(email__iexact="kim@customer.example").count() == 1


def first_ticket(mailbox) -> Ticket:
    event = deliver(mailbox.channel, mail())
    assert event.status == Status.PROCESSED, event.error
    return event.ticket


def test_a_reply_threads_by_in_reply_to(mailbox):
    ticket = first_ticket(mailbox)
    reply = mail(
        subject="Re: Printer on fire",
        message_id="<second.2@customer.example>",
        extra="In-Reply-To: <first.1@customer.example>",
    )
    event = deliver(mailbox.channel, reply)
    assert event.ticket == ticket
    assert "in-reply-to" in event.error
    assert ticket.messages.count() == 2


def test_a_reply_threads_by_references_when_in_reply_to_is_unknown(mailbox):
    ticket = first_ticket(mailbox)
    reply = mail(
        subject="Another subject",
        message_id="<third.3@customer.example>",
        extra="In-Reply-To: <unknown@elsewhere.example>\n"
        "References: <first.1@customer.example> <unknown@elsewhere.example>",
    )
    event = deliver(mailbox.channel, reply)
    assert event.ticket == ticket
    assert "references" in event.error


def test_a_reply_to_a_mail_we_sent_threads_by_its_message_id(mailbox):
    ticket = TicketFactory(channel=mailbox.channel)
    ours = MessageFactory(ticket=ticket, direction=Message.Direction.OUTBOUND)
    OutboundMessage.objects.create(
        message=ours,
        channel=mailbox.channel,
        status=OutboundMessage.Status.SENT,
        provider_id="<ticket-1042.1717940000.4d7f@helpdesk.example>",
    )
    event = deliver(mailbox.channel, eml("gmail_reply.eml"))  # In-Reply-To: that id
    assert event.status == Status.PROCESSED, event.error
    assert event.ticket == ticket
    assert event.message.quoted, "Gmail's quoted history is folded away"


@pytest.mark.parametrize("sender", ["Support <support@helpdesk.example>", "kim@customer.example"])
def test_our_own_sent_mail_coming_back_is_ignored_as_our_own_mail(mailbox, sender):
    """A copy of our reply landing in a polled mailbox (Bcc, a Sent folder, a forward) is
    recognised by its Message-ID, whoever it claims to be from, and never added again."""
    ticket = first_ticket(mailbox)
    ours = MessageFactory(ticket=ticket, direction=Message.Direction.OUTBOUND)
    OutboundMessage.objects.create(
        message=ours,
        channel=mailbox.channel,
        status=OutboundMessage.Status.SENT,
        provider_id="<reply.7.4d7f@helpdesk.example>",
    )
    copy = mail(
        sender=sender,
        to="kim@customer.example",
        subject="Re: Printer on fire [#1]",
        message_id="<reply.7.4d7f@helpdesk.example>",
        extra="In-Reply-To: <first.1@customer.example>",
    )
    event = deliver(mailbox.channel, copy)
    assert event.status == Status.IGNORED, event.error
    assert event.error.startswith("our own mail: <reply.7.4d7f@helpdesk.example>")
    assert ticket.messages.count() == 2
    assert Ticket.objects.count() == 1


def test_a_reply_threads_by_reply_token(mailbox):
    ticket = first_ticket(mailbox)
    token = ReplyToken.objects.for_ticket(ticket)
    assert len(token) == 32 and token.isalnum() and token == token.lower()  # 160 bits
    assert ReplyToken.objects.for_ticket(ticket) == token
    reply = mail(
        to=f"Support <reply+{token}@helpdesk.example>",
        subject="No headers to thread by",
        message_id="<token.4@customer.example>",
    )
    assert deliver(mailbox.channel, reply).ticket == ticket


def test_a_subject_tag_threads_only_mail_from_the_tickets_contact(mailbox):
    ticket = first_ticket(mailbox)
    tagged = mail(subject=f"Re: [#{ticket.pk}] Printer", message_id="<tag.5@customer.example>")
    assert deliver(mailbox.channel, tagged).ticket == ticket

    stranger = mail(
        sender="Mallory <mallory@evil.example>",
        subject=f"Re: [#{ticket.pk}] Printer",
        message_id="<tag.6@evil.example>",
    )
    event = deliver(mailbox.channel, stranger)
    assert event.ticket != ticket
    assert event.error == "new ticket"


def test_a_reply_reopens_a_closed_ticket(mailbox):
    ticket = first_ticket(mailbox)
    close(ticket=ticket, actor=None)
    reply = mail(
        message_id="<again.7@customer.example>", extra="In-Reply-To: <first.1@customer.example>"
    )
    deliver(mailbox.channel, reply)
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.WAITING_ON_US
    assert ticket.closed_at is None


def test_an_auto_reply_threads_in_but_changes_nothing(mailbox):
    ticket = first_ticket(mailbox)
    close(ticket=ticket, actor=None)
    auto = fixture_with(
        "auto_reply.eml",
        In_Reply_To="<first.1@customer.example>",
        References="<first.1@customer.example>",
    )
    event = deliver(mailbox.channel, auto)
    assert event.status == Status.PROCESSED, event.error
    assert event.ticket == ticket
    assert event.message.is_automatic
    assert "automatic" in event.error
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.CLOSED  # a robot never reopens a ticket
    assert Ticket.objects.count() == 1


def test_an_auto_reply_that_threads_nowhere_creates_nothing(mailbox):
    event = deliver(mailbox.channel, eml("auto_reply.eml"))
    assert event.status == Status.IGNORED
    assert "never creates a ticket" in event.error
    assert (Ticket.objects.count(), Contact.objects.count()) == (0, 0)


def test_a_bounce_is_ignored_and_makes_no_contact(mailbox):
    event = deliver(mailbox.channel, eml("bounce.eml"))
    assert event.status == Status.IGNORED
    assert "never creates a ticket" in event.error
    assert (Ticket.objects.count(), Contact.objects.count()) == (0, 0)


def test_mail_from_our_own_address_is_ignored(mailbox):
    event = deliver(mailbox.channel, mail(sender="support@helpdesk.example"))
    assert event.status == Status.IGNORED


def test_an_unreadable_mail_is_quarantined_and_the_batch_goes_on(mailbox):
    bad, _ = store_email(channel=mailbox.channel, raw=eml("not_a_message.eml"))
    good, _ = store_email(channel=mailbox.channel, raw=mail())

    done = process_many([bad.pk, good.pk], handle_email)

    assert [e.status for e in done] == [Status.QUARANTINED, Status.PROCESSED]
    bad.refresh_from_db()
    assert bad.error.startswith("unreadable mail:")
    assert bytes(bad.raw) == eml("not_a_message.eml")
    assert Ticket.objects.count() == 1


def test_the_same_mail_delivered_twice_gives_one_ticket_and_one_message(mailbox):
    raw = eml("attachment_base64.eml")
    first = deliver(mailbox.channel, raw)
    again, created = store_email(channel=mailbox.channel, raw=raw.replace(b"\n", b"\r\n"))
    assert not created and again.pk == first.pk
    assert deliver(mailbox.channel, raw).pk == first.pk
    assert (Ticket.objects.count(), Message.objects.count()) == (1, 1)


def test_the_same_mail_through_two_channels_gives_one_ticket(mailbox):
    other = ChannelFactory(name="Other inbox")
    deliver(mailbox.channel, mail())
    event = deliver(other, mail())
    assert event.status == Status.PROCESSED
    assert "redelivery" in event.error
    assert (Ticket.objects.count(), Message.objects.count()) == (1, 1)


def test_a_mail_without_message_id_twice_gives_one_ticket(mailbox):
    raw = eml("no_message_id.eml")
    assert email_source_id(raw).endswith("@mailroom.invalid>")
    first = deliver(mailbox.channel, raw)
    second = deliver(mailbox.channel, raw)
    assert first.pk == second.pk
    assert Ticket.objects.count() == 1
    assert Message.objects.get().external_id == email_source_id(raw)


def test_a_new_ticket_goes_to_the_channel_the_mail_was_addressed_to(mailbox):
    billing = MailSettings.objects.create(
        channel=ChannelFactory(name="Billing"), addresses=["billing@helpdesk.example"]
    )
    raw = mail(to="Kim <kim@customer.example>", extra="Cc: billing@helpdesk.example")
    event = deliver(mailbox.channel, raw)  # fetched from the Support mailbox
    assert event.ticket.channel == billing.channel


def test_attachments_over_the_limit_are_listed_not_kept(mailbox, settings):
    settings.MAIL_MAX_ATTACHMENT_BYTES = 10
    event = deliver(mailbox.channel, eml("attachment_base64.eml"))
    assert not Attachment.objects.exists()
    assert "[Attachment not kept:" in event.message.body


def test_a_failing_handler_leaves_nothing_half_written_and_can_be_retried(mailbox, monkeypatch):
    from helpdesk.services import intake

    def broken(**kwargs):
        raise RuntimeError("database on fire")

    monkeypatch.setattr("mailroom.inbound.create_ticket", broken)
    event = deliver(mailbox.channel, mail())
    assert event.status == Status.FAILED
    assert "database on fire" in event.error
    assert (Ticket.objects.count(), Contact.objects.count()) == (0, 0)

    monkeypatch.undo()
    assert intake.retry_failed_inbound([event.pk]) == [event.pk]
    event = intake.process_inbound(event.pk, handle_email)
    assert (event.status, event.attempts) == (Status.PROCESSED, 2)
    assert Ticket.objects.count() == 1


def test_a_settled_event_is_not_processed_again(mailbox):
    event = deliver(mailbox.channel, mail())
    from helpdesk.services.intake import process_inbound

    assert process_inbound(event.pk, handle_email) is None
    assert Message.objects.count() == 1


REAL_SHAPED = ["latin1.eml", "windows1252.eml", "shift_jis.eml", "outlook_reply.eml",
               "long_chain.eml", "broken_headers.eml", "inline_image.eml",
               "html_only_script.eml", "undeclared_8bit.eml"]  # fmt: skip


@pytest.mark.parametrize("name", REAL_SHAPED)
def test_every_real_shaped_fixture_settles(mailbox, name):
    event = deliver(mailbox.channel, eml(name))
    assert event.status in (Status.PROCESSED, Status.IGNORED, Status.QUARANTINED), event.error


def test_a_message_id_with_a_nul_byte_is_stored_and_read_without_it(mailbox):
    """Found by the fuzz tests: a NUL in the Message-ID field made storing the raw mail fail
    (no PostgreSQL text holds one). It is dropped, as the parser drops it."""
    raw = mail(message_id="<\x00nul.1@customer.example>")
    assert email_source_id(raw) == "<nul.1@customer.example>"
    event = deliver(mailbox.channel, raw)
    assert event.status == Status.PROCESSED, event.error
    assert event.source_id == event.message.external_id == "<nul.1@customer.example>"
