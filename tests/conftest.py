"""Shared test infrastructure: named users, service markers, captured domain events.

Named users make tests read like stories: `agent` and `other_agent` work tickets (Agents
group, a seat), `admin_user` manages channels (Account admins, staff), `superadmin` can do
anything, `outsider` has an account but no ticket access. pytest-django's `admin_client` is
signed in as `admin_user` — the account admin, not a superuser (`admin_user` is overridden
below); define no other.

Celery is not eager in tests (`tests/support/services.py`): every test starts with an empty
in-memory broker (`memory://`, whatever CELERY_BROKER_URL says), so what the code publishes
waits there and nothing reaches a real broker. A test that needs the work done calls the task
(`task.apply(...)`, or the service it wraps) or uses `published_tasks`: after the code
committed (`django_capture_on_commit_callbacks(execute=True)`, or a transactional test),
`published_tasks.names` shows what was published and `published_tasks.run()` runs it as a
worker would, with whatever that publishes in turn; `published_tasks.after_commit()` does
both around a block. Integration tests use a real worker (`celery_worker`: this process and
the worker on the configured Redis; `wait_idle()` says when nothing more will arrive). A few
smoke tests opt into eager mode, as `make run` runs — `@pytest.mark.usefixtures("eager_celery")`
on the test or as a module's `pytestmark` — where the work must happen in-process at commit:
browser tests whose live server must route or announce, the deadlock tests (after-commit work
in the committing threads), and mailroom's outbound tests.

Service markers (declared in pyproject.toml) say what a test needs besides Python:
`postgres`, `redis`, `celery_worker` (both), `smtp` (aiosmtpd) and `browser` (Chromium and
Playwright). A test whose service is missing is skipped with the reason — except in CI
(`CI=true`), where an absent service is a failure.
"""

import importlib.util
import os
from collections.abc import Callable, Iterable
from functools import cache
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import Group

from helpdesk import events
from helpdesk.services import give_seat
from helpdesk.services.groups import ACCOUNT_ADMINS, AGENTS, ensure_default_groups
from tests.factories import UserFactory

# Fixtures that start real services (a Celery worker, an SMTP server) for integration tests.
pytest_plugins = ["tests.support.services"]


def pytest_configure(config: pytest.Config) -> None:
    # Hashing "pw" with PBKDF2 for every factory user would dominate the run time.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # WhiteNoise warns on every request when `collectstatic` has not run; tests need no files.
    config.addinivalue_line("filterwarnings", "ignore:No directory at:UserWarning")


# ---------------------------------------------------------------------------------------
# Service markers
# ---------------------------------------------------------------------------------------

PROBE_TIMEOUT_SECONDS = 1.0


@cache
def postgres_missing() -> str | None:
    engine = settings.DATABASES["default"]["ENGINE"]
    if "postgresql" in engine:
        return None
    return f"needs PostgreSQL: set DATABASE_URL=postgres://… (the database engine is {engine})"


def probe_redis(url: str) -> str | None:
    """Why a Redis broker at `url` cannot be used, or None when it answers a PING."""
    if not url.startswith(("redis://", "rediss://")):
        return "needs Redis: set CELERY_BROKER_URL=redis://… (no Redis broker is configured)"
    try:
        import redis

        client = redis.Redis.from_url(
            url,
            socket_connect_timeout=PROBE_TIMEOUT_SECONDS,
            socket_timeout=PROBE_TIMEOUT_SECONDS,
        )
        try:
            client.ping()
        finally:
            client.close()
    except Exception as exc:
        return f"needs Redis: the broker at CELERY_BROKER_URL={url} does not answer ({exc})"
    return None


@cache
def redis_missing() -> str | None:
    return probe_redis(getattr(settings, "CELERY_BROKER_URL", "") or "")


@cache
def celery_worker_missing() -> str | None:
    reasons = [r for r in (postgres_missing(), redis_missing()) if r]
    if not reasons:
        return None
    return "a real Celery worker " + "; ".join(reasons)


@cache
def smtp_missing() -> str | None:
    if importlib.util.find_spec("aiosmtpd") is None:
        return "needs aiosmtpd for a real SMTP server: pip install -e '.[dev]'"
    return None


def probe_browser(chromium: Path) -> str | None:
    """Why Chromium at `chromium` cannot be driven, or None when it and Playwright exist."""
    if not (chromium.is_file() and os.access(chromium, os.X_OK)):
        return f"needs Chromium at {chromium}: apt-get install chromium, or set CHROMIUM_PATH"
    if importlib.util.find_spec("playwright") is None:
        return "needs the playwright package: pip install -e '.[dev]'"
    return None


