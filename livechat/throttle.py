"""Rate limits of the widget's public endpoints: who may open how many chats, and write how
many messages, in a window of LIVECHAT_RATE_WINDOW_SECONDS (10 minutes).

- `count_start`: a widget start that issues a new visitor token — a new conversation, so
  potentially a new ticket — per client address (LIVECHAT_RATE_STARTS_PER_IP, 20). A
  start with a valid token (a returning visitor) costs nothing.
- `count_message`: a visitor's message, per conversation
  (LIVECHAT_RATE_MESSAGES_PER_CONVERSATION, 60) and per client address
  (LIVECHAT_RATE_MESSAGES_PER_IP, 300). Counted once the message is read and checked,
  before it is stored; a retried POST of the same message counts again.

Over a limit raises `RateLimited` (the view answers 429 with `Retry-After`: the seconds
until the window ends). A limit of 0 is off. The client address is the one the trusted
proxies saw (`helpdesk.throttling.client_ip`, AXES_TRUSTED_PROXY_COUNT).

Where the counts live: webforms keeps its counts in PostgreSQL (`webforms.throttle`), but
livechat may not import webforms (pyproject.toml's import contracts) and the core has no
shared counter, so these are counted in **Redis** at LIVECHAT_RATE_REDIS_URL (by default
the Celery broker's URL when that is Redis): `SET NX EX` then `INCR` on one key per scope,
value and fixed window — exact across every web process and machine. Redis is a place that
may restart empty: a restart forgets the current windows' counts (the limits start again),
which is acceptable for abuse limits and keeps nothing that matters. Without a Redis URL
(`make run`, SQLite) the counts are each process's own memory. When Redis cannot be
reached the request is let through and a warning logged: the chat stays up. Keys are
HMAC-SHA256 under SECRET_KEY, so no client address is kept in Redis.
"""

import functools
import hashlib
import hmac
import logging
import time

from django.conf import settings
from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache
from django.utils.translation import ngettext
from redis import RedisError

log = logging.getLogger(__name__)

PREFIX = "livechat-rate"
REDIS_TIMEOUT = 0.5  # seconds to connect or answer; then the request is let through
STARTS_PER_IP = "start-ip"
MESSAGES_PER_CONVERSATION = "message-conversation"
MESSAGES_PER_IP = "message-ip"


class RateLimited(Exception):
    """Over the limit of `scope`; `retry_after`: seconds until the window ends."""

    def __init__(self, *, scope: str, limit: int, retry_after: int) -> None:
        super().__init__(f"{scope}: more than {limit} in the window")
        self.scope, self.limit, self.retry_after = scope, limit, retry_after

    @property
    def error(self) -> str:
        minutes = (self.retry_after + 59) // 60
        if self.scope == STARTS_PER_IP:
            text = ngettext(
                "Too many new chats from this address: try again in %(minutes)s minute.",
                "Too many new chats from this address: try again in %(minutes)s minutes.",
                minutes,
            )
        else:
            text = ngettext(
                "Too many messages: try again in %(minutes)s minute.",
                "Too many messages: try again in %(minutes)s minutes.",
                minutes,
            )
        return text % {"minutes": minutes}


@functools.cache
def _store_for(url: str) -> BaseCache:
    if url:
        options = {"socket_connect_timeout": REDIS_TIMEOUT, "socket_timeout": REDIS_TIMEOUT}
        return RedisCache(url, {"KEY_PREFIX": PREFIX, "OPTIONS": options})
    return LocMemCache(PREFIX, {"OPTIONS": {"MAX_ENTRIES": 100_000}})


def counter_store() -> BaseCache:
    """Where the counts are kept: Redis at LIVECHAT_RATE_REDIS_URL, else this process."""
    return _store_for(settings.LIVECHAT_RATE_REDIS_URL)


def _key(scope: str, value: str, window_start: int) -> str:
    digest = hmac.new(
        settings.SECRET_KEY.encode(), f"{scope}:{value}".encode(), hashlib.sha256
    ).hexdigest()
    return f"{scope}:{window_start}:{digest[:40]}"


def _count(scope: str, value: str, limit: int, now: float) -> None:
    if limit <= 0 or not value:
        return
    window = max(1, settings.LIVECHAT_RATE_WINDOW_SECONDS)
    start = int(now) - int(now) % window
    retry_after = max(1, start + window - int(now))
    store, key = counter_store(), _key(scope, value, start)
    try:
        store.add(key, 0, timeout=retry_after + 5)
        count = store.incr(key)
    except ValueError:  # expired between the two: a window of its own
        count = 1
    except RedisError as exc:
        log.warning("livechat rate limit not counted (Redis: %s); request let through", exc)
        return
    if count > limit:
        raise RateLimited(scope=scope, limit=limit, retry_after=retry_after)


def count_start(*, client_ip: str | None, now: float | None = None) -> None:
    """Count a new conversation against the client address; raises `RateLimited`."""
    now = time.time() if now is None else now
    _count(STARTS_PER_IP, client_ip or "", settings.LIVECHAT_RATE_STARTS_PER_IP, now)


def count_message(*, client_ip: str | None, conversation: str, now: float | None = None) -> None:
    """Count a visitor's message against its conversation (`<channel id>:<visitor key>`)
    and its client address; raises `RateLimited`."""
    now = time.time() if now is None else now
    limit = settings.LIVECHAT_RATE_MESSAGES_PER_CONVERSATION
    _count(MESSAGES_PER_CONVERSATION, conversation, limit, now)
    _count(MESSAGES_PER_IP, client_ip or "", settings.LIVECHAT_RATE_MESSAGES_PER_IP, now)
