"""Replies by email (issue 11, outbound): an agent's reply on an email channel becomes one
outbox row in the reply's transaction and leaves exactly once — under a duplicated task, a
temporary SMTP failure (queued again with a backoff), a permanent refusal (failed, with the
error, retried from the thread or the admin) and a worker that died mid-send (sent again with
the same Message-ID) — threaded with In-Reply-To and References."""

import smtplib
from datetime import timedelta
from email import message_from_bytes

import pytest
from django.core import mail
from django.core.files.base import ContentFile
from django.core.mail import EmailMultiAlternatives
from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from helpdesk import services
from helpdesk.celery import app as celery_app
from helpdesk.channel_kinds import kinds_sending_by
from helpdesk.models import Attachment, Channel, Contact, Message, OutboundMessage
from mailroom import outbound, tasks
from mailroom.models import MailSettings, ReplyToken
from tests.factories import ChannelFactory, ContactFactory, MessageFactory, TicketFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_celery")]

Status = OutboundMessage.Status


def committed():
    """`with committed():` — run the block's on-commit callbacks, as a real commit would."""
    return TestCase.captureOnCommitCallbacks(execute=True)


def email_ticket(agent, **kwargs):
    channel = kwargs.pop("channel", None) or ChannelFactory(
        name="Support", address="support@help.example"
    )
    contact = (
        kwargs.pop("contact", None)
        or Contact.objects.get_or_create(
            email="kim@customer.example", defaults={"name": "Kim Customer"}
        )[0]
    )
    return TicketFactory(
        channel=channel, contact=contact, owner=agent, subject="Printer on fire", **kwargs
    )


def to_contact(address="kim@customer.example"):
    return [m for m in mail.outbox if any(address in to for to in m.to)]


def reply_queued(agent, ticket=None, body="Have you tried turning it off?"):
    """An agent's reply, committed but not sent: its outbox row stays queued."""
    ticket = ticket or email_ticket(agent)
    message = services.reply(ticket=ticket, author=agent, body=body)  # on-commit never runs
    return message.outbound, ticket


# --- the listener ------------------------------------------------------------------------


def test_a_reply_on_an_email_channel_gets_one_outbox_row_and_leaves_after_commit(agent):
    ticket = email_ticket(agent)
    with committed() as callbacks:
        message = services.reply(ticket=ticket, author=agent, body="On its way")
        row = OutboundMessage.objects.get()
        assert (row.message, row.channel, row.status) == (message, ticket.channel, Status.QUEUED)
        assert to_contact() == []  # nothing leaves before the commit
    assert callbacks
    row.refresh_from_db()
    assert row.status == Status.SENT and row.attempts == 1 and row.sent_at is not None
    assert len(to_contact()) == 1
    assert OutboundMessage.objects.count() == 1


def test_a_rolled_back_reply_queues_nothing(agent):
    ticket = email_ticket(agent)
    with pytest.raises(RuntimeError), committed():
        from django.db import transaction

        with transaction.atomic():
            services.reply(ticket=ticket, author=agent, body="Never mind")
            raise RuntimeError
    assert not OutboundMessage.objects.exists() and to_contact() == []


def test_notes_and_inbound_mail_never_leave(agent):
    ticket = email_ticket(agent)
    with committed():
        services.add_note(ticket=ticket, author=agent, body="Customer is grumpy")
        services.add_inbound_message(ticket=ticket, body="Still broken")
    assert not OutboundMessage.objects.exists() and to_contact() == []


@pytest.mark.parametrize("kind", [k for k in Channel.Kind if k not in kinds_sending_by("email")])
def test_replies_on_channels_that_do_not_send_email_get_no_row(agent, kind):
    ticket = email_ticket(agent, channel=ChannelFactory(kind=kind))
    with committed():
        services.reply(ticket=ticket, author=agent, body="Hello")
    assert not OutboundMessage.objects.exists()


def test_a_contact_without_email_or_a_ticket_without_channel_gets_no_row(agent):
    for ticket in (
        email_ticket(agent, contact=ContactFactory(email="", phone="+4712345678")),
        TicketFactory(channel=None, owner=agent),
    ):
        services.reply(ticket=ticket, author=agent, body="Hello")
    assert not OutboundMessage.objects.exists()


