"""The outbox's core: one set of rules (`helpdesk.outbox`) for every way out, and the
thread's one Retry view, which hands a failed row to the app that sends it."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from helpdesk import outbox
from helpdesk.channel_kinds import kinds_sending_by
from helpdesk.models import Message, OutboundMessage
from tests.factories import MessageFactory, TicketFactory

pytestmark = pytest.mark.django_db

Status = OutboundMessage.Status
EMAIL = kinds_sending_by("email")


def row_on(ticket, **fields) -> OutboundMessage:
    message = MessageFactory(ticket=ticket, direction=Message.Direction.OUTBOUND)
    return OutboundMessage.objects.create(message=message, channel=ticket.channel, **fields)


@pytest.fixture
def calls(monkeypatch):
    """Each registered way out's retry replaced by a recorder (the real apps stay intact)."""
    seen: list[tuple[str, list[int], int]] = []

    def recorder(name):
        def retry(*, ids, ticket=None):
            seen.append((name, list(ids), ticket.pk))
            return list(ids)

        return retry

    for name in ("email", "whatsapp", "chat_webhook"):
        monkeypatch.setitem(outbox._senders, name, outbox.Sender(name, recorder(name)))
    return seen


def test_every_way_out_registers_its_retry():
    from livechat import webhooks
    from mailroom import outbound as mail
    from whatsapp import outbound as wa

    assert outbox.sender_for("email").retry is mail.retry_outbound
    assert outbox.sender_for("whatsapp").retry is wa.retry_outbound
    assert outbox.sender_for("chat_webhook").retry is webhooks.retry_outbound


def test_the_retry_view_hands_each_row_to_the_app_that_sends_it(agent, agent_client, calls):
    mail_ticket = TicketFactory(owner=agent, channel__kind="team_email")
    chat_ticket = TicketFactory(owner=agent, channel__kind="custom_chat")
    by_mail = row_on(mail_ticket, status=Status.FAILED)
    by_webhook = row_on(chat_ticket, status=Status.FAILED)

    response = agent_client.post(reverse("outbound-retry", args=[chat_ticket.pk, by_webhook.pk]))
    assert response.status_code == 302
    assert response["Location"].endswith(f"#message-{by_webhook.message_id}")
    agent_client.post(reverse("outbound-retry", args=[mail_ticket.pk, by_mail.pk]))

    assert calls == [
        ("chat_webhook", [by_webhook.pk], chat_ticket.pk),
        ("email", [by_mail.pk], mail_ticket.pk),
    ]


def test_the_retry_view_refuses_a_row_of_another_ticket_and_a_get(agent, agent_client, calls):
    ticket = TicketFactory(owner=agent, channel__kind="team_email")
    other = TicketFactory(owner=agent, channel__kind="team_email")
    failed = row_on(ticket, status=Status.FAILED)
    url = reverse("outbound-retry", args=[other.pk, failed.pk])

    assert agent_client.post(url).status_code == 404
    assert agent_client.get(reverse("outbound-retry", args=[ticket.pk, failed.pk])).status_code == (
        405
    )
    assert calls == []
    failed.refresh_from_db()
    assert failed.status == Status.FAILED


def test_the_real_retry_queues_a_failed_email_again_and_says_so(agent, agent_client):
    ticket = TicketFactory(owner=agent, channel__kind="team_email")
    failed = row_on(ticket, status=Status.FAILED, attempts=6, last_error="550 No such user")

    response = agent_client.post(
        reverse("outbound-retry", args=[ticket.pk, failed.pk]), follow=True
    )
    assert "The reply is queued to be sent again." in response.content.decode()
    failed.refresh_from_db()
    assert (failed.status, failed.attempts) == (Status.QUEUED, 0)
    again = agent_client.post(reverse("outbound-retry", args=[ticket.pk, failed.pk]), follow=True)
    assert "That reply is not failed any more." in again.content.decode()


def test_a_row_no_app_sends_is_left_as_it_is_with_a_clear_message(agent, agent_client, monkeypatch):
    monkeypatch.delitem(outbox._senders, "email")
    ticket = TicketFactory(owner=agent, channel__kind="team_email")
    failed = row_on(ticket, status=Status.FAILED)

    response = agent_client.post(
        reverse("outbound-retry", args=[ticket.pk, failed.pk]), follow=True
    )
    assert response.status_code == 200
    assert "cannot be sent from here" in response.content.decode()
    failed.refresh_from_db()
    assert failed.status == Status.FAILED


# --- the rules ---------------------------------------------------------------------------


def test_claim_takes_a_queued_row_of_its_kinds_once(agent):
    mail = row_on(TicketFactory(channel__kind="team_email"))
    chat = row_on(TicketFactory(channel__kind="custom_chat"))

    assert outbox.claim(mail.pk, EMAIL) is True
    assert outbox.claim(mail.pk, EMAIL) is False  # a duplicate task sends nothing
    assert outbox.claim(chat.pk, EMAIL) is False  # another way out's row
    mail.refresh_from_db()
    chat.refresh_from_db()
    assert (mail.status, mail.attempts, chat.status) == (Status.SENDING, 1, Status.QUEUED)


def test_finish_settles_only_a_claimed_row():
    row = row_on(TicketFactory(channel__kind="team_email"))
    outbox.finish(row.pk, Status.SENT, "")
    row.refresh_from_db()
    assert row.status == Status.QUEUED  # not claimed: left alone

    outbox.claim(row.pk, EMAIL)
    later = timezone.now() + timedelta(minutes=5)
    outbox.finish(row.pk, Status.QUEUED, "x" * 3000, due_at=later)
    row.refresh_from_db()
    assert (row.status, row.due_at, len(row.last_error)) == (Status.QUEUED, later, 2000)


def test_retry_runs_the_apps_reset_in_the_same_step(django_capture_on_commit_callbacks):
    ticket = TicketFactory(channel__kind="team_email")
    failed = row_on(ticket, status=Status.FAILED, attempts=6)
    sent = row_on(ticket, status=Status.SENT)
    reset: list[list[int]] = []

    with django_capture_on_commit_callbacks() as published:
        retried = outbox.retry(
            [failed.pk, sent.pk],
            kinds=EMAIL,
            task_name="mailroom.tasks.send_outbound_task",
            ticket=ticket,
            reset=reset.append,
        )
    assert retried == [failed.pk] and reset == [[failed.pk]] and len(published) == 1
    failed.refresh_from_db()
    assert (failed.status, failed.attempts) == (Status.QUEUED, 0)


def test_stale_ids_requeues_interrupted_sends_and_finds_overdue_rows(settings):
    now = timezone.now()
    ticket = TicketFactory(channel__kind="team_email")
    long_ago = now - timedelta(hours=1)
    interrupted = row_on(ticket, status=Status.SENDING, claimed_at=long_ago)
    overdue = row_on(ticket, due_at=long_ago)
    fresh = row_on(ticket, status=Status.SENDING, claimed_at=now)
    row_on(TicketFactory(channel__kind="custom_chat"), due_at=long_ago)  # not email's

    ids = outbox.stale_ids(kinds=EMAIL, lease_seconds=60, now=now)
    assert ids == [interrupted.pk, overdue.pk]
    interrupted.refresh_from_db()
    fresh.refresh_from_db()
    assert (interrupted.status, interrupted.due_at) == (Status.QUEUED, now)
    assert interrupted.last_error == outbox.INTERRUPTED
    assert fresh.status == Status.SENDING
    assert outbox.stale_ids(kinds=EMAIL, lease_seconds=60, now=now) == []
