"""A bounded fault test of the production shape: tickets arrive through the API (gunicorn)
while two Celery workers route them and send the notifications; one worker is SIGKILLed
mid-way and restarted, and the broker (a Redis of this test's own, on another port, keeping
nothing on disk) is killed and started again, empty. Within a stated bound after Redis is
back, every ticket is routed once and every notification (in-app and email) delivered
exactly once; nothing is stuck. The figures are printed. The parts are started with the
README's production shape commands (`bin/serve web|worker|beat`, tests/support/processes.py);
logs in test-artifacts/soak/.

`make soak` runs it with SOAK_TICKETS=400; `make test` with a small number.
"""

import os
import shutil
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from channels_cfg.models import AssignMode
from helpdesk.benchmarks import percentile
from helpdesk.models import AssignmentEvent, Job, Ticket
from notifications.models import Delivery, Notification
from routing.models import RoutingDecision
from tests.factories import AgentFactory, ApiTokenFactory, ChannelAutomationFactory
from tests.support.processes import (
    ServiceProcess,
    answers,
    fresh_log_dir,
    http,
    log_tails_on_failure,
    redis_answers,
    serve_env,
    stop_all,
)
from tests.support.services import database_url_of_test_db, free_port, wait_until

TICKETS = int(os.environ.get("SOAK_TICKETS", "40"))
CLIENTS = 4
AGENTS = 6
# How long after Redis is back everything must be done: sweeps every 5 s, grace 10 s.
BOUND_SECONDS = 120
SWEEP_ENV = {
    "SWEEP_SECONDS": "5",
    "JOBS_GRACE_SECONDS": "10",
    "ROUTING_PENDING_GRACE_SECONDS": "10",
    "NOTIFICATIONS_PENDING_GRACE_SECONDS": "10",
    "EMAIL_SENDING_LEASE_SECONDS": "20",
}

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.smtp,
    pytest.mark.skipif(
        shutil.which("redis-server") is None and os.environ.get("CI") != "true",
        reason="needs redis-server to start a broker of its own",
    ),
]


