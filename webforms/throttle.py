"""Rate limits of the form pages, counted in the database.

Why the database and not a cache (django-ratelimit): the project keeps all shared state in
PostgreSQL; there is no shared cache (Django's default cache is per process, so with three
gunicorn processes a limit of 20 would let 60 through), and Redis is only a doorbell that
may restart empty. A counter row per (scope, key, window) incremented by one
`INSERT … ON CONFLICT DO UPDATE … RETURNING count` is exact across every web process and
machine, costs one statement per scope, and is written in the transaction that stores the
submission: a submission refused for its limit leaves neither an event nor a count, and a
duplicate (the same submission id again) is not counted at all.

Windows are fixed (FORMS_RATE_WINDOW_SECONDS, an hour by default), so at a window's edge a
sender may get up to twice the limit through in a short time; for spam control that is
enough. Keys are HMAC-SHA256 of the value under SECRET_KEY: no client address or email
address is kept in this table. `prune` (beat: `webforms-prune-counts`) deletes past windows.
"""

import hashlib
import hmac
from datetime import UTC, datetime

from django.conf import settings
from django.db import connection
from django.utils import timezone

from webforms.models import SubmissionCount

Scope = SubmissionCount.Scope


class RateLimited(Exception):
    """Over the limit of `scope` (Scope.IP or Scope.ADDRESS); `retry_after`: seconds until
    the window ends."""

    def __init__(self, *, scope: str, limit: int, retry_after: int) -> None:
        super().__init__(f"{scope}: more than {limit} submissions in the window")
        self.scope, self.limit, self.retry_after = scope, limit, retry_after


def key_of(scope: str, value: str) -> str:
    message = f"{scope}:{value.strip().lower()}".encode()
    return hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()


def window_start(now: datetime) -> datetime:
    seconds = settings.FORMS_RATE_WINDOW_SECONDS
    epoch = int(now.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, tz=UTC)


def _bump(scope: str, key: str, start: datetime) -> int:
    table = SubmissionCount._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (scope, key, window_start, count) VALUES (%s, %s, %s, 1) "
            f"ON CONFLICT (scope, key, window_start) DO UPDATE SET count = {table}.count + 1 "
            "RETURNING count",
            [scope, key, start],
        )
        return cursor.fetchone()[0]


def count_submission(*, client_ip: str | None, address: str, now=None) -> None:
    """Count one submission against its client address and its typed address; raise
    `RateLimited` when either is over its limit in the current window (the caller's
    transaction must then roll back, which takes the counts back too). A limit of 0 is
    off."""
    now = now or timezone.now()
    start = window_start(now)
    retry_after = max(1, int((start - now).total_seconds()) + settings.FORMS_RATE_WINDOW_SECONDS)
    for scope, value, limit in (
        (Scope.IP, client_ip or "", settings.FORMS_RATE_PER_IP),
        (Scope.ADDRESS, address, settings.FORMS_RATE_PER_ADDRESS),
    ):
        if not value or limit <= 0:
            continue
        if _bump(scope.value, key_of(scope.value, value), start) > limit:
            raise RateLimited(scope=scope.value, limit=limit, retry_after=retry_after)


def prune(now=None) -> int:
    """Delete the counters of windows that ended; returns how many rows went."""
    current = window_start(now or timezone.now())
    deleted, _ = SubmissionCount.objects.filter(window_start__lt=current).delete()
    return deleted
