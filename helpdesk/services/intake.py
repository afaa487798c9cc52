"""Raw first, shared by every intake adapter (issue 11): store, then process, never lose.

1. `store_inbound(channel=…, kind=…, source_id=…, raw=…)` keeps what a channel delivered as
   an `InboundEvent` before anything reads it. One statement, `INSERT … ON CONFLICT DO
   NOTHING` on the unique (channel, kind, source_id): a redelivery — or the same input
   stored by two workers at the same moment — finds the first row and creates nothing.
2. `process_inbound(event_id, handler)` claims the event with a row lock (`FOR UPDATE SKIP
   LOCKED`, only a RECEIVED or FAILED event), runs the adapter's `handler(event)` in a
   savepoint of the same transaction and records what it produced: PROCESSED / IGNORED with
   the ticket and message (`Outcome`), QUARANTINED when the handler raises `Quarantine`
   (unreadable input: kept with its raw bytes), FAILED with the error for anything else —
   except the database's passing trouble (`TRANSIENT`): the event stays RECEIVED with the
   error, and the sweep tries it again, up to INTAKE_MAX_ATTEMPTS tries in all.
   A handler's writes are all or nothing; the event's own status is always written. A
   second worker handed the same event skips it (locked) or finds it done. A worker that
   dies mid-way releases the lock with its connection: the event is still RECEIVED and
   `sweep_received` (beat: `intake-sweep`) hands it out again after INTAKE_GRACE_SECONDS.
3. `retry_failed_inbound(ids)`: FAILED / QUARANTINED → RECEIVED, published again.

What an input creates is recognised the same way: `insert_once(row)` is one `INSERT … ON
CONFLICT DO NOTHING`, so a row whose unique values exist already (a redelivered message, a
contact created by another worker) is left alone without an error — and without the
savepoint that catching an IntegrityError inside a transaction would need.

The core imports no adapter: the adapter passes its handler, and the sweep publishes the
task of each kind by the name in `settings.INTAKE_TASKS` (`{"email": "mailroom.tasks…"}`).
"""

import hashlib
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from functools import cache

from celery import current_app
from django.conf import settings
from django.db import (
    InterfaceError,
    NotSupportedError,
    OperationalError,
    connection,
    connections,
    router,
    transaction,
)
from django.db.models import Case, F, Model, Value, When
from django.db.models.constants import OnConflict
from django.db.models.signals import post_save, pre_save
from django.db.models.sql import Query
from django.utils import timezone

from helpdesk.jobs import ring, ring_on_commit
from helpdesk.models import Channel, InboundEvent, Message, Ticket

log = logging.getLogger(__name__)

Status = InboundEvent.Status
CLAIMABLE = (Status.RECEIVED, Status.FAILED)
# The database's own passing trouble (a lost connection, a deadlock victim, a serialization
# failure, a lock or statement timeout): the event is tried again, not failed at once.
TRANSIENT = (OperationalError, InterfaceError)
MAX_SOURCE_ID = 255
SWEEP_BATCH = 500