@pytest.mark.parametrize(
    "ours", ["billing@help.example", "noreply@help.example", "robot@help.example"]
)
def test_a_contact_whose_address_is_ours_gets_no_mail(agent, settings, ours):
    """A channel's address, a channel's from address, DEFAULT_FROM_EMAIL: mail to it would
    come back in as mail."""
    settings.DEFAULT_FROM_EMAIL = "Helpdesk <robot@help.example>"
    MailSettings.objects.create(
        channel=ChannelFactory(name="Billing"),
        addresses=["billing@help.example"],
        from_address="noreply@help.example",
    )
    ticket = email_ticket(agent, contact=ContactFactory(email=ours.upper(), name="Us"))
    with committed():
        services.reply(ticket=ticket, author=agent, body="Hello")
    assert not OutboundMessage.objects.exists()
    assert mail.outbox == []
    # Anyone else still gets their reply.
    with committed():
        services.reply(ticket=email_ticket(agent), author=agent, body="Hello")
    assert len(to_contact()) == 1


# --- composing ---------------------------------------------------------------------------


def test_composing_sets_from_to_subject_threading_headers_and_both_parts(agent):
    ticket = email_ticket(agent)
    first = MessageFactory(
        ticket=ticket, direction="inbound", external_id="<first@customer.example>"
    )
    MessageFactory(ticket=ticket, direction="inbound", external_id="<sha256-ab@mailroom.invalid>")
    earlier, _ = reply_queued(agent, ticket, body="First answer")
    OutboundMessage.objects.filter(pk=earlier.pk).update(status=Status.SENT)
    latest = MessageFactory(
        ticket=ticket, direction="inbound", external_id="<second@customer.example>"
    )
    MessageFactory(ticket=ticket, direction="note", author=agent, body="internal")
    row, _ = reply_queued(agent, ticket, body="Line one\n<b>not bold</b> & more")

    email = outbound.compose(OutboundMessage.objects.get(pk=row.pk))

    assert email.from_email == "Support <support@help.example>"
    assert email.to == ["Kim Customer <kim@customer.example>"]
    assert email.subject == f"Re: Printer on fire [#{ticket.pk}]"
    assert email.reply_to == []  # the channel answers for no reply@ address
    headers = email.extra_headers
    assert headers["Message-ID"] == row.provider_id
    assert row.provider_id.startswith(f"<reply.{row.message_id}.")
    assert row.provider_id.endswith("@help.example>")
    assert headers["In-Reply-To"] == latest.external_id
    assert headers["References"] == " ".join(
        [first.external_id, earlier.provider_id, latest.external_id]
    )
    # Every mail we send is marked, so that no out-of-office answers it (RFC 3834).
    assert headers["Auto-Submitted"] == "auto-generated"
    assert email.body == "Line one\n<b>not bold</b> & more\n"
    (html, mimetype), *_ = email.alternatives
    assert mimetype == "text/html"
    assert "&lt;b&gt;not bold&lt;/b&gt; &amp; more" in html and "<b>" not in html
    raw = message_from_bytes(email.message().as_bytes())
    assert raw["Message-ID"] == row.provider_id
    assert raw["In-Reply-To"] == latest.external_id


def test_mail_settings_give_from_signature_and_the_reply_token_address(agent):
    ticket = email_ticket(agent)
    MailSettings.objects.create(
        channel=ticket.channel,
        addresses=["support@help.example", "reply@help.example"],
        from_name="Acme Support",
        from_address="help@acme.example",
        signature="Acme Support\nhttps://acme.example",
    )
    row, _ = reply_queued(agent, ticket, body="Fixed.")
    email = outbound.compose(OutboundMessage.objects.get(pk=row.pk))
    token = ReplyToken.objects.get(ticket=ticket).token
    assert email.from_email == "Acme Support <help@acme.example>"
    assert email.reply_to == [f"reply+{token}@help.example"]
    assert email.body == "Fixed.\n\n-- \nAcme Support\nhttps://acme.example\n"
    assert "Acme Support<br>https://acme.example" in email.alternatives[0][0]
    assert row.provider_id.endswith("@acme.example>")


def test_subject_keeps_one_re_and_one_tag(agent):
    ticket = email_ticket(agent)
    ticket.subject = f"RE: Re:  Printer   on fire [#{ticket.pk}]"
    assert outbound.subject_for(ticket) == f"Re: Printer on fire [#{ticket.pk}]"


