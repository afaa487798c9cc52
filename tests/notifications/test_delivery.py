"""Delivery: each (event, recipient, medium) is sent exactly once — under a duplicated task,
a duplicated enqueue or concurrent workers — with retries and backoff on SMTP errors, and a
failed delivery stays visible with its error."""

import smtplib
import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from django.db import connection
from django.utils import timezone

from helpdesk import services
from helpdesk.celery import app as celery_app
from notifications import delivery as delivery_service
from notifications import emails, tasks
from notifications.announce import announce_unassigned
from notifications.catalog import Event, Medium
from notifications.delivery import TemporaryFailure
from notifications.models import Delivery, Notification
from tests.notifications.conftest import assign_pending, committed, open_ticket

pytestmark = pytest.mark.django_db

Status = Delivery.Status


def assigned(agent, other_agent, medium):
    """The pending delivery by `medium` of "Otto assigned … to you"."""
    ticket = open_ticket(subject="Printer on fire")
    assign_pending(ticket, owner=agent, actor=other_agent)
    return Delivery.objects.get(medium=medium), ticket


def test_r24_in_app_delivery_creates_one_notification_even_when_a_task_runs_after_it(
    agent, other_agent
):
    """In-app deliveries are made with the announcement, in bulk (issue 14); a task for
    the same delivery (a sweep's, a redelivery) finds nothing to claim."""
    delivery, ticket = assigned(agent, other_agent, Medium.IN_APP)
    delivery.refresh_from_db()
    assert delivery.status == Status.SENT  # delivered by the announcement itself
    assert tasks.deliver_task.apply(args=(delivery.pk,)).get() == "skipped"
    assert tasks.deliver_task.apply(args=(delivery.pk,)).get() == "skipped"
    notification = Notification.objects.get()
    assert (notification.recipient, notification.ticket, notification.event) == (
        agent,
        ticket,
        Event.ASSIGNED_TO_ME,
    )
    assert notification.read_at is None
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.notification) == (
        Status.SENT,
        1,
        notification,
    )


def test_r24_email_is_sent_once_with_both_parts_a_link_and_auto_submitted(
    agent, other_agent, settings
):
    settings.SITE_URL = "https://help.example.com"
    delivery, ticket = assigned(agent, other_agent, Medium.EMAIL)
    tasks.deliver_task.apply(args=(delivery.pk,))
    tasks.deliver_task.apply(args=(delivery.pk,))
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    url = f"https://help.example.com/tickets/{ticket.pk}/"
    assert message.to == [agent.email]
    assert (
        message.subject == f"[Helpdesk] Otto Other assigned #{ticket.pk} “Printer on fire” to you"
    )
    assert message.extra_headers["Auto-Submitted"] == "auto-generated"
    assert url in message.body
    (html, mimetype), *_ = message.alternatives
    assert mimetype == "text/html" and f'href="{url}"' in html
    raw = message.message().as_string()
    assert "Auto-Submitted: auto-generated" in raw
    delivery.refresh_from_db()
    assert delivery.status == Status.SENT and delivery.sent_at is not None


def test_r24_a_duplicated_enqueue_creates_and_sends_nothing_new(agent):
    ticket = open_ticket()
    with committed():
        announce_unassigned(ticket_id=ticket.pk)
        announce_unassigned(ticket_id=ticket.pk)  # the same occurrence announced twice
    with committed():
        announce_unassigned(ticket_id=ticket.pk)  # and once more, after it was sent
    assert Delivery.objects.count() == 1
    assert Notification.objects.count() == 1


