"""Issue 11, measured: what one mail costs the handler (a fixed number of queries, whatever
the data), and the address directory each worker keeps between mails."""

import pytest
from django.db import transaction

from helpdesk.models import Channel, Contact, InboundEvent, Message, Ticket
from helpdesk.services import create_ticket
from helpdesk.services.intake import process_inbound
from mailroom import inbound
from mailroom.inbound import handle_email, store_email
from mailroom.models import MailSettings
from tests.factories import ChannelFactory
from tests.mailroom.helpers import SUPPORT, deliver, mail, mailbox_fixture  # noqa: F401

Status = InboundEvent.Status
# As Django counts them, with the BEGIN and COMMIT of the worker's transaction (which
# `manage.py bench_intake` leaves out): store; BEGIN, claim, the Message-IDs known, the
# contact (read, then created), the ticket and its first message, the event's outcome,
# COMMIT. (A channel that acknowledges new tickets reads its templates: one more.)
NEW_MAIL_QUERIES = 8 + 2
# Store; BEGIN, claim, the Message-IDs known, the ticket locked with its channel, the
# message, the ticket's status, the event's outcome, COMMIT.
REPLY_QUERIES = 7 + 2


def new_mail(n: int) -> bytes:
    return mail(
        sender=f"Customer {n} <customer{n}@customer.example>",
        subject=f"Order {n} did not arrive",
        message_id=f"<new.{n}@customer.example>",
    )


def reply_to(n: int) -> bytes:
    return mail(
        sender=f"Customer {n} <customer{n}@customer.example>",
        subject=f"Re: Order {n} did not arrive",
        message_id=f"<reply.{n}@customer.example>",
        extra=f"In-Reply-To: <new.{n}@customer.example>",
    )


def handle(channel, raw: bytes) -> InboundEvent:
    """What a worker does with one mail, and nothing else: store it, then process it."""
    event, _ = store_email(channel=channel, raw=raw)
    return process_inbound(event.pk, handle_email)


@pytest.mark.django_db(transaction=True)  # no test transaction: each mail commits as in a worker
def test_a_new_mail_and_a_reply_cost_the_same_few_queries_whatever_the_data(
    mailbox, django_assert_max_num_queries, django_assert_num_queries
):
    """The handler's cost does not grow with the contacts, tickets and messages stored."""
    handle(mailbox.channel, new_mail(0))  # the worker has read the addresses once
    with django_assert_max_num_queries(NEW_MAIL_QUERIES) as first_new:
        new = handle(mailbox.channel, new_mail(1))
    with django_assert_max_num_queries(REPLY_QUERIES) as first_reply:
        reply = handle(mailbox.channel, reply_to(1))
    assert (new.status, new.error) == (Status.PROCESSED, "new ticket")
    assert reply.status == Status.PROCESSED and reply.ticket == new.ticket, reply.error

    for n in range(2, 12):
        handle(mailbox.channel, new_mail(n))
        handle(mailbox.channel, reply_to(n))

    with django_assert_num_queries(len(first_new)):
        later = handle(mailbox.channel, new_mail(20))
    with django_assert_num_queries(len(first_reply)):
        handle(mailbox.channel, reply_to(20))
    assert later.error == "new ticket"
    assert (Ticket.objects.count(), Message.objects.count()) == (13, 25)


def test_the_event_records_the_first_message_of_the_ticket_it_opened(mailbox):
    event = deliver(mailbox.channel, mail())
    [message] = event.ticket.messages.all()
    assert event.message == message
    assert message.external_id == "<first.1@customer.example>"


def test_create_ticket_gives_the_first_message_with_the_ticket(mailbox):
    ticket, created = create_ticket(
        subject="Hi", body="Hello", channel=mailbox.channel, external_id="<x@customer.example>"
    )
    assert created
    assert ticket.first_message == Message.objects.get(ticket=ticket)


def test_a_redelivered_first_message_inside_a_transaction_leaves_it_usable(mailbox):
    """No savepoint: the refused duplicate raises nothing, so the caller's transaction goes
    on, and the ticket row inserted for it is gone."""
    with transaction.atomic():
        first, _ = create_ticket(
            subject="Hi", body="Hello", channel=mailbox.channel, external_id="<y@customer.example>"
        )
        again, created = create_ticket(
            subject="Hi", body="Hello", channel=mailbox.channel, external_id="<y@customer.example>"
        )
        assert (again.pk, created) == (first.pk, False)
        assert Ticket.objects.count() == 1  # the transaction still answers
    assert list(Ticket.objects.values_list("pk", flat=True)) == [first.pk]
    assert Message.objects.count() == 1


