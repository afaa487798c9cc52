"""The outbox's rules, one home for every way out (email, WhatsApp, a chat's webhook).

An agent's reply that leaves the helpdesk is an `OutboundMessage` row, written in the
reply's transaction by the app that sends it (`mailroom.outbound`, `whatsapp.outbound`,
`livechat.webhooks`) and published after commit. Each app sends only the rows of its own
channel kinds (`helpdesk.channel_kinds.kinds_sending_by`), and all of them follow the same
rules, kept here:

- `claim`: QUEUED → SENDING with a conditional update, so a duplicate or redelivered task
  sends nothing twice; `finish` settles a claimed row (SENT, FAILED, or QUEUED again with a
  later `due_at`).
- `retry`: FAILED → QUEUED, due now, attempts back to 0, published after commit (the
  thread's Retry button, the admin's Retry actions).
- `stale_ids`: what a sweep publishes again — sends interrupted for longer than the app's
  lease (queued again first) and queued rows overdue by JOBS_GRACE_SECONDS (the broker lost
  them); each row's `due_at` moves to now, so the next sweep waits a grace again.

The thread's single Retry view (`helpdesk.views.outbox`) does not know the apps: each app
registers its retry in `AppConfig.ready` (`register_sender`), under the name of its way out
(`KindPolicy.outbound`), and `retry_from_thread` dispatches to it. The core imports no app.

The apps' Celery tasks share one shape: `SEND_TASK_OPTIONS`/`send_or_retry` for the send
task, `SWEEP_TASK_OPTIONS`/`ring_all` for the beat sweep.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta

from celery import Task, current_app
from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from helpdesk.channel_kinds import policy_for
from helpdesk.jobs import ring, ring_on_commit
from helpdesk.models import OutboundMessage, Ticket
from helpdesk.smtp import TemporaryFailure

__all__ = [
    "MAX_ATTEMPTS",
    "TemporaryFailure",
    "claim",
    "finish",
    "register_sender",
    "retry",
    "retry_from_thread",
    "stale_ids",
]

Status = OutboundMessage.Status
# Tries of one reply before it is left FAILED: the first and five retries, on every way out.
MAX_ATTEMPTS = 6
SWEEP_BATCH = 1000
MAX_ERROR = 2000
INTERRUPTED = "Interrupted while sending (the worker stopped); sent again."


def rows_of(kinds: Iterable[str]) -> QuerySet[OutboundMessage]:
    """The outbox rows of channels of these kinds."""
    return OutboundMessage.objects.filter(channel__kind__in=tuple(kinds))


# --- sending -----------------------------------------------------------------------------


def claim(outbound_id: int, kinds: Iterable[str]) -> bool:
    """Take a queued row of one of `kinds` for sending (one attempt more); False when it is
    not queued (someone else has it, it was sent) or belongs to another way out."""
    return bool(
        rows_of(kinds)
        .filter(pk=outbound_id, status=Status.QUEUED)
        .update(status=Status.SENDING, attempts=F("attempts") + 1, claimed_at=timezone.now())
    )


def finish(outbound_id: int, status: str, error: str | None = None, due_at=None, **fields) -> None:
    """Settle a claimed row: SENT (with `sent_at` now), FAILED, or QUEUED again due at
    `due_at`. `error` (None: left as it is) is kept in `last_error`; `fields` are stored too
    (e.g. the provider's id). A row no longer SENDING is left alone."""
    fields["status"] = status
    if due_at is not None:
        fields["due_at"] = due_at
    if status == Status.SENT:
        fields["sent_at"] = timezone.now()
    if error is not None:
        fields["last_error"] = error[:MAX_ERROR]
    OutboundMessage.objects.filter(pk=outbound_id, status=Status.SENDING).update(**fields)


# --- retry and sweep ---------------------------------------------------------------------


def retry(
    ids: Iterable[int],
    *,
    kinds: Iterable[str],
    task_name: str,
    ticket: Ticket | None = None,
    reset: Callable[[list[int]], object] | None = None,
) -> list[int]:
    """FAILED → QUEUED, due now, attempts back to 0, and `task_name` published for each
    after commit. Only rows of `kinds`; with `ticket`, only that ticket's. `reset(ids)`, in
    the same transaction, clears what the app keeps of the failed try. Returns the ids."""
    failed = rows_of(kinds).filter(pk__in=list(ids), status=Status.FAILED)
    if ticket is not None:
        failed = failed.filter(message__ticket=ticket)
    task = current_app.tasks[task_name]  # by name: the apps' tasks modules import theirs
    with transaction.atomic():
        retried = list(failed.values_list("pk", flat=True))
        OutboundMessage.objects.filter(pk__in=retried, status=Status.FAILED).update(
            status=Status.QUEUED, claimed_at=None, due_at=timezone.now(), attempts=0
        )
        if reset is not None and retried:
            reset(retried)
        for outbound_id in retried:
            ring_on_commit(task, outbound_id=outbound_id)
    return retried


def stale_ids(*, kinds: Iterable[str], lease_seconds: int, now=None) -> list[int]:
    """The rows of `kinds` to publish again, at most SWEEP_BATCH of each sort: sends
    claimed longer ago than `lease_seconds` (the worker died; queued again first, keeping
    what the row already has, e.g. email's Message-ID) and queued rows overdue by more than
    JOBS_GRACE_SECONDS. Each row's `due_at` moves to now."""
    now = now or timezone.now()
    kinds = tuple(kinds)
    lease = timedelta(seconds=lease_seconds)
    grace = timedelta(seconds=settings.JOBS_GRACE_SECONDS)
    interrupted = list(
        rows_of(kinds)
        .filter(status=Status.SENDING, claimed_at__lt=now - lease)
        .values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    OutboundMessage.objects.filter(pk__in=interrupted, status=Status.SENDING).update(
        status=Status.QUEUED, due_at=now, last_error=INTERRUPTED
    )
    overdue = list(
        rows_of(kinds)
        .filter(status=Status.QUEUED, due_at__lt=now - grace)
        .exclude(pk__in=interrupted)
        .order_by("due_at")
        .values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    OutboundMessage.objects.filter(pk__in=overdue, status=Status.QUEUED).update(due_at=now)
    return interrupted + overdue


# --- the apps' tasks ---------------------------------------------------------------------

# The send task: a database error is tried again soon; a temporary refusal after its own
# backoff (`send_or_retry`); never more often than a reply has attempts.
SEND_TASK_OPTIONS = {
    "bind": True,
    "acks_late": True,
    "autoretry_for": (DatabaseError,),
    "retry_backoff": True,
    "retry_backoff_max": 60,
    "max_retries": MAX_ATTEMPTS,
}
SWEEP_TASK_OPTIONS = {
    "bind": True,
    "acks_late": True,
    "autoretry_for": (DatabaseError,),
    "max_retries": 3,
}


def send_or_retry(task: Task, send: Callable[..., str], outbound_id: int) -> str:
    """Run an app's `send(outbound_id=…)` in a bound task; a `TemporaryFailure` (the row is
    queued again with its `due_at`) retries the task after `retry_in` seconds."""
    try:
        return send(outbound_id=outbound_id)
    except TemporaryFailure as exc:
        raise task.retry(exc=exc, countdown=exc.retry_in) from exc


def ring_all(task: Task, ids: Iterable[int]) -> int:
    """Publish `task(outbound_id=…)` for each id (a sweep's result); returns how many."""
    ids = list(ids)
    for outbound_id in ids:
        ring(task, outbound_id=outbound_id)
    return len(ids)


# --- who sends what: the registry of the thread's Retry ------------------------------------


@dataclass(frozen=True)
class Sender:
    """An app that sends the replies of one way out (`KindPolicy.outbound`)."""

    outbound: str
    retry: Callable[..., list[int]]  # retry(ids=[…], ticket=…) -> the ids queued again


_senders: dict[str, Sender] = {}


def register_sender(outbound_name: str, *, retry: Callable[..., list[int]]) -> None:
    """Called by an app's `AppConfig.ready`: it sends the replies of `outbound_name` (a
    `KindPolicy.outbound`), and `retry(ids=…, ticket=…)` queues them again."""
    _senders[outbound_name] = Sender(outbound=outbound_name, retry=retry)


def sender_for(outbound_name: str) -> Sender | None:
    return _senders.get(outbound_name)


class NoSender(Exception):
    """No installed app sends the replies of this row's channel."""


def retry_from_thread(outbound: OutboundMessage, *, ticket: Ticket) -> bool:
    """The thread's Retry of one of `ticket`'s rows, by the app that sends it. True when it
    is queued again, False when it was not failed (any more). Raises `NoSender`."""
    sender = sender_for(policy_for(outbound.channel.kind).outbound)
    if sender is None:
        raise NoSender(outbound.channel.kind)
    return bool(sender.retry(ids=[outbound.pk], ticket=ticket))
