"""Real time through PostgreSQL: a message's commit wakes whoever waits for its conversation.

Writers: every new message of a chat ticket — the visitor's (`livechat.intake`), an
agent's reply (`livechat.receivers`) — runs `notify(...)` in its own transaction: `SELECT
pg_notify('livechat_<hash of the conversation>', '')`. PostgreSQL delivers a notification
only when that transaction commits (and never when it rolls back), so a woken reader always
finds the message. Nothing is kept in a process: any web process may take the writer's
request and any other the reader's.

Readers (the widget's long poll, `wait_for`): read "messages after id N"; if there is none,
`LISTEN` on the conversation's channel, read again (a message committed between the first
read and the LISTEN is found here), then block on the connection's socket until a
notification arrives or LIVECHAT_WAIT_SECONDS pass, and read once more. The wait is bounded
so that a web thread is never held for long, and limited twice: at most
LIVECHAT_WAITS_PER_VISITOR waits at a time per conversation (PostgreSQL advisory locks, so
the limit holds across processes; a third tab is answered at once) and at most
LIVECHAT_WAITS_PER_PROCESS waits in one web process (the rest of its threads stay free for
agents' pages). A wait holds its database connection while it waits.

Without PostgreSQL (SQLite, `make run`) or inside a transaction (where LISTEN would only
start at commit), nothing waits: the reader answers at once and the widget polls again after
LIVECHAT_SHORT_POLL_MS.

"Messages after id N" is a safe cursor per ticket: every service that adds a message to a
ticket locks the ticket row first (`helpdesk.services.tickets`), so within one ticket ids
are taken — and committed — in order; a smaller id can never appear after a larger one.
"""

import hashlib
import logging
import threading
from collections.abc import Callable
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from django.dispatch import Signal

log = logging.getLogger(__name__)

# Advisory lock keys of the per-conversation wait slots: (LOCK_SPACE, hash of name and slot).
LOCK_SPACE = 0x4C43  # "LC"
# Sent just before a reader blocks (its LISTEN is active): tests wait on it instead of
# sleeping. kwargs: name (the channel).
waiting = Signal()

_process_slots: threading.BoundedSemaphore | None = None
_process_slots_size = 0
_process_slots_lock = threading.Lock()


def wake_name(channel_id: int, key: str) -> str:
    """The notification channel of one conversation (an identifier of at most 63 bytes)."""
    digest = hashlib.sha256(f"{channel_id}:{key}".encode()).hexdigest()[:40]
    return f"livechat_{digest}"


def can_wait() -> bool:
    return connection.vendor == "postgresql" and not connection.in_atomic_block


def notify(channel_id: int, key: str) -> None:
    """Wake the readers of a conversation when the current transaction commits."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_notify(%s, '')", [wake_name(channel_id, key)])


@dataclass(frozen=True)
class Waited:
    messages: list
    busy: bool = False  # no wait slot was free: answered at once, poll again later


def _slots() -> threading.BoundedSemaphore:
    global _process_slots, _process_slots_size
    size = max(0, settings.LIVECHAT_WAITS_PER_PROCESS)
    with _process_slots_lock:
        if _process_slots is None or _process_slots_size != size:
            _process_slots, _process_slots_size = threading.BoundedSemaphore(size or 1), size
        return _process_slots


@contextmanager
def _process_slot():
    slots = _slots()
    if _process_slots_size == 0 or not slots.acquire(blocking=False):
        yield False
        return
    try:
        yield True
    finally:
        slots.release()


def _lock_key(name: str, slot: int) -> int:
    return int.from_bytes(hashlib.sha256(f"{name}:{slot}".encode()).digest()[:4], signed=True)


@contextmanager
def _visitor_slot(name: str):
    """One of the conversation's LIVECHAT_WAITS_PER_VISITOR slots (a session advisory lock,
    released on the way out — or by PostgreSQL with the connection, should the process die)."""
    taken = None
    with connection.cursor() as cursor:
        for slot in range(max(0, settings.LIVECHAT_WAITS_PER_VISITOR)):
            key = _lock_key(name, slot)
            cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [LOCK_SPACE, key])
            if cursor.fetchone()[0]:
                taken = key
                break
    try:
        yield taken is not None
    finally:
        if taken is not None:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_SPACE, taken])


@contextmanager
def _listening(name: str):
    with connection.cursor() as cursor:
        cursor.execute(f'LISTEN "{name}"')
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f'UNLISTEN "{name}"')


def _block(name: str, timeout: float) -> bool:
    """Wait on the connection's socket for one notification; True when one came."""
    waiting.send(sender=None, name=name)
    raw = connection.connection  # psycopg's own connection (autocommit, LISTENing)
    for _notification in raw.notifies(timeout=timeout, stop_after=1):
        return True
    return False


def wait_for(
    *, channel_id: int, key: str, fetch: Callable[[], list], timeout: float | None = None
) -> Waited:
    """`fetch()` now; when it finds nothing, wait up to `timeout` seconds (default
    LIVECHAT_WAIT_SECONDS) for the conversation's next commit and `fetch()` again."""
    found = fetch()
    timeout = settings.LIVECHAT_WAIT_SECONDS if timeout is None else timeout
    if found or timeout <= 0 or not can_wait():
        return Waited(found)
    name = wake_name(channel_id, key)
    with ExitStack() as stack:
        if not stack.enter_context(_process_slot()):
            return Waited(found, busy=True)
        if not stack.enter_context(_visitor_slot(name)):
            return Waited(found, busy=True)
        stack.enter_context(_listening(name))
        found = fetch()  # what committed before the LISTEN took effect
        if found:
            return Waited(found)
        _block(name, timeout)
        return Waited(fetch())