@pytest.mark.django_db(transaction=True)
def test_nothing_lost_nothing_doubled_through_a_killed_worker_and_a_redis_restart(
    smtp_server,
):
    logs = fresh_log_dir("soak")
    agents = [
        AgentFactory(username=f"soak{i}", email=f"soak{i}@example.test") for i in range(AGENTS)
    ]
    channel = ChannelAutomationFactory(assign_mode=AssignMode.SPECIFIC, users=agents).channel
    token = ApiTokenFactory(user=AgentFactory(username="intake", email="")).raw_key

    redis_port, web_port = free_port(), free_port()
    redis_server = ServiceProcess(
        "redis",
        [
            shutil.which("redis-server") or "redis-server",
            "--port",
            str(redis_port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        dict(os.environ),
        logs,
    )
    env = serve_env(
        port=web_port,
        database_url=database_url_of_test_db(),
        broker_url=f"redis://127.0.0.1:{redis_port}/0",
        email_url=smtp_server.url,
        beat_schedule_file=logs / "beat-schedule",
        SECURE_COOKIES="false",
        DEFAULT_FROM_EMAIL="help@example.test",
        **SWEEP_ENV,
    )
    workers = [
        ServiceProcess.serve("worker", {**env, "WORKER_NAME": f"soak{n}@%h"}, logs, f"worker{n}")
        for n in (1, 2)
    ]
    beat = ServiceProcess.serve("beat", env, logs)
    web = ServiceProcess.serve("web", env, logs)
    base = f"http://127.0.0.1:{web_port}/api/v1/tickets/"
    results: list[tuple[int, float, str]] = []  # status, seconds, phase
    phase = ["normal"]
    with log_tails_on_failure(logs):
        try:
            redis_server.start()
            wait_until(lambda: redis_answers(redis_port), timeout=20)
            for p in (*workers, beat, web):
                p.start()
            wait_until(lambda: answers(base + "0/", status=404, token=token), timeout=60)

            def post(i: int):
                response = http(
                    "POST",
                    base,
                    {
                        "subject": f"Soak {i}",
                        "body": "Help",
                        "contact_email": f"c{i}@example.test",
                        "channel_id": channel.pk,
                    },
                    token=token,
                    timeout=30,
                )
                results.append((response.status, response.seconds, phase[0]))
                return response.json().get("id")

            third = max(TICKETS // 3, 1)
            with ThreadPoolExecutor(CLIENTS) as pool:
                ids = list(pool.map(post, range(third)))
                workers[0].kill()  # SIGKILL to the whole worker: main process and its children
                workers[0].start()
                ids += list(pool.map(post, range(third, 2 * third)))
                redis_server.kill()  # the broker and every message in it are gone
                phase[0] = "broker down"
                ids += list(pool.map(post, range(2 * third, 2 * third + max(third // 2, 1))))
                redis_server.start()
                wait_until(lambda: redis_answers(redis_port), timeout=20)
                back = time.monotonic()
                phase[0] = "normal"
                ids += list(pool.map(post, range(len(ids), TICKETS)))

            def settled():
                open_jobs = Job.objects.exclude(state=Job.State.DONE).exists()
                unsent = Delivery.objects.exclude(status=Delivery.Status.SENT).exists()
                pending = Ticket.objects.filter(routing_state=Ticket.RoutingState.PENDING).exists()
                mails = len({m["Message-ID"] for m in smtp_server.received})
                return not (open_jobs or unsent or pending) and mails >= TICKETS

            try:
                wait_until(settled, timeout=BOUND_SECONDS, interval=0.5)
            except AssertionError:
                pytest.fail(_state(ids, smtp_server))  # the logs' tails are printed
            settled_after = time.monotonic() - back
        finally:
            stop_all([web, beat, *workers])
            redis_server.stop()
            for process in (web, beat, *workers, redis_server):
                process.assert_none_left()

    statuses = [s for s, _, _ in results]
    assert statuses.count(201) == TICKETS, f"API answers: {sorted(set(statuses))}"
    assert len(set(ids)) == TICKETS
    tickets = Ticket.objects.filter(pk__in=ids, channel=channel)
    assert tickets.count() == TICKETS
    assert not tickets.filter(owner__isnull=True).exists(), "a ticket was not assigned"
    assert AssignmentEvent.objects.filter(ticket__in=tickets).count() == TICKETS  # once each
    decisions = RoutingDecision.objects.filter(ticket__in=tickets)
    assert decisions.filter(outcome=RoutingDecision.Outcome.ASSIGNED).count() == TICKETS
    assert Notification.objects.filter(ticket__in=tickets).count() == TICKETS  # in-app, once
    assert Delivery.objects.filter(status=Delivery.Status.SENT).count() == 2 * TICKETS
    message_ids = [m["Message-ID"] for m in smtp_server.received]
    assert len(set(message_ids)) == TICKETS  # every email delivered
    duplicates = len(message_ids) - TICKETS
    # Only an email in flight when its worker was SIGKILLed may arrive twice (same
    # Message-ID): at most one per process of the killed worker.
    assert duplicates <= 2

    latencies = [s for _, s, p in results if p == "normal"]
    outage = [s for _, s, p in results if p == "broker down"]
    print(
        f"\nsoak: {TICKETS} tickets from {CLIENTS} clients, 2 workers (1 SIGKILLed), "
        f"Redis killed and restarted empty\n"
        f"  API: 0 errors; median {statistics.median(latencies) * 1000:.0f} ms, "
        f"p95 {percentile(latencies, 0.95) * 1000:.0f} ms; during the outage median "
        f"{statistics.median(outage) * 1000:.0f} ms ({len(outage)} requests)\n"
        f"  routed once: {TICKETS}/{TICKETS}; in-app notifications {TICKETS}; emails "
        f"{len(set(message_ids))} distinct, {duplicates} second copies\n"
        f"  published again by the sweeps: {Job.objects.filter(attempts__gt=0).count()} jobs; "
        f"{Delivery.objects.filter(last_error__startswith='Interrupted').count()} emails "
        f"interrupted by the kill and sent again\n"
        f"  everything settled {settled_after:.1f} s after Redis was back "
        f"(bound {BOUND_SECONDS} s; sweeps every {SWEEP_ENV['SWEEP_SECONDS']} s)"
    )


def _state(ids, smtp_server) -> str:
    return (
        f"not settled: pending tickets "
        f"{Ticket.objects.filter(routing_state=Ticket.RoutingState.PENDING).count()}, "
        f"jobs {list(Job.objects.exclude(state=Job.State.DONE).values_list('key', 'state'))[:10]}, "
        f"deliveries not sent "
        f"{list(Delivery.objects.exclude(status='sent').values_list('pk', 'status'))[:10]}, "
        f"emails {len(smtp_server.received)}"
    )