def chromium_path() -> Path:
    return Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))


@cache
def browser_missing() -> str | None:
    return probe_browser(chromium_path())


@cache
def imap_missing() -> str | None:
    from tests.mailroom.dovecot import dovecot_binary

    if dovecot_binary() is None:
        return "needs dovecot: apt-get install dovecot-imapd"
    return None


SERVICE_PROBES: dict[str, Callable[[], str | None]] = {
    "postgres": postgres_missing,
    "redis": redis_missing,
    "celery_worker": celery_worker_missing,
    "smtp": smtp_missing,
    "browser": browser_missing,
    "imap": imap_missing,
}


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() == "true"


def missing_services(marker_names: Iterable[str]) -> list[str]:
    """The reasons why the services named by these markers are not usable here."""
    reasons = []
    for name in marker_names:
        probe = SERVICE_PROBES.get(name)
        reason = probe() if probe else None
        if reason and reason not in reasons:
            reasons.append(reason)
    return reasons


def enforce_services(reasons: list[str]) -> None:
    """Skip (locally) or fail (in CI) when a needed service is missing."""
    if not reasons:
        return
    message = "; ".join(reasons)
    if in_ci():
        pytest.fail(f"CI=true and a required service is missing: {message}", pytrace=False)
    pytest.skip(message)


def service_markers(item: pytest.Item) -> list[str]:
    return [m.name for m in item.iter_markers() if m.name in SERVICE_PROBES]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Outside CI, mark tests whose services are missing as skipped, with the reason (reported
    at the test's own location). In CI nothing is skipped: setup fails them instead."""
    if in_ci():
        return
    for item in items:
        reasons = missing_services(service_markers(item))
        if reasons:
            item.add_marker(pytest.mark.skip(reason="; ".join(reasons)))


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Runs before the test's fixtures are set up: fails the test in CI when a service it
    needs is missing (and skips it otherwise, should the collection hook not have)."""
    enforce_services(missing_services(service_markers(item)))


# ---------------------------------------------------------------------------------------
# Named users
# ---------------------------------------------------------------------------------------


def group(name: str) -> Group:
    """A default group (created by the post_migrate handler; recreated if a flush lost it)."""
    found = Group.objects.filter(name=name).first()
    if found is None:
        ensure_default_groups()
        found = Group.objects.get(name=name)
    return found


def make_agent(username: str, **fields):
    """A user in the Agents group with a seat given through the service (R7, R8)."""
    user = UserFactory(username=username, **fields)
    user.groups.add(group(AGENTS))
    give_seat(user=user)
    return user


@pytest.fixture
def agent(db):
    return make_agent("agent", first_name="Ada", last_name="Agent")


@pytest.fixture
def other_agent(db):
    return make_agent("other_agent", first_name="Otto", last_name="Other")


@pytest.fixture
def admin_user(db):
    """An account admin (not a superuser): manages channels and routing (R6).

    Overrides pytest-django's `admin_user`, which is a superuser; use `superadmin` for that.
    """
    user = UserFactory(username="admin", first_name="Anna", last_name="Admin", is_staff=True)
    user.groups.add(group(ACCOUNT_ADMINS))
    return user


@pytest.fixture
def superadmin(db):
    return UserFactory(
        username="superadmin",
        first_name="Sam",
        last_name="Super",
        is_staff=True,
        is_superuser=True,
    )


@pytest.fixture
def outsider(db):
    """Has an account but no ticket access (no group, no permission)."""
    return UserFactory(username="outsider", first_name="Olga", last_name="Outsider")


# ---------------------------------------------------------------------------------------
# Domain events
# ---------------------------------------------------------------------------------------


def domain_signals() -> dict[str, object]:
    from django.dispatch import Signal

    return {name: obj for name, obj in vars(events).items() if isinstance(obj, Signal)}


class EventLog(list):
    """The domain events sent during a test, as (signal_name, kwargs) tuples in order."""

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self]

    def of(self, name: str) -> list[dict]:
        return [kwargs for sent, kwargs in self if sent == name]


@pytest.fixture
def captured_events() -> EventLog:
    """Record every signal of `helpdesk.events` sent while the test runs."""
    log = EventLog()
    connected = []
    for name, signal in domain_signals().items():

        def receiver(sender, signal, _name=name, **kwargs):
            log.append((_name, kwargs))

        uid = f"tests-captured-events-{name}"
        signal.connect(receiver, weak=False, dispatch_uid=uid)
        connected.append((signal, uid))
    yield log
    for signal, uid in connected:
        signal.disconnect(dispatch_uid=uid)