class Quarantine(Exception):
    """Raised by a handler for input it cannot read at all: the event is QUARANTINED with
    its raw bytes and `reason`, and is not retried by the sweep."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Outcome:
    """What a handler made of an event: PROCESSED (it became part of a ticket) or IGNORED
    (kept, deliberately not a ticket — `reason` says why)."""

    status: str = Status.PROCESSED
    ticket: Ticket | None = None
    message: Message | None = None
    reason: str = ""


Handler = Callable[[InboundEvent], Outcome]


def source_key(source_id: str) -> str:
    """The source's id as stored: itself up to 255 characters, else its SHA-256 (a
    Message-ID may legally be almost 1,000 characters long)."""
    source_id = source_id.strip()
    if len(source_id) <= MAX_SOURCE_ID:
        return source_id
    return "sha256:" + hashlib.sha256(source_id.encode("utf-8", "surrogatepass")).hexdigest()


def store_inbound(
    *,
    channel: Channel | None,
    kind: str,
    source_id: str,
    raw: bytes = b"",
    payload: dict | None = None,
    headers: dict | None = None,
) -> tuple[InboundEvent, bool]:
    """Keep one input before processing it. Returns (event, created); `created` is False for
    a redelivery (same channel, kind and source id), which stores nothing new.

    An event without a channel is never recognised as a redelivery (NULLs are distinct in a
    unique constraint): every adapter knows the channel it was called for.
    """
    key = source_key(source_id)
    if not key:
        raise ValueError("an inbound event needs the source's id (or a hash of the input)")
    table = InboundEvent._meta.db_table
    now = timezone.now()
    params = [
        channel.pk if channel is not None else None,
        kind,
        key,
        bytes(raw),
        json.dumps(payload or {}),
        json.dumps(headers or {}),
        now,
        Status.RECEIVED.value,
        0,
        "",
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (channel_id, kind, source_id, raw, payload, headers, "
            "received_at, status, attempts, error) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (channel_id, kind, source_id) DO NOTHING RETURNING id",
            params,
        )
        row = cursor.fetchone()
    if row is not None:
        event = InboundEvent(
            pk=row[0],
            channel=channel,
            kind=kind,
            source_id=key,
            raw=bytes(raw),
            payload=payload or {},
            headers=headers or {},
            received_at=now,
        )
        return event, True
    return InboundEvent.objects.get(channel=channel, kind=kind, source_id=key), False


def insert_once(row: Model) -> bool:
    """Save a new `row` unless one with the same unique values exists.

    True when it was inserted: its primary key (and any other value the database returns)
    is set and the save signals are sent, as by `row.save()`. False when a unique constraint
    or index already holds such a row — including one a concurrent transaction commits while
    this one waits on it: nothing is written, nothing raises, the transaction goes on."""
    model = type(row)
    meta = model._meta
    if meta.parents:
        raise TypeError(f"insert_once cannot save {model.__name__}: it has parent models")
    using = router.db_for_write(model, instance=row)
    if not connections[using].features.can_return_columns_from_insert:
        raise NotSupportedError("insert_once needs INSERT … RETURNING (PostgreSQL, SQLite 3.35)")
    row._prepare_related_fields_for_save(operation_name="save")
    pre_save.send(sender=model, instance=row, raw=False, using=using, update_fields=None)
    pk_set = row.pk is not None
    fields = [
        f
        for f in meta.local_concrete_fields
        if not f.generated and (pk_set or f is not meta.auto_field)
    ]
    returning = list(meta.db_returning_fields)
    rows = model._base_manager.using(using)._insert(
        [row], fields=fields, returning_fields=returning, on_conflict=OnConflict.IGNORE
    )
    if not rows:
        return False
    for value, field in zip(rows[0], returning, strict=False):
        setattr(row, field.attname, value)
    row._state.adding, row._state.db = False, using
    post_save.send(
        sender=model, instance=row, created=True, update_fields=None, raw=False, using=using
    )
    return True


def rejection_sample_id(*, digest: bytes, limit: int, prefix: str = "rejected") -> str | None:
    """The source id a refused request (a bad signature) is kept under, so nobody can fill
    the database with forged posts: one of `limit` slots of the current hour, picked by the
    request's hash (`digest`) — the same request is one row, and no more than `limit` rows
    are kept per channel and hour, in one statement without counting. None: keep none."""
    if limit <= 0:
        return None
    slot = int.from_bytes(digest[:4], "big") % limit
    return f"{prefix}:{timezone.now():%Y-%m-%dT%H}:{slot}"


def process_inbound(event_id: int, handler: Handler) -> InboundEvent | None:
    """Claim and process one event; returns it with its new status, or None when another
    worker holds it or it is already settled. Never raises for what the handler does.

    The handler runs in the claim's transaction (no savepoint: two statements fewer per
    event). When it raises, that transaction is rolled back — nothing the handler wrote
    remains — and the failure is recorded in a second one, with a conditional update that
    leaves the event alone should another worker have settled it meanwhile. A `TRANSIENT`
    error leaves it RECEIVED for the sweep until its INTAKE_MAX_ATTEMPTS-th try; should the
    database still be unreachable to record that, the error reaches the task, whose own
    retry (or the sweep) comes back to the event."""
    try:
        with transaction.atomic():
            event = _claim(event_id)
            if event is None:
                return None
            outcome = handler(event)
            event.status, event.error = outcome.status, outcome.reason[:2000]
            event.ticket, event.message = outcome.ticket, outcome.message
            event.attempts += 1
            event.processed_at = timezone.now()
            event.save(
                update_fields=["status", "error", "attempts", "processed_at", "ticket", "message"]
            )
        return event
    except Quarantine as exc:
        status, error = Value(Status.QUARANTINED), exc.reason
    except TRANSIENT as exc:
        log.warning("Inbound event %s: database error, tried again later: %s", event_id, exc)
        status = Case(
            When(attempts__lt=settings.INTAKE_MAX_ATTEMPTS - 1, then=Value(Status.RECEIVED)),
            default=Value(Status.FAILED),
        )
        error = f"{type(exc).__name__}: {exc}"
    except Exception as exc:
        log.exception("Inbound event %s failed", event_id)
        status, error = Value(Status.FAILED), f"{type(exc).__name__}: {exc}"
    with transaction.atomic():
        InboundEvent.objects.filter(pk=event_id, status__in=CLAIMABLE).update(
            status=status,
            error=error[:2000],
            attempts=F("attempts") + 1,
            processed_at=timezone.now(),
            ticket=None,
            message=None,
        )
    return InboundEvent.objects.select_related("channel").defer("raw").get(pk=event_id)


def _claim(event_id: int) -> InboundEvent | None:
    """The event with its channel, row-locked, if it is claimable and no other worker holds
    it: `SELECT … FOR UPDATE OF <event> SKIP LOCKED` (on PostgreSQL), as the ORM's
    `select_for_update(skip_locked=True, of=("self",)).select_related("channel")` writes
    it — written out because building it took the ORM four times as long as the database
    took to run it. Values pass through the fields' database converters, as in the ORM."""
    sql, columns = _claim_sql()
    with connection.cursor() as cursor:
        cursor.execute(sql, [event_id, *CLAIMABLE])
        row = cursor.fetchone()
    if row is None:
        return None
    compiler = connection.ops.compiler("SQLCompiler")(Query(InboundEvent), connection, None)
    converters = compiler.get_converters(columns)
    if converters:
        row = next(compiler.apply_converters([row], converters))
    event_fields = InboundEvent._meta.concrete_fields
    split = len(event_fields)
    event = InboundEvent.from_db(connection.alias, [f.attname for f in event_fields], row[:split])
    if event.channel_id is not None:
        names = [f.attname for f in Channel._meta.concrete_fields]
        event.channel = Channel.from_db(connection.alias, names, row[split:])
    return event


