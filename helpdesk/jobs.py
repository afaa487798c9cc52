"""Background work that survives a killed worker and a Redis restart: its intent lives in
PostgreSQL, the broker only rings the bell.

One policy for every app:
- Work whose state lives in rows of its own (a ticket pending routing, a notification
  `Delivery`) is published after commit with `ring_on_commit(task, **kwargs)`; the app's
  own sweep finds those rows again when the message is lost.
- Work without rows of its own (announcing an assignment, emailing a form's owner) is
  recorded as a `Job` by `enqueue(task, key=…, **kwargs)`, inside the transaction that
  causes it — a rolled-back change leaves no job — and published after commit.
  `sweep_overdue()` (the `sweep_jobs_task` of Celery beat) publishes again every job still
  pending when it is due; the task's success marks it done.

Publishing never waits for a broker that is down: one attempt, the failure logged, the rest
left to the sweeps, so intake keeps its normal speed during an outage. Every handler is
idempotent, so a second copy of a message (the sweep's, or a redelivery after a worker died)
changes nothing. The core names tasks, never imports them: callers pass their task objects —
or, to keep their own imports one way, the names the tasks are registered under — and the
sweep publishes by name.
"""

import logging
from datetime import timedelta

from celery import Task, current_app
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import KombuError

from helpdesk import rows
from helpdesk.models import Job

log = logging.getLogger(__name__)

TASK_ID_PREFIX = "job-"
SWEEP_BATCH = 500
# What a broker that is down raises on publish (kombu wraps the transport's errors).
BROKER_ERRORS = (KombuError, OSError)


def _eager() -> bool:
    return bool(current_app.conf.task_always_eager)


def _send(task_name: str, kwargs: dict, task_id: str | None = None) -> bool:
    """Hand one task to the broker now, with a single attempt; False if it is down.

    With eager Celery (`make run`, unit tests) the task runs right here instead. (Celery's
    own eager `apply` flips a process-wide "never join a result" flag, which threads
    committing at the same time — the live server, concurrency tests — could leave set.)
    """
    if _eager():
        current_app.tasks[task_name](**kwargs)
        return True
    try:
        # The headers' readable copies of the arguments: tasks take ids, whose plain repr
        # is what Celery's saferepr would write, at a fraction of its cost (≈ 0.1 ms a
        # message, on every routing decision).
        current_app.send_task(
            task_name,
            kwargs=kwargs,
            task_id=task_id,
            retry=False,
            argsrepr="()",
            kwargsrepr=repr(kwargs),
        )
    except BROKER_ERRORS as exc:
        log.warning("Broker unavailable; %s waits for the sweep: %s", task_name, exc)
        return False
    return True


def ring(task: Task, **kwargs) -> bool:
    """Publish `task(**kwargs)` now, once; False if the broker is down. For sweeps and for
    work whose state is kept in its own rows."""
    return _send(task.name, kwargs)


def ring_on_commit(task: Task, **kwargs) -> None:
    """Publish `task(**kwargs)` once the current transaction commits. For work whose state
    is kept in its own rows, which a sweep reads."""
    transaction.on_commit(lambda: _send(task.name, kwargs), robust=True)


def registered_name(task: Task | str) -> str:
    """The name of `task`, given as a task or as the name it is registered under
    (`@shared_task(name=...)`). A name is looked up in the app's registry, so a misspelt or
    unregistered one raises `celery.exceptions.NotRegistered` here, in the caller's
    transaction, instead of leaving a job no worker can run."""
    if isinstance(task, str):
        return current_app.tasks[task].name
    return task.name


def enqueue(task: Task | str, *, key: str, **kwargs) -> None:
    """Record `task(**kwargs)` as a job in the current transaction (one statement) and
    publish it after commit. `task` is the task or its registered name (`registered_name`):
    a module that its own app's tasks module imports names the task instead of importing it
    back. `key` names the occurrence: a second call with the same key records nothing new
    (its message is harmless: the work is idempotent)."""
    task_name = registered_name(task)
    job_id = _insert(key[:200], task_name, kwargs)
    transaction.on_commit(lambda: _publish(job_id, task_name, kwargs), robust=True)


