"""The production shape, end to end: `bin/serve` (what `make serve` runs) with DEBUG off on a
fresh PostgreSQL database, Redis and a real SMTP server — gunicorn, a Celery worker and Celery
beat as separate processes. A ticket created through the API is routed by the worker and its
new owner gets the "assigned to you" email; the pages' hashed static files are served.

Logs: test-artifacts/production/<part>.log (their tails are printed when the test fails).
"""

import json
import os
import re
import secrets
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from contextlib import contextmanager, suppress
from email.header import decode_header, make_header
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
import pytest
import redis
from django.conf import settings

from tests.support.services import free_port, wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.smtp]

ROOT = Path(__file__).resolve().parents[2]
LOGS = ROOT / "test-artifacts" / "production"
SMOKE_REDIS_DB = 3
TOKEN = "demo-agent-token-change-me"  # seed_demo's API token of `agent`
CHANNEL = "Website chat"  # seed_demo: round robin over agents who all have an email
STOP_TIMEOUT = 20


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


class Stack:
    """The processes of one production shape, each in its own process group and log."""

    def __init__(self, env: dict[str, str]):
        self.env = env
        self.procs: dict[str, subprocess.Popen] = {}
        LOGS.mkdir(parents=True, exist_ok=True)

    def log(self, part: str) -> Path:
        return LOGS / f"{part}.log"

    def run(self, part: str, *command: str, timeout: float = 90) -> None:
        with self.log(part).open("wb") as log:
            result = subprocess.run(
                command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                timeout=timeout, start_new_session=True,
            )  # fmt: skip
        assert result.returncode == 0, f"{part} exited with {result.returncode}"

    def start(self, part: str) -> None:
        with self.log(part).open("wb") as log:
            self.procs[part] = subprocess.Popen(
                ["bin/serve", part], cwd=ROOT, env=self.env, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip

    def check_alive(self) -> None:
        for part, proc in self.procs.items():
            assert proc.poll() is None, f"{part} exited with {proc.returncode}"

    def stop(self) -> None:
        """TERM each leader (graceful: gunicorn and Celery stop their children), then KILL
        whatever is left in its group."""
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for part, proc in self.procs.items():
            try:
                proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                print(f"{part} did not stop within {STOP_TIMEOUT}s; killing it")
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # stragglers of the group, if any
            proc.wait()

    def print_log_tails(self, lines: int = 40) -> None:
        for path in sorted(LOGS.glob("*.log")):
            tail = path.read_text(errors="replace").splitlines()[-lines:]
            print(f"\n----- {path.relative_to(ROOT)} (last {len(tail)} lines) -----")
            print("\n".join(tail))

    @contextmanager
    def logs_on_failure(self):
        try:
            yield
        except BaseException:
            self.print_log_tails()
            raise


def http(method: str, url: str, body: dict | None = None, token: str | None = None):
    """(status, headers, body bytes) of one request; error statuses are returned too."""
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def answers(url: str) -> bool:
    try:
        return http("GET", url)[0] == 200
    except OSError:  # not listening yet
        return False


def group_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


def subject_of(message) -> str:
    return str(make_header(decode_header(message["Subject"])))


def test_production_shape_routes_a_ticket_emails_the_owner_and_serves_static(
    smoke_database, smoke_redis, smtp_server, tmp_path
):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",  # plain HTTP on loopback
        "DATABASE_URL": smoke_database,
        "CELERY_BROKER_URL": smoke_redis,
        "EMAIL_URL": smtp_server.url,
        "DEFAULT_FROM_EMAIL": "helpdesk@smoke.example",
        "SITE_URL": base,
        "STATIC_ROOT": str(tmp_path / "static"),
        "MEDIA_ROOT": str(tmp_path / "media"),
        "DEMO_API_TOKEN": TOKEN,
        # bin/serve's knobs: a small shape, and nothing written outside tmp_path
        "VENV_PYTHON": sys.executable,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "WEB_CONCURRENCY": "2",
        "WORKER_CONCURRENCY": "2",
        "BEAT_SCHEDULE_FILE": str(tmp_path / "celerybeat-schedule"),
        "GUNICORN_CMD_ARGS": "--no-control-socket",  # no socket shared with another gunicorn
        "PYTHONUNBUFFERED": "1",
    }
    stack = Stack(env)
    with stack.logs_on_failure():
        try:
            stack.run("prepare", "bin/serve", "prepare")  # migrate + collectstatic
            stack.run("seed", sys.executable, "manage.py", "seed_demo", "--once", "--tickets", "0")
            for part in ("worker", "beat", "web"):
                stack.start(part)

            def web_up():
                stack.check_alive()
                return answers(f"{base}/accounts/login/")

            wait_until(web_up, timeout=30)

            # Static files, hashed by the manifest storage, served by WhiteNoise.
            status, _, page = http("GET", f"{base}/accounts/login/")
            assets = re.findall(r'/static/[^"]+\.[0-9a-f]{12}\.(?:css|js)', page.decode())
            assert any("bootstrap.min." in a for a in assets), page.decode()[:2000]
            for asset in assets:
                status, headers, content = http("GET", f"{base}{asset}")
                assert status == 200 and content, asset
                assert "immutable" in headers["Cache-Control"], asset

            # A ticket through the API, routed by the worker, announced by email.
            with psycopg.connect(smoke_database) as conn:
                (channel_id,) = conn.execute(
                    "SELECT id FROM helpdesk_channel WHERE name = %s", [CHANNEL]
                ).fetchone()
            status, _, body = http(
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
            assert status == 201, body
            ticket_id = json.loads(body)["id"]

            def routed():
                stack.check_alive()
                status, _, body = http("GET", f"{base}/api/v1/tickets/{ticket_id}/", token=TOKEN)
                assert status == 200, body
                ticket = json.loads(body)
                return ticket if ticket["routing_state"] == "done" else None

            ticket = wait_until(routed, timeout=30)
            assert ticket["owner"] is not None, ticket

            def assigned_email():
                stack.check_alive()
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
        finally:
            stack.stop()
        for proc in stack.procs.values():  # no stray process in any group
            wait_until(lambda pgid=proc.pid: group_gone(pgid), timeout=5)