# --- the address directory -----------------------------------------------------------------


def test_an_address_saved_in_this_process_routes_the_next_mail_at_once(mailbox):
    deliver(mailbox.channel, mail())  # the directory is read
    billing = ChannelFactory(name="Billing")
    settings_row = MailSettings.objects.create(channel=billing, addresses=[])
    settings_row.addresses = ["billing@helpdesk.example"]
    settings_row.save()

    event = deliver(
        mailbox.channel, mail(to="billing@helpdesk.example", message_id="<b@c.example>")
    )
    assert event.ticket.channel == billing


def test_a_deactivated_channel_no_longer_answers_for_its_address(mailbox):
    billing = MailSettings.objects.create(
        channel=ChannelFactory(name="Billing"), addresses=["billing@helpdesk.example"]
    ).channel
    first = deliver(mailbox.channel, mail(to="billing@helpdesk.example"))
    assert first.ticket.channel == billing
    billing.is_active = False
    billing.save()

    event = deliver(
        mailbox.channel, mail(to="billing@helpdesk.example", message_id="<2@c.example>")
    )
    assert event.ticket.channel == mailbox.channel  # the mailbox it was fetched from


def test_a_change_made_by_another_process_is_seen_after_the_directory_expires(mailbox, monkeypatch):
    """Another process's save sends this one no signal (here: an UPDATE without one)."""
    now = [1000.0]
    monkeypatch.setattr(inbound, "_clock", lambda: now[0])
    inbound.forget_directory()
    deliver(mailbox.channel, mail())
    MailSettings.objects.filter(pk=mailbox.pk).update(addresses=[SUPPORT, "sales@helpdesk.example"])

    now[0] += inbound.DIRECTORY_SECONDS - 1
    assert "sales@helpdesk.example" not in inbound.current_directory().ours
    now[0] += 1
    directory = inbound.current_directory()
    assert "sales@helpdesk.example" in directory.ours
    assert directory.channel_id_for(["sales@helpdesk.example"]) == mailbox.channel_id


def test_our_from_address_setting_counts_as_ours_at_once(mailbox, settings):
    deliver(mailbox.channel, mail())
    settings.DEFAULT_FROM_EMAIL = "noreply@helpdesk.example"
    event = deliver(
        mailbox.channel, mail(sender="noreply@helpdesk.example", message_id="<loop@c.example>")
    )
    assert event.status == Status.IGNORED, event.error
    assert "our own address" in event.error
    assert not Contact.objects.filter(email="noreply@helpdesk.example").exists()


def test_a_channel_deleted_in_this_process_is_forgotten(mailbox):
    doomed = MailSettings.objects.create(
        channel=ChannelFactory(name="Old", kind=Channel.Kind.TEAM_EMAIL),
        addresses=["old@helpdesk.example"],
    )
    assert inbound.current_directory().channel_id_for(["old@helpdesk.example"]) == doomed.channel_id
    doomed.delete()
    assert inbound.current_directory().channel_id_for(["old@helpdesk.example"]) is None


@pytest.mark.parametrize("recipients", [[], ["nobody@elsewhere.example"]])
def test_an_address_no_channel_answers_for_finds_none(mailbox, recipients):
    assert inbound.current_directory().channel_id_for(recipients) is None


def test_a_channel_another_process_deactivated_meanwhile_gets_no_new_ticket(mailbox):
    """The addresses kept still name it: the mail goes where it arrived, as if no channel
    answered for the address (and does not fail on the inactive channel)."""
    billing = MailSettings.objects.create(
        channel=ChannelFactory(name="Billing"), addresses=["billing@helpdesk.example"]
    ).channel
    assert inbound.current_directory().channel_id_for(["billing@helpdesk.example"]) == billing.pk
    Channel.objects.filter(pk=billing.pk).update(is_active=False)  # no signal: as elsewhere

    event = deliver(mailbox.channel, mail(to="billing@helpdesk.example"))

    assert event.status == Status.PROCESSED, event.error
    assert event.ticket.channel == mailbox.channel
