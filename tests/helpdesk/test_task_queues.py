"""One Celery queue per kind of work (settings.CELERY_TASK_ROUTES, issue 14): every task of
the project goes to its queue however it is published, a worker listens to all of them
unless told (`-Q`, `WORKER_QUEUES` of bin/serve), and a burst of notifications never holds
back the next routing decision — with a worker of its own for routing, or one worker for
everything, which takes turns between the queues. And a worker's processes keep their
database connections from task to task when CONN_MAX_AGE says so."""

import subprocess
import time
from datetime import timedelta

import pytest
from celery.exceptions import QueueNotFound
from django.conf import settings
from django.db import connection
from django.utils import timezone

from channels_cfg.models import AssignMode
from helpdesk import jobs, services
from helpdesk.celery import app as celery_app
from helpdesk.models import Ticket
from notifications import tasks as notification_tasks
from notifications.catalog import Event, Medium
from notifications.models import Delivery
from routing import tasks as routing_tasks
from tests.factories import AgentFactory, ChannelAutomationFactory, TicketFactory
from tests.support.services import ROOT, queued_messages, task_queues, wait_until

APPS = (
    "helpdesk",
    "routing",
    "notifications",
    "mailroom",
    "whatsapp",
    "calls",
    "webforms",
    "livechat",
    "people",
    "channels_cfg",
    "demo",
)

# Every task of the project and its queue: a new task must be placed here on purpose.
EXPECTED = {
    "routing.tasks.route_ticket_task": "routing",
    "calls.tasks.process_call_task": "intake",
    "livechat.tasks.process_chat_task": "intake",
    "mailroom.tasks.process_email_task": "intake",
    "mailroom.tasks.poll_mailbox_task": "intake",
    "webforms.tasks.process_form_task": "intake",
    "whatsapp.tasks.process_whatsapp_task": "intake",
    "notifications.tasks.announce_assignment_task": "notifications",
    "notifications.tasks.announce_customer_reply_task": "notifications",
    "notifications.tasks.announce_unassigned_task": "notifications",
    "notifications.tasks.deliver_task": "notifications",
    "notifications.tasks.send_digest_task": "notifications",
    "livechat.tasks.send_chat_webhook_task": "outbound",
    "mailroom.tasks.send_outbound_task": "outbound",
    "whatsapp.tasks.send_whatsapp_task": "outbound",
    "routing.tasks.email_submission_to_owner_task": "outbound",
    "helpdesk.tasks.sweep_inbound_task": "celery",
    "helpdesk.tasks.sweep_jobs_task": "celery",
    "livechat.tasks.sweep_chat_webhooks_task": "celery",
    "mailroom.tasks.poll_mailboxes_task": "celery",
    "mailroom.tasks.sweep_outbound_task": "celery",
    "notifications.tasks.send_digests_task": "celery",
    "notifications.tasks.sweep_deliveries_task": "celery",
    "routing.tasks.reroute_waiting_task": "celery",
    "routing.tasks.sweep_pending_task": "celery",
    "webforms.tasks.prune_counts_task": "celery",
    "whatsapp.tasks.sweep_whatsapp_outbound_task": "celery",
}


def queue_of(task_name: str) -> str:
    return celery_app.amqp.router.route({}, task_name)["queue"].name


def project_tasks() -> set[str]:
    celery_app.loader.import_default_modules()
    return {name for name in celery_app.tasks if name.split(".")[0] in APPS}


# Importing the tasks modules runs Celery's Django fixup, whose model checks may probe the
# database (SQLite's JSON support, when no test before has): allow it.
@pytest.mark.django_db
def test_every_task_of_the_project_has_its_queue():
    assert project_tasks() == set(EXPECTED)
    assert {name: queue_of(name) for name in EXPECTED} == EXPECTED


