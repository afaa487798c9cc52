"""The broker is a doorbell (helpdesk/jobs.py): the intent of background work is a row in
PostgreSQL, written in the transaction that caused it; publishing tries once and fails
fast; the sweep publishes again what is overdue; success marks a job done."""

import socket
import threading
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from helpdesk import jobs
from helpdesk.celery import app as celery_app
from helpdesk.models import Job
from notifications.tasks import announce_unassigned_task
from tests.factories import TicketFactory

pytestmark = pytest.mark.django_db


def enqueue_for(ticket, key=None):
    jobs.enqueue(announce_unassigned_task, key=key or f"test:{ticket.pk}", ticket_id=ticket.pk)


def test_a_rolled_back_change_leaves_no_job():
    ticket = TicketFactory()
    with pytest.raises(RuntimeError), transaction.atomic():
        enqueue_for(ticket)
        raise RuntimeError("the change failed")
    assert not Job.objects.exists()


def test_a_committed_job_runs_and_is_done(django_capture_on_commit_callbacks, published_tasks):
    ticket = TicketFactory()
    with django_capture_on_commit_callbacks(execute=True):
        enqueue_for(ticket)
    job = Job.objects.get()
    assert (job.task, job.kwargs) == (announce_unassigned_task.name, {"ticket_id": ticket.pk})
    assert job.state == Job.State.PENDING  # published, not yet run
    assert published_tasks.run()[0] == announce_unassigned_task.name  # a worker runs it
    job.refresh_from_db()
    assert job.state == Job.State.DONE and job.done_at is not None


def test_the_same_occurrence_is_recorded_once(django_capture_on_commit_callbacks):
    ticket = TicketFactory()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        enqueue_for(ticket, key="once")
        enqueue_for(ticket, key="once")
    assert Job.objects.count() == 1
    # both publish the one row's id (the task id every copy of its message carries)
    assert len(callbacks) == 2


def test_a_job_row_holds_what_enqueue_was_given(
    settings, django_capture_on_commit_callbacks, published_tasks
):
    """`enqueue` writes its row by hand (one statement): every column as the model says."""
    settings.JOBS_GRACE_SECONDS = 90
    before = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        jobs.enqueue(announce_unassigned_task, key="k" * 250, ticket_id=7, detail="x ü")
    job = Job.objects.get()
    assert job.key == "k" * 200
    assert job.task == announce_unassigned_task.name
    assert job.kwargs == {"ticket_id": 7, "detail": "x ü"}
    assert (job.state, job.attempts, job.last_error, job.done_at) == ("pending", 0, "", None)
    assert before <= job.created_at <= timezone.now()
    assert job.due_at == job.created_at + timedelta(seconds=90)
    published_tasks.run()
    job.refresh_from_db()
    assert job.state == Job.State.DONE  # the message carried this row's id


def test_the_sweep_publishes_overdue_jobs_with_a_growing_grace(monkeypatch, settings):
    settings.JOBS_GRACE_SECONDS = 60
    ticket = TicketFactory()
    with transaction.atomic():
        enqueue_for(ticket)  # its message is lost: on_commit never rings (test transaction)
    job = Job.objects.get()
    sent = []
    monkeypatch.setattr(celery_app, "send_task", lambda name, **kw: sent.append((name, kw)))
    now = job.created_at
    assert jobs.sweep_overdue(now=now + timedelta(seconds=30)) == 0  # within the grace
    assert jobs.sweep_overdue(now=now + timedelta(seconds=61)) == 1
    assert sent == [
        (
            announce_unassigned_task.name,
            {
                "kwargs": {"ticket_id": ticket.pk},
                "task_id": f"job-{job.pk}",
                "retry": False,
                "argsrepr": "()",
                "kwargsrepr": f"{{'ticket_id': {ticket.pk}}}",
            },
        )
    ]
    job.refresh_from_db()
    assert job.attempts == 1
    # The next copy waits twice as long: 120 s after that sweep.
    assert jobs.sweep_overdue(now=now + timedelta(seconds=61 + 100)) == 1 - 1
    assert jobs.sweep_overdue(now=now + timedelta(seconds=61 + 121)) == 1


def test_success_marks_done_and_a_final_failure_marks_failed_for_a_retry(published_tasks):
    ticket = TicketFactory()
    with transaction.atomic():
        enqueue_for(ticket)
    job = Job.objects.get()
    task_id = jobs.task_id_of(job.pk)
    announce_unassigned_task.on_failure(ValueError("boom"), task_id, (), {}, None)
    job.refresh_from_db()
    assert (job.state, job.last_error) == (Job.State.FAILED, "ValueError: boom")
    assert jobs.sweep_overdue(now=timezone.now() + timedelta(days=1)) == 0  # failed: left alone
    assert jobs.retry_failed(ids=[job.pk]) == 1
    assert jobs.sweep_overdue() == 1  # due now: published again
    assert published_tasks.run() == [announce_unassigned_task.name]  # …and a worker runs it
    job.refresh_from_db()
    assert job.state == Job.State.DONE
    # A message that is not a job's (no job- id) marks nothing.
    assert jobs.mark_done(task_id="0c8f-some-celery-uuid") is False


class CountingRefuser:
    """A TCP listener on loopback that accepts and drops every connection, counting them:
    a broker that is there but answers nothing."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            conn.close()

    def close(self):
        self.sock.close()


def test_publishing_to_a_broker_that_is_down_tries_once_and_gives_up(monkeypatch, settings):
    """No retries while publishing (the 1.5 s per request the API lost during an outage):
    one connection attempt, False, and the row waits for the sweep."""
    from celery import Celery

    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)  # Celery prefers it to `broker`
    refuser = CountingRefuser()
    try:
        app = Celery("probe", broker=f"redis://127.0.0.1:{refuser.port}/0", set_as_current=False)
        # The project's publishing settings, as `make serve` runs them.
        app.conf.broker_transport_options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
        app.conf.task_publish_retry = settings.CELERY_TASK_PUBLISH_RETRY
        monkeypatch.setattr(jobs, "current_app", app)
        assert jobs.ring(announce_unassigned_task, ticket_id=1) is False
        assert refuser.accepted == 1
    finally:
        refuser.close()
