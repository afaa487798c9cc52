"""The service markers of tests/conftest.py: a test needing an absent service is skipped with
the reason, or fails in CI; a test whose service is present runs."""

import importlib.util
import time
from pathlib import Path

import pytest
from django.db import connection

from tests.conftest import (
    chromium_path,
    enforce_services,
    missing_services,
    postgres_missing,
    probe_browser,
    probe_redis,
)


@pytest.mark.parametrize("ci", ["true", ""])
def test_no_reasons_means_the_test_runs(monkeypatch, ci):
    monkeypatch.setenv("CI", ci)
    assert enforce_services([]) is None  # returns: neither pytest.skip nor pytest.fail raised


def test_missing_service_skips_outside_ci(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="needs PostgreSQL: set DATABASE_URL"):
        enforce_services(["needs PostgreSQL: set DATABASE_URL=postgres://…"])


@pytest.mark.parametrize("value", ["false", "0", ""])
def test_ci_other_than_true_still_skips(monkeypatch, value):
    monkeypatch.setenv("CI", value)
    with pytest.raises(pytest.skip.Exception):
        enforce_services(["needs Redis"])


@pytest.mark.parametrize("value", ["true", "TRUE", "True"])
def test_missing_service_fails_in_ci(monkeypatch, value):
    monkeypatch.setenv("CI", value)
    with pytest.raises(pytest.fail.Exception, match="needs Redis: set CELERY_BROKER_URL"):
        enforce_services(["needs Redis: set CELERY_BROKER_URL=redis://…"])


def test_postgres_probe_follows_the_configured_engine():
    if connection.vendor == "postgresql":
        assert missing_services(["postgres"]) == []
    else:
        [reason] = missing_services(["postgres"])
        assert reason.startswith("needs PostgreSQL: set DATABASE_URL=postgres://")


def test_celery_worker_needs_postgres_too():
    reasons = " ".join(missing_services(["celery_worker"]))
    assert ("needs PostgreSQL" in reasons) == (postgres_missing() is not None)


def test_unknown_markers_need_nothing():
    assert missing_services(["django_db", "parametrize"]) == []


def test_redis_probe_without_broker_url():
    assert probe_redis("").startswith("needs Redis: set CELERY_BROKER_URL=redis://")
    assert probe_redis("amqp://guest@localhost//").startswith("needs Redis")


def test_redis_probe_of_a_closed_port_answers_quickly():
    began = time.monotonic()
    reason = probe_redis("redis://127.0.0.1:1/0")
    assert reason is not None
    assert "does not answer" in reason
    assert time.monotonic() - began < 5


def test_browser_probe_without_chromium(tmp_path):
    reason = probe_browser(tmp_path / "no-chromium")
    assert reason.startswith("needs Chromium at")
    assert "CHROMIUM_PATH" in reason


def test_browser_probe_reads_chromium_path(monkeypatch, tmp_path):
    monkeypatch.setenv("CHROMIUM_PATH", str(tmp_path / "chrome"))
    assert chromium_path() == tmp_path / "chrome"
    monkeypatch.delenv("CHROMIUM_PATH")
    assert chromium_path() == Path("/usr/bin/chromium")


# The hook itself: each of these runs only where its service is present, and checks that.


@pytest.mark.postgres
@pytest.mark.django_db
def test_postgres_marked_test_runs_only_on_postgresql():
    assert connection.vendor == "postgresql"


@pytest.mark.redis
def test_redis_marked_test_runs_only_with_a_broker():
    from django.conf import settings

    assert probe_redis(settings.CELERY_BROKER_URL) is None


@pytest.mark.smtp
def test_smtp_marked_test_runs_only_with_aiosmtpd():
    assert importlib.util.find_spec("aiosmtpd") is not None


@pytest.mark.browser
def test_browser_marked_test_runs_only_with_chromium_and_playwright():
    assert chromium_path().is_file()
    assert importlib.util.find_spec("playwright") is not None