def test_a_worker_without_q_listens_to_every_queue_and_the_default_is_one_of_them():
    assert task_queues() == ["routing", "intake", "notifications", "outbound", "celery"]
    assert celery_app.conf.task_default_queue in task_queues()
    # beat's jobs, and every intake task the core names by string, have a queue
    assert {queue_of(job["task"]) for job in settings.CELERY_BEAT_SCHEDULE.values()} == {"celery"}
    assert {queue_of(name) for name in settings.INTAKE_TASKS.values()} == {"intake"}


@pytest.mark.django_db
def test_each_queue_is_bound_by_its_own_name_so_a_message_reaches_one_queue(published_tasks):
    assert {q.name: q.routing_key for q in celery_app.amqp.queues.values()} == {
        name: name for name in task_queues()
    }
    project_tasks()
    for name in task_queues():  # every queue declared, and bound to the exchange
        celery_app.send_task("helpdesk.tasks.sweep_jobs_task", queue=name)
    published_tasks.run()
    celery_app.send_task(
        "routing.tasks.route_ticket_task", exchange="celery", routing_key="routing", kwargs={}
    )
    assert published_tasks.queues == [("routing.tasks.route_ticket_task", "routing")]


def test_a_queue_nobody_declared_is_refused_not_created():
    with pytest.raises(QueueNotFound):
        celery_app.amqp.router.route({"queue": "rooting"}, "routing.tasks.route_ticket_task")


@pytest.mark.django_db
def test_jobs_rings_and_sweeps_publish_to_the_tasks_queue(published_tasks):
    """helpdesk.jobs publishes by name (`send_task`): the route follows the name."""
    jobs.ring(routing_tasks.route_ticket_task, ticket_id=1)
    jobs.ring(notification_tasks.deliver_task, delivery_id=2)
    jobs.ring(notification_tasks.sweep_deliveries_task)
    jobs.enqueue("notifications.tasks.announce_unassigned_task", key="k", ticket_id=3)
    jobs.sweep_overdue(now=timezone.now() + timedelta(hours=1))  # the job, by the sweep
    assert published_tasks.queues == [
        ("routing.tasks.route_ticket_task", "routing"),
        ("notifications.tasks.deliver_task", "notifications"),
        ("notifications.tasks.sweep_deliveries_task", "celery"),
        ("notifications.tasks.announce_unassigned_task", "notifications"),
    ]


@pytest.mark.django_db(transaction=True)
def test_published_tasks_keep_the_order_of_publication_across_queues(published_tasks):
    agent = AgentFactory()
    channel = ChannelAutomationFactory(assign_mode=AssignMode.SPECIFIC, users=[agent]).channel
    services.create_ticket(subject="Hello", body="Hi", channel=channel)
    assert published_tasks.queues == [("routing.tasks.route_ticket_task", "routing")]
    ran = published_tasks.run()
    assert ran == [  # the in-app delivery is made by the announcement; the email is a task
        "routing.tasks.route_ticket_task",
        "notifications.tasks.announce_assignment_task",
        "notifications.tasks.deliver_task",
    ]