@cache
def _claim_sql() -> tuple[str, list]:
    """`_claim`'s statement and its columns: every field of the event, then of its channel."""
    q = connection.ops.quote_name
    event_table, channel_table = InboundEvent._meta.db_table, Channel._meta.db_table
    columns = [f.get_col(event_table) for f in InboundEvent._meta.concrete_fields]
    columns += [f.get_col(channel_table) for f in Channel._meta.concrete_fields]
    selected = ", ".join(f"{q(c.alias)}.{q(c.target.column)}" for c in columns)
    channel_key = InboundEvent._meta.get_field("channel").column
    status = InboundEvent._meta.get_field("status").column
    lock = ""
    if connection.features.has_select_for_update:  # not SQLite: it locks the whole file
        lock = " " + connection.ops.for_update_sql(skip_locked=True, of=(q(event_table),))
    sql = (
        f"SELECT {selected} FROM {q(event_table)} LEFT OUTER JOIN {q(channel_table)} "
        f"ON {q(event_table)}.{q(channel_key)} = {q(channel_table)}.{q(Channel._meta.pk.column)} "
        f"WHERE {q(event_table)}.{q(InboundEvent._meta.pk.column)} = %s "
        f"AND {q(event_table)}.{q(status)} IN ({', '.join(['%s'] * len(CLAIMABLE))}){lock}"
    )
    return sql, columns


def process_many(event_ids: Iterable[int], handler: Handler) -> list[InboundEvent]:
    """Process a batch one event at a time: one failure or quarantine never stops the rest."""
    done = []
    for event_id in event_ids:
        event = process_inbound(event_id, handler)
        if event is not None:
            done.append(event)
    return done


def _task_for(kind: str):
    name = settings.INTAKE_TASKS.get(kind)
    return current_app.tasks[name] if name else None


def publish_on_commit(event: InboundEvent) -> None:
    """Ask a worker to process `event` once the current transaction commits; if the broker
    is down the sweep does it later."""
    task = _task_for(event.kind)
    if task is not None:
        ring_on_commit(task, event_id=event.pk)


def retry_failed_inbound(ids: Iterable[int]) -> list[int]:
    """FAILED and QUARANTINED events → RECEIVED (error kept until the next attempt), each
    published again after commit. Returns the ids set back."""
    with transaction.atomic():
        events = list(
            InboundEvent.objects.select_for_update()
            .filter(pk__in=list(ids), status__in=[Status.FAILED, Status.QUARANTINED])
            .only("pk", "kind", "status")
        )
        retried = [event.pk for event in events]
        InboundEvent.objects.filter(pk__in=retried).update(status=Status.RECEIVED)
        for event in events:
            publish_on_commit(event)
    return retried


def sweep_received(now=None) -> int:
    """Publish again every event still RECEIVED INTAKE_GRACE_SECONDS after it was stored
    (its message was lost, or its worker died). Handlers are idempotent and the claim is a
    row lock, so a copy too many changes nothing."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.INTAKE_GRACE_SECONDS)
    overdue = list(
        InboundEvent.objects.filter(status=Status.RECEIVED, received_at__lte=cutoff)
        .order_by("received_at")
        .values_list("pk", "kind")[:SWEEP_BATCH]
    )
    published = 0
    for event_id, kind in overdue:
        task = _task_for(kind)
        if task is not None and ring(task, event_id=event_id):
            published += 1
    return published