def test_the_messages_attachments_go_with_it(agent, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    row, _ = reply_queued(agent)
    Attachment.objects.create(
        message=row.message,
        file=ContentFile(b"%PDF-1.4 invoice", name="invoice.pdf"),
        filename="invoice.pdf",
        content_type="application/pdf",
        size=16,
    )
    email = outbound.compose(OutboundMessage.objects.get(pk=row.pk))
    assert [(a.filename, a.content, a.mimetype) for a in email.attachments] == [
        ("invoice.pdf", b"%PDF-1.4 invoice", "application/pdf")
    ]


def test_references_are_bounded_to_the_first_and_the_latest(agent):
    ticket = email_ticket(agent)
    for n in range(30):
        MessageFactory(ticket=ticket, direction="inbound", external_id=f"<m{n}@customer.example>")
    row, _ = reply_queued(agent, ticket)
    in_reply_to, references = outbound.thread_ids(row)
    assert in_reply_to == "<m29@customer.example>"
    assert len(references) == outbound.MAX_REFERENCES
    assert references[0] == "<m0@customer.example>" and references[1] == "<m11@customer.example>"


# --- sending exactly once ----------------------------------------------------------------


def test_a_duplicated_task_sends_nothing_twice(agent):
    row, _ = reply_queued(agent)
    assert tasks.send_outbound_task.delay(row.pk).get() == "sent"
    assert tasks.send_outbound_task.delay(row.pk).get() == "skipped"
    assert len(to_contact()) == 1
    row.refresh_from_db()
    assert (row.status, row.attempts) == (Status.SENT, 1)
    assert to_contact()[0].extra_headers["Message-ID"] == row.provider_id


def test_a_temporary_failure_queues_it_again_due_after_the_backoff(agent, monkeypatch, settings):
    settings.NOTIFICATIONS_RETRY_BASE_SECONDS = 30
    row, _ = reply_queued(agent)

    def busy(self, *args, **kwargs):
        raise smtplib.SMTPRecipientsRefused({"kim@customer.example": (451, b"Try later")})

    monkeypatch.setattr(EmailMultiAlternatives, "send", busy)
    before = timezone.now()
    with pytest.raises(outbound.TemporaryFailure) as caught:
        outbound.send(outbound_id=row.pk)
    assert caught.value.retry_in == 30
    row.refresh_from_db()
    assert row.status == Status.QUEUED and row.attempts == 1
    assert row.last_error == "Recipient refused: kim@customer.example: 451 Try later"
    assert before + timedelta(seconds=29) <= row.due_at <= timezone.now() + timedelta(seconds=31)
    with pytest.raises(outbound.TemporaryFailure) as caught:
        outbound.send(outbound_id=row.pk)
    assert caught.value.retry_in == 60  # doubled
    monkeypatch.undo()
    assert outbound.send(outbound_id=row.pk) == "sent"
    row.refresh_from_db()
    assert (row.status, row.attempts) == (Status.SENT, 3)


def test_the_task_retries_with_the_backoff_then_gives_up_visibly(agent, monkeypatch):
    row, _ = reply_queued(agent)
    countdowns = []
    original_retry = tasks.send_outbound_task.retry

    def recording_retry(*args, **kwargs):
        countdowns.append(kwargs.get("countdown"))
        return original_retry(*args, **kwargs)

    def down(self, *args, **kwargs):
        raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")

    monkeypatch.setattr(tasks.send_outbound_task, "retry", recording_retry)
    monkeypatch.setattr(EmailMultiAlternatives, "send", down)
    # Eager mode runs each retry at once, in-process (a worker would wait `countdown`).
    monkeypatch.setitem(celery_app.conf, "task_eager_propagates", False)
    assert tasks.send_outbound_task.delay(row.pk).get() == "failed"
    assert countdowns == [30, 60, 120, 240, 480]
    row.refresh_from_db()
    assert (row.status, row.attempts) == (Status.FAILED, outbound.MAX_ATTEMPTS)
    assert row.last_error.startswith("Gave up after 6 attempts: SMTPServerDisconnected")


def test_a_permanent_refusal_fails_at_once_with_the_smtp_error(agent, monkeypatch):
    row, _ = reply_queued(agent)

    def refused(self, *args, **kwargs):
        raise smtplib.SMTPRecipientsRefused({"kim@customer.example": (550, b"No such user")})

    monkeypatch.setattr(EmailMultiAlternatives, "send", refused)
    assert tasks.send_outbound_task.delay(row.pk).get() == "failed"
    row.refresh_from_db()
    assert (row.status, row.attempts) == (Status.FAILED, 1)
    assert row.last_error == "Recipient refused: kim@customer.example: 550 No such user"


def test_a_failed_reply_is_retried_with_the_same_message_id(agent, monkeypatch):
    row, _ = reply_queued(agent)
    message_id = row.provider_id
    monkeypatch.setattr(
        EmailMultiAlternatives,
        "send",
        lambda self, *a, **k: (_ for _ in ()).throw(smtplib.SMTPDataError(554, b"Rejected")),
    )
    outbound.send(outbound_id=row.pk)
    monkeypatch.undo()
    with committed():
        assert outbound.retry_outbound(ids=[row.pk]) == [row.pk]
    row.refresh_from_db()
    assert row.status == Status.SENT and row.provider_id == message_id
    assert to_contact()[0].extra_headers["Message-ID"] == message_id


# --- the sweep ---------------------------------------------------------------------------


def test_an_interrupted_send_is_sent_again_with_the_same_message_id(agent, settings):
    settings.EMAIL_SENDING_LEASE_SECONDS = 120
    row, _ = reply_queued(agent)
    # A worker claimed it and died before it finished.
    OutboundMessage.objects.filter(pk=row.pk).update(
        status=Status.SENDING, attempts=1, claimed_at=timezone.now() - timedelta(seconds=121)
    )
    assert tasks.sweep_outbound_task.delay().get() == 1
    row.refresh_from_db()
    assert (row.status, row.attempts) == (Status.SENT, 2)
    (email,) = to_contact()
    assert email.extra_headers["Message-ID"] == row.provider_id


def test_the_sweep_leaves_a_send_within_its_lease_and_young_queued_rows_alone(agent):
    row, _ = reply_queued(agent)
    assert tasks.sweep_outbound_task.delay().get() == 0  # just queued: its task is coming
    OutboundMessage.objects.filter(pk=row.pk).update(
        status=Status.SENDING, claimed_at=timezone.now() - timedelta(seconds=10)
    )
    assert tasks.sweep_outbound_task.delay().get() == 0
    assert to_contact() == []


def test_the_sweep_sends_what_the_broker_lost_then_waits_a_grace_again(agent, settings):
    settings.JOBS_GRACE_SECONDS = 60
    lost, _ = reply_queued(agent)
    scheduled, _ = reply_queued(agent, body="A retry that is not due yet")
    OutboundMessage.objects.filter(pk=lost.pk).update(due_at=timezone.now() - timedelta(seconds=61))
    OutboundMessage.objects.filter(pk=scheduled.pk).update(
        due_at=timezone.now() + timedelta(seconds=300), last_error="451 Try later"
    )
    ids = outbound.stale_outbound_ids()
    assert ids == [lost.pk]
    assert outbound.stale_outbound_ids() == []  # due again only after another grace
    assert tasks.sweep_outbound_task.delay().get() == 0


def test_the_outbound_sweep_is_scheduled(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["mail-outbound-sweep"]
    assert entry == {
        "task": "mailroom.tasks.sweep_outbound_task",
        "schedule": settings.SWEEP_SECONDS,
    }


# --- the thread and the admin ------------------------------------------------------------


def test_the_thread_shows_sent_queued_and_failed_with_a_retry_button(agent, client):
    ticket = email_ticket(agent)
    sent, _ = reply_queued(agent, ticket, body="Sent one")
    reply_queued(agent, ticket, body="Queued one")
    failed, _ = reply_queued(agent, ticket, body="Failed one")
    retrying, _ = reply_queued(agent, ticket, body="Retrying one")
    sent_at = timezone.now().replace(hour=14, minute=2)
    OutboundMessage.objects.filter(pk=sent.pk).update(status=Status.SENT, sent_at=sent_at)
    OutboundMessage.objects.filter(pk=failed.pk).update(
        status=Status.FAILED, last_error="SMTPRecipientsRefused: 550 No such user"
    )
    OutboundMessage.objects.filter(pk=retrying.pk).update(
        last_error="SMTPServerDisconnected: closed", due_at=timezone.now() + timedelta(hours=1)
    )
    client.force_login(agent)
    html = client.get(reverse("ticket", args=[ticket.pk])).content.decode()
    assert 'data-delivery="sent"' in html and "Sent <time" in html and ">14:02<" in html
    assert 'data-delivery="queued"' in html and "Queued" in html
    assert "Failed: SMTPRecipientsRefused: 550 No such user" in html
    assert "Not sent yet: SMTPServerDisconnected: closed — will retry at" in html
    retry_url = reverse("outbound-retry", args=[ticket.pk, failed.pk])
    assert f'action="{retry_url}"' in html and html.count("data-retry") == 1

    with committed():
        response = client.post(retry_url)
    assert response.status_code == 302
    failed.refresh_from_db()
    assert failed.status == Status.SENT


def test_the_retry_button_only_retries_a_reply_of_that_ticket(agent, client):
    failed, _ = reply_queued(agent)
    OutboundMessage.objects.filter(pk=failed.pk).update(status=Status.FAILED)
    other = email_ticket(agent)
    client.force_login(agent)
    response = client.post(reverse("outbound-retry", args=[other.pk, failed.pk]))
    assert response.status_code == 404
    assert client.get(reverse("outbound-retry", args=[other.pk, failed.pk])).status_code == 405
    failed.refresh_from_db()
    assert failed.status == Status.FAILED


def test_the_admin_lists_the_outbox_by_status_and_retries(client, superadmin, agent):
    client.force_login(superadmin)
    admin_client = client
    failed, _ = reply_queued(agent)
    OutboundMessage.objects.filter(pk=failed.pk).update(status=Status.FAILED, last_error="550")
    url = reverse("admin:helpdesk_outboundmessage_changelist")
    assert admin_client.get(url, {"status__exact": "failed"}).status_code == 200
    with committed():
        response = admin_client.post(
            url, {"action": "retry", "_selected_action": [failed.pk]}, follow=True
        )
    assert "1 failed replies will be sent again." in response.content.decode()
    failed.refresh_from_db()
    assert failed.status == Status.SENT


def test_a_reply_message_has_one_outbox_row_even_if_queued_twice(agent):
    row, ticket = reply_queued(agent)
    message = Message.objects.get(pk=row.message_id)
    assert outbound.queue_reply(message=message, ticket=ticket) == row
    assert OutboundMessage.objects.count() == 1


def test_the_thread_costs_the_same_queries_with_many_replies_and_attachments(
    agent, client, settings, tmp_path, django_assert_num_queries
):
    settings.MEDIA_ROOT = tmp_path
    ticket = email_ticket(agent)
    reply_queued(agent, ticket, body="First")
    client.force_login(agent)
    url = reverse("ticket", args=[ticket.pk])
    with CaptureQueriesContext(connection) as first:
        client.get(url)
    for n in range(10):
        row, _ = reply_queued(agent, ticket, body=f"Reply {n}")
        inbound = MessageFactory(ticket=ticket, direction="inbound")
        Attachment.objects.create(
            message=inbound,
            file=ContentFile(b"x", name=f"f{n}.txt"),
            filename=f"f{n}.txt",
            content_type="text/plain",
            size=1,
        )
        OutboundMessage.objects.filter(pk=row.pk).update(
            status=[Status.SENT, Status.FAILED][n % 2], sent_at=timezone.now()
        )
    with django_assert_num_queries(len(first)):
        html = client.get(url).content.decode()
    assert html.count("data-attachment") == 10 and html.count("data-retry") == 5


def test_rows_of_other_ways_out_are_never_claimed_swept_or_retried_by_email(agent):
    """The outbox is shared: a WhatsApp reply's row is the whatsapp app's to send."""
    channel = ChannelFactory(kind=Channel.Kind.WHATSAPP, name="WhatsApp")
    ticket = TicketFactory(channel=channel, contact=ContactFactory(email="kim@customer.example"))
    message = MessageFactory(ticket=ticket, direction=Message.Direction.OUTBOUND, author=agent)
    stale = timezone.now() - timedelta(hours=2)
    queued = OutboundMessage.objects.create(message=message, channel=channel, due_at=stale)
    other = MessageFactory(ticket=ticket, direction=Message.Direction.OUTBOUND, author=agent)
    failed = OutboundMessage.objects.create(message=other, channel=channel, status=Status.FAILED)

    assert outbound.send(outbound_id=queued.pk) == outbound.Outcome.SKIPPED
    assert outbound.stale_outbound_ids() == []
    assert outbound.retry_outbound(ids=[failed.pk]) == []
    queued.refresh_from_db()
    failed.refresh_from_db()
    assert (queued.status, queued.attempts, failed.status) == (Status.QUEUED, 0, Status.FAILED)
    assert not to_contact()