def test_bin_serve_refuses_a_worker_of_a_queue_that_does_not_exist():
    env = {"WORKER_QUEUES": "rooting", "PATH": "/usr/bin:/bin", "CELERY_BROKER_URL": "memory://"}
    done = subprocess.run(
        ["bin/serve", "worker"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0
    assert "queue 'rooting' isn't" in done.stdout + done.stderr


# ---------------------------------------------------------------------------------------
# The real thing: a Celery worker process on Redis
# ---------------------------------------------------------------------------------------

BURST = 300


def notification_burst(size: int) -> list[int]:
    """`size` pending in-app deliveries, each published to the notifications queue as its
    announcement publishes it."""
    recipient = AgentFactory()
    ticket = TicketFactory(channel=None)
    rows = Delivery.objects.bulk_create(
        Delivery(
            event_key=f"burst:{n}",
            event=Event.TICKET_UNASSIGNED,
            recipient=recipient,
            medium=Medium.IN_APP,
            ticket=ticket,
            text=f"Burst {n}",
        )
        for n in range(size)
    )
    for row in rows:
        assert jobs.ring(notification_tasks.deliver_task, delivery_id=row.pk)
    return [row.pk for row in rows]


def routed_ticket() -> Ticket:
    agent = AgentFactory()
    channel = ChannelAutomationFactory(assign_mode=AssignMode.SPECIFIC, users=[agent]).channel
    ticket, _ = services.create_ticket(subject="Next", body="Route me", channel=channel)
    return ticket


def wait_routed(ticket: Ticket, timeout: float = 30.0) -> float:
    started = time.monotonic()

    def done():
        ticket.refresh_from_db()
        return ticket.routing_state == Ticket.RoutingState.DONE

    wait_until(done, timeout=timeout, interval=0.02)
    return time.monotonic() - started


@pytest.mark.celery_worker
@pytest.mark.worker_env(WORKER_QUEUES="routing")
def test_a_routing_worker_takes_routing_only_and_routes_past_a_notification_burst(
    celery_worker,
):
    burst = notification_burst(BURST)
    ticket = routed_ticket()
    wait_routed(ticket)
    assert ticket.owner is not None
    celery_worker.wait_idle()  # nothing more in its queue, nothing running
    assert celery_worker.queues == ["routing"]
    # The burst is untouched: still waiting (with the decision's announcement behind it),
    # every delivery still pending.
    assert queued_messages("notifications") == BURST + 1
    assert queued_messages("routing") == 0
    assert Delivery.objects.filter(pk__in=burst, status=Delivery.Status.PENDING).count() == BURST


@pytest.mark.celery_worker
def test_one_worker_of_every_queue_routes_the_next_ticket_before_a_burst_is_done(celery_worker):
    """The worker takes turns between its queues: the routing message published after 300
    notifications is taken within a few tasks, not after all of them."""
    burst = notification_burst(BURST)
    wait_until(lambda: Delivery.objects.filter(pk__in=burst, status="sent").exists())
    ticket = routed_ticket()
    took = wait_routed(ticket)
    waiting = queued_messages("notifications")
    pending = Delivery.objects.filter(pk__in=burst, status=Delivery.Status.PENDING).count()
    assert ticket.owner is not None
    assert waiting > BURST // 2 and pending > BURST // 2, (took, waiting, pending)


# ---------------------------------------------------------------------------------------
# Database connections of a worker (helpdesk/celery.py)
# ---------------------------------------------------------------------------------------


WORKER_APP = "hd-test-worker"  # the workers' sessions, named through libpq's PGAPPNAME


def other_backends() -> set[int]:
    """The worker's PostgreSQL sessions on the test database (not other tests' leftovers)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid() AND application_name = %s",
            [WORKER_APP],
        )
        return {pid for (pid,) in cursor.fetchall()}


def deliveries_run(celery_worker, count: int) -> None:
    for n in range(count):  # no such delivery: one query each, and nothing to send
        jobs.ring(notification_tasks.deliver_task, delivery_id=10**9 + n)
    celery_worker.wait_idle()


@pytest.mark.celery_worker
@pytest.mark.worker_env(CONN_MAX_AGE="60", PGAPPNAME=WORKER_APP)
def test_worker_processes_keep_their_connection_between_tasks(celery_worker):
    """With CONN_MAX_AGE (the production shape) each worker process reuses its connection
    from task to task; Celery's Django fixup alone would close it after every task."""
    deliveries_run(celery_worker, 6)
    kept = other_backends()
    deliveries_run(celery_worker, 6)
    assert kept and kept <= other_backends()
    assert len(other_backends()) <= 2  # one per worker process (the fixture starts two)


@pytest.mark.celery_worker
@pytest.mark.worker_env(PGAPPNAME=WORKER_APP)
def test_worker_processes_close_their_connection_after_each_task_by_default(celery_worker):
    deliveries_run(celery_worker, 6)
    assert other_backends() == set()
