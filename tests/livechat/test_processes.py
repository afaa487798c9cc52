"""Long polling across web processes: two gunicorn servers of the production shape
(`bin/serve web`: gthread workers, DEBUG off) on the tests' PostgreSQL database. A visitor
long-polls on server A; once A's wait is listening, the visitor's next message is POSTed
through server B, which stores and processes it (tasks eager: no Celery worker, so B's own
commit sends the NOTIFY) — and the poll held on A answers with it at once, well before
LIVECHAT_WAIT_SECONDS. Nothing but PostgreSQL links the two processes.

Logs: test-artifacts/livechat-processes/<server>.log (their tails are printed on failure).
"""

import threading
import time
from pathlib import Path

import psycopg
import pytest

from livechat.realtime import LOCK_SPACE
from tests.livechat.conftest import chatflow
from tests.support.processes import (
    ServiceProcess,
    answers,
    fresh_log_dir,
    http,
    log_tails_on_failure,
    serve_env,
    stop_all,
)
from tests.support.services import database_url_of_test_db, free_port, wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

WAIT_SECONDS = 30  # what A may hold a poll for; the answer must come long before
PROMPT = 5  # seconds from B's 202 to A's answer, at most (tens of ms when idle)


def waits_in_progress(database_url: str) -> int:
    """Livechat waits holding their per-conversation advisory lock (`realtime`), in any
    process, on this database."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        (count,) = conn.execute(
            "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
            "WHERE l.locktype = 'advisory' AND l.classid = %s AND d.datname = current_database()",
            [LOCK_SPACE],
        ).fetchone()
    return count


def test_a_long_poll_on_one_process_is_woken_by_a_message_posted_through_another(
    tmp_path: Path,
):
    chat = chatflow()
    database_url = database_url_of_test_db()
    ports = {"a": free_port(), "b": free_port()}
    base = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    env = serve_env(
        port=0,
        database_url=database_url,
        broker_url="",  # no broker: tasks run eagerly in the web process that stores
        email_url="console://",
        beat_schedule_file=tmp_path / "celerybeat-schedule",
        STATIC_ROOT=str(tmp_path / "static"),
        MEDIA_ROOT=str(tmp_path / "media"),
        WEB_CONCURRENCY="1",  # one gunicorn worker per server: A and B are two processes
        WEB_THREADS="4",
        LIVECHAT_WAITS_PER_PROCESS="2",
        LIVECHAT_WAIT_SECONDS=str(WAIT_SECONDS),
    )  # one SECRET_KEY for both: a token issued by A is valid on B
    logs = fresh_log_dir("livechat-processes")
    servers = {
        name: ServiceProcess.serve("web", {**env, "PORT": str(port)}, logs, name=f"web-{name}")
        for name, port in ports.items()
    }
    chat_url = {name: f"{url}/chat/w/{chat.public_id}" for name, url in base.items()}

    with log_tails_on_failure(logs):
        try:
            for server in servers.values():
                server.start()

            def both_up():
                for server in servers.values():
                    server.check_alive()
                # 401: served, and the chat found in the database (no token sent).
                return all(answers(f"{url}/messages", status=401) for url in chat_url.values())

            wait_until(both_up, timeout=60)

            started = http("POST", f"{chat_url['a']}/start", {})
            assert started.status == 200, started.body
            token = started.json()["token"]
            first = http(
                "POST", f"{chat_url['b']}/messages", {"id": "m1", "text": "Hi"}, token=token
            )
            assert first.status == 202, first.body  # the conversation and its ticket exist
            seen = http("GET", f"{chat_url['a']}/messages", token=token).json()
            assert [m["text"] for m in seen["messages"]] == ["Hi"]

            poll: dict = {}

            def long_poll():
                url = f"{chat_url['a']}/messages?after={seen['cursor']}&wait=1"
                try:
                    poll["response"] = http("GET", url, token=token, timeout=WAIT_SECONDS + 10)
                finally:
                    poll["at"] = time.monotonic()

            reader = threading.Thread(target=long_poll, daemon=True)
            reader.start()
            wait_until(lambda: waits_in_progress(database_url) == 1, timeout=20)
            assert "at" not in poll, "A answered before anything was posted"

            posted = http(
                "POST", f"{chat_url['b']}/messages", {"id": "m2", "text": "Anyone?"}, token=token
            )
            posted_at = time.monotonic()
            assert posted.status == 202, posted.body
            reader.join(timeout=WAIT_SECONDS + 15)
            assert not reader.is_alive()
            answer = poll["response"]
            assert answer.status == 200, answer.body
            assert [m["text"] for m in answer.json()["messages"]] == ["Anyone?"]
            assert poll["at"] - posted_at < PROMPT, "A's poll was not woken by B's commit"
        finally:
            stop_all(servers.values())
        for server in servers.values():
            server.assert_none_left()