def _insert(key: str, task_name: str, kwargs: dict) -> int:
    """The job's row, or the one its key already names: one statement (`helpdesk.rows`, by
    hand: it runs with every routing decision and every ticket created), its id returned."""
    now = timezone.now()
    job = Job(key=key, task=task_name, kwargs=kwargs, created_at=now, due_at=_next_due(0, now))
    return rows.insert(job, conflict="key")


def _publish(job_id: int, task_name: str, kwargs: dict) -> None:
    if _eager():
        current_app.tasks[task_name](**kwargs)
        mark_done(task_id=task_id_of(job_id))
        return
    _send(task_name, kwargs, task_id=task_id_of(job_id))


def task_id_of(job_id: int) -> str:
    """The Celery task id of a job's messages: the same for every copy, so the task's
    success can mark its job done."""
    return f"{TASK_ID_PREFIX}{job_id}"


def _job_id(task_id: str | None) -> int | None:
    if not task_id or not task_id.startswith(TASK_ID_PREFIX):
        return None
    suffix = task_id.removeprefix(TASK_ID_PREFIX)
    return int(suffix) if suffix.isdigit() else None


def _next_due(attempts: int, now=None):
    """Grace before the sweep publishes a job again: JOBS_GRACE_SECONDS, doubling with
    every attempt (at most an hour), so a backlog in the broker is not flooded with copies."""
    grace = settings.JOBS_GRACE_SECONDS * 2 ** min(attempts, 10)
    return (now or timezone.now()) + timedelta(seconds=min(grace, 3600))


def backoff_seconds(failures: int, *, base: int, cap: int = 3600) -> int:
    """The wait before the next try after `failures` temporary failures: `base`, doubled
    with every further failure (base, 2·base, 4·base …), at most `cap` seconds."""
    return min(base * 2 ** min(max(failures - 1, 0), 20), cap)


def mark_done(*, task_id: str | None) -> bool:
    job_id = _job_id(task_id)
    if job_id is None:
        return False
    return bool(
        Job.objects.filter(pk=job_id, state__in=[Job.State.PENDING, Job.State.FAILED]).update(
            state=Job.State.DONE, done_at=timezone.now(), last_error=""
        )
    )


def mark_failed(*, task_id: str | None, error: str) -> bool:
    job_id = _job_id(task_id)
    if job_id is None:
        return False
    return bool(
        Job.objects.filter(pk=job_id, state=Job.State.PENDING).update(
            state=Job.State.FAILED, last_error=error[:2000]
        )
    )


def retry_failed(*, ids) -> int:
    """FAILED → PENDING, due now (the admin's "Retry" action); the sweep publishes them."""
    return Job.objects.filter(pk__in=list(ids), state=Job.State.FAILED).update(
        state=Job.State.PENDING, due_at=timezone.now(), last_error=""
    )


def sweep_overdue(now=None) -> int:
    """Publish again every pending job that is due, oldest first; each one's next due time
    moves back (`_next_due`) before it is published, so two sweeps never race for it."""
    now = now or timezone.now()
    published = 0
    due = list(
        Job.objects.filter(state=Job.State.PENDING, due_at__lte=now)
        .order_by("due_at")
        .values_list("pk", "task", "kwargs", "attempts")[:SWEEP_BATCH]
    )
    for job_id, task_name, kwargs, attempts in due:
        moved = Job.objects.filter(pk=job_id, state=Job.State.PENDING, due_at__lte=now).update(
            attempts=attempts + 1, due_at=_next_due(attempts + 1, now)
        )
        if moved:
            _publish(job_id, task_name, kwargs)
            published += 1
    return published


class JobTask(Task):
    """Base class of tasks enqueued as jobs: success marks the job done; a failure after
    the last retry marks it failed, with the error, for the admin to see and retry."""

    def on_success(self, retval, task_id, args, kwargs):
        mark_done(task_id=task_id)

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        mark_failed(task_id=task_id, error=f"{type(exc).__name__}: {exc}")