def test_r24_temporary_smtp_error_gives_the_claim_back_for_a_retry(agent, other_agent, monkeypatch):
    delivery, _ = assigned(agent, other_agent, Medium.EMAIL)
    calls = []

    def flaky_send(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
        return 1

    monkeypatch.setattr(EmailMultiAlternatives, "send", flaky_send)
    with pytest.raises(TemporaryFailure):
        delivery_service.deliver(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == Status.PENDING
    assert delivery.last_error == "SMTPServerDisconnected: Connection unexpectedly closed"
    assert delivery_service.deliver(delivery_id=delivery.pk) == "sent"
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, len(calls)) == (Status.SENT, 2, 2)


def test_r24_the_task_retries_smtp_errors_with_backoff_then_keeps_the_failure_visible(
    agent, other_agent, monkeypatch
):
    delivery, _ = assigned(agent, other_agent, Medium.EMAIL)
    countdowns = []
    original_retry = tasks.deliver_task.retry

    def record_retry(*args, **kwargs):
        countdowns.append(kwargs.get("countdown"))
        return original_retry(*args, **kwargs)

    def refuse(self, *args, **kwargs):
        raise smtplib.SMTPRecipientsRefused({agent.email: (450, b"Mailbox busy")})

    monkeypatch.setattr(tasks.deliver_task, "retry", record_retry)
    monkeypatch.setattr(EmailMultiAlternatives, "send", refuse)
    # `apply` runs each retry at once, in-process (a worker would wait `countdown`).
    monkeypatch.setitem(celery_app.conf, "task_eager_propagates", False)
    assert tasks.deliver_task.apply(args=(delivery.pk,)).get() == "failed"
    delivery.refresh_from_db()
    assert countdowns == [30, 60, 120, 240, 480]  # exponential backoff
    assert delivery.status == Status.FAILED
    assert delivery.attempts == tasks.EMAIL_MAX_RETRIES + 1
    assert delivery.last_error.startswith("Gave up after 6 attempts: SMTPRecipientsRefused")
    assert not mail.outbox


def test_r24_a_permanent_refusal_fails_at_once_without_retries(agent, other_agent, monkeypatch):
    delivery, _ = assigned(agent, other_agent, Medium.EMAIL)

    def refuse(self, *args, **kwargs):
        raise smtplib.SMTPRecipientsRefused({agent.email: (550, b"No such user")})

    monkeypatch.setattr(EmailMultiAlternatives, "send", refuse)
    assert tasks.deliver_task.apply(args=(delivery.pk,)).get() == "failed"
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (Status.FAILED, 1)
    assert "No such user" in delivery.last_error


def test_r24_an_unexpected_error_leaves_the_delivery_failed_with_its_error(
    agent, other_agent, monkeypatch
):
    delivery, _ = assigned(agent, other_agent, Medium.EMAIL)

    def broken(self, *args, **kwargs):
        raise ValueError("bad header")

    monkeypatch.setattr(EmailMultiAlternatives, "send", broken)
    with pytest.raises(ValueError):
        delivery_service.deliver(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.last_error) == (Status.FAILED, "ValueError: bad header")


def test_failed_deliveries_can_be_retried(agent, other_agent):
    delivery, _ = assigned(agent, other_agent, Medium.EMAIL)
    Delivery.objects.filter(pk=delivery.pk).update(status=Status.FAILED, last_error="x")
    with committed():
        from notifications.services import publish_deliveries

        publish_deliveries(delivery_service.retry_failed(ids=[delivery.pk]))
    delivery.refresh_from_db()
    assert delivery.status == Status.SENT and len(mail.outbox) == 1


def test_the_sweep_sends_what_the_broker_lost_and_retries_interrupted_sends(
    agent, other_agent, published_tasks
):
    """A lost message (broker down, Redis restarted) and an email whose worker died while
    sending both go out on the next sweep; the email keeps its Message-ID, so a copy that
    did leave the first time is recognisable as the same message."""
    delivery, _ = assigned(agent, other_agent, Medium.EMAIL)
    in_app = Delivery.objects.get(medium=Medium.IN_APP)
    old = timezone.now() - timedelta(minutes=5)
    # A pending delivery whose message was lost (an in-app one, as a task would have left it
    # before issue 14 delivered them with the announcement).
    Delivery.objects.filter(pk=in_app.pk).update(
        due_at=old, status=Status.PENDING, notification=None, attempts=0
    )
    Notification.objects.all().delete()
    Delivery.objects.filter(pk=delivery.pk).update(
        status=Status.SENDING, claimed_at=timezone.now() - timedelta(minutes=3)
    )
    assert tasks.sweep_deliveries_task.apply().get() == 2
    assert published_tasks.run() == [tasks.deliver_task.name] * 2
    in_app.refresh_from_db()
    delivery.refresh_from_db()
    assert in_app.status == Status.SENT and Notification.objects.count() == 1
    assert delivery.status == Status.SENT and "Interrupted" in delivery.last_error
    assert len(mail.outbox) == 1
    assert mail.outbox[0].extra_headers["Message-ID"] == emails.message_id(delivery)
    assert tasks.sweep_deliveries_task.apply().get() == 0  # nothing is sent twice
    assert published_tasks.names == []


def test_the_sweep_leaves_a_sending_email_alone_within_its_lease(agent, other_agent):
    delivery, _ = assigned(agent, other_agent, Medium.EMAIL)
    Delivery.objects.filter(pk=delivery.pk).update(
        status=Status.SENDING, claimed_at=timezone.now() - timedelta(seconds=30)
    )
    assert tasks.sweep_deliveries_task.apply().get() == 0
    delivery.refresh_from_db()
    assert delivery.status == Status.SENDING and not mail.outbox


def test_a_temporary_failure_is_due_again_after_its_backoff(agent, other_agent, settings):
    """The next try is kept in PostgreSQL (`due_at`), not only as the broker's countdown:
    the sweep sends it if that message is lost."""
    settings.NOTIFICATIONS_RETRY_BASE_SECONDS = 30
    settings.NOTIFICATIONS_PENDING_GRACE_SECONDS = 120
    delivery, _ = assigned(agent, other_agent, Medium.EMAIL)
    before = timezone.now()
    # As a temporary failure leaves it: pending, due after its backoff.
    Delivery.objects.filter(pk=delivery.pk).update(
        attempts=1, last_error="421 busy", due_at=before + timedelta(seconds=60)
    )
    assert delivery_service.backoff_seconds(1) == 30
    assert delivery_service.backoff_seconds(3) == 120
    assert delivery.pk not in delivery_service.stale_delivery_ids(
        now=before + timedelta(seconds=170)
    )
    assert delivery.pk in delivery_service.stale_delivery_ids(now=before + timedelta(seconds=190))


def test_the_sweep_leaves_young_pending_deliveries_to_their_task(
    agent, other_agent, published_tasks
):
    assigned(agent, other_agent, Medium.EMAIL)
    assert tasks.sweep_deliveries_task.apply().get() == 0
    assert published_tasks.names == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_r24_concurrent_workers_send_each_delivery_once(
    agent, other_agent, monkeypatch, published_tasks
):
    monkeypatch.setattr("notifications.services.publish_deliveries", lambda ids: None)
    ticket = open_ticket()
    services.assign(ticket=ticket, owner=agent, actor=other_agent, cause="manual")
    assert published_tasks.run() == ["notifications.tasks.announce_assignment_task"]
    # Committed and announced: the in-app delivery made, the email pending, not enqueued.
    assert Notification.objects.count() == 1
    ids = list(Delivery.objects.values_list("pk", flat=True))
    barrier = threading.Barrier(4)
    outcomes = []

    def worker():
        try:
            barrier.wait()
            for delivery_id in ids:
                outcomes.append(delivery_service.deliver(delivery_id=delivery_id))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes).count("sent") == 1  # the email, by exactly one worker
    assert Notification.objects.count() == 1
    assert len(mail.outbox) == 1
