"""The production shape, end to end: `bin/serve` (what `make serve` runs) with DEBUG off on a
fresh PostgreSQL database, Redis and a real SMTP server — gunicorn, a Celery worker and Celery
beat as separate processes. A ticket created through the API is routed by the worker and its
new owner gets the "assigned to you" email; the pages' hashed static files are served; the
web processes keep their database connections between requests.

Logs: test-artifacts/production/<part>.log (their tails are printed when the test fails).
"""

import os
import re
import sys
from email.header import decode_header, make_header
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
import pytest
import redis
from django.conf import settings

from tests.support.processes import (
    ServiceProcess,
    answers,
    fresh_log_dir,
    http,
    log_tails_on_failure,
    serve_env,
    stop_all,
)
from tests.support.services import free_port, wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.smtp]

SMOKE_REDIS_DB = 3
TOKEN = "demo-agent-token-change-me"  # seed_demo's API token of `agent`
CHANNEL = "Website chat"  # seed_demo: round robin over agents who all have an email
REQUESTS = 12


def admin_connection() -> psycopg.Connection:
    db = settings.DATABASES["default"]
    return psycopg.connect(
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        user=db["USER"] or "postgres",
        password=db["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    )


@pytest.fixture
def smoke_database():
    """A fresh database on the tests' PostgreSQL server, dropped afterwards; its URL."""
    db = settings.DATABASES["default"]
    name = f"helpdesk_smoke_{os.getpid()}"
    with admin_connection() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    auth = quote(db["USER"] or "postgres") + (f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else "")
    yield f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{name}"
    with admin_connection() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def smoke_redis():
    """The tests' Redis server on its own database number, emptied before and after."""
    url = urlunsplit(urlsplit(settings.CELERY_BROKER_URL)._replace(path=f"/{SMOKE_REDIS_DB}"))
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()
    client.close()


def subject_of(message) -> str:
    return str(make_header(decode_header(message["Subject"])))


def test_production_shape_routes_a_ticket_emails_the_owner_and_serves_static(
    smoke_database, smoke_redis, smtp_server, tmp_path
):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    logs = fresh_log_dir("production")
    env = serve_env(
        port=port,
        database_url=smoke_database,
        broker_url=smoke_redis,
        email_url=smtp_server.url,
        beat_schedule_file=tmp_path / "celerybeat-schedule",  # nothing written outside tmp_path
        DEFAULT_FROM_EMAIL="helpdesk@smoke.example",
        SITE_URL=base,
        STATIC_ROOT=str(tmp_path / "static"),
        MEDIA_ROOT=str(tmp_path / "media"),
        DEMO_API_TOKEN=TOKEN,
    )
    services = [ServiceProcess.serve(part, env, logs) for part in ("worker", "beat", "web")]

    def check_alive():
        for service in services:
            service.check_alive()

    with log_tails_on_failure(logs):
        try:
            ServiceProcess.serve("prepare", env, logs).run()  # migrate + collectstatic
            seed = [sys.executable, "manage.py", "seed_demo", "--once", "--tickets", "0"]
            ServiceProcess("seed", seed, env, logs).run()
            for service in services:
                service.start()

            def web_up():
                check_alive()
                return answers(f"{base}/accounts/login/")

            wait_until(web_up, timeout=30)

            # Static files, hashed by the manifest storage, served by WhiteNoise.
            page = http("GET", f"{base}/accounts/login/").body.decode()
            assets = re.findall(r'/static/[^"]+\.[0-9a-f]{12}\.(?:css|js)', page)
            assert any("bootstrap.min." in a for a in assets), page[:2000]
            for asset in assets:
                response = http("GET", f"{base}{asset}")
                assert response.status == 200 and response.body, asset
                assert "immutable" in response.headers["Cache-Control"], asset

            # A ticket through the API, routed by the worker, announced by email.
            with psycopg.connect(smoke_database) as conn:
                (channel_id,) = conn.execute(
                    "SELECT id FROM helpdesk_channel WHERE name = %s", [CHANNEL]
                ).fetchone()
            response = http(
                "POST",
                f"{base}/api/v1/tickets/",
                {
                    "subject": "Smoke test",
                    "body": "Is production up?",
                    "contact_email": "kim@example.com",
                    "channel_id": channel_id,
                },
                token=TOKEN,
            )
            assert response.status == 201, response.body
            ticket_id = response.json()["id"]

            def routed():
                check_alive()
                response = http("GET", f"{base}/api/v1/tickets/{ticket_id}/", token=TOKEN)
                assert response.status == 200, response.body
                ticket = response.json()
                return ticket if ticket["routing_state"] == "done" else None

            ticket = wait_until(routed, timeout=30)
            assert ticket["owner"] is not None, ticket

            def assigned_email():
                check_alive()
                mine = [m for m in smtp_server.received if f"#{ticket_id} " in subject_of(m)]
                return mine[0] if mine else None

            email = wait_until(assigned_email, timeout=30)
            assert subject_of(email).endswith("to you")
            with psycopg.connect(smoke_database) as conn:
                (owner_email,) = conn.execute(
                    "SELECT email FROM helpdesk_user WHERE id = %s", [ticket["owner"]["id"]]
                ).fetchone()
            assert email["To"] == owner_email
            assert email["From"] == "helpdesk@smoke.example"

            # Persistent connections (CONN_MAX_AGE with DEBUG off): requests reuse the web
            # threads' connections instead of opening one each.
            def backends() -> set[int]:
                with psycopg.connect(smoke_database) as conn:
                    rows = conn.execute(
                        "SELECT pid FROM pg_stat_activity"
                        " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    ).fetchall()
                return {pid for (pid,) in rows}

            kept = backends()
            for _ in range(REQUESTS):
                response = http("GET", f"{base}/api/v1/tickets/{ticket_id}/", token=TOKEN)
                assert response.status == 200, response.body
            after = backends()
            assert kept and kept & after, (kept, after)
            assert len(after - kept) < REQUESTS // 2, (kept, after)
        finally:
            stop_all(services)
        for service in services:  # no stray process in any group
            service.assert_none_left()
