"""`manage.py bench_flow` end to end on a tiny load — gunicorn and a Celery worker on loopback,
on the test database and Redis: it prints its figures, every ticket was routed to an agent
and announced to its owner, and what it started is stopped."""

import re
import socket
from io import StringIO

import pytest
from django.apps import apps
from django.conf import settings
from django.core.management import CommandError, call_command

from helpdesk.models import Ticket
from tests.support.processes import still_running
from tests.support.services import database_url_of_test_db

pytestmark = pytest.mark.celery_worker  # PostgreSQL and Redis: the command starts its parts


@pytest.mark.django_db(transaction=True)
def test_bench_flow_posts_routes_and_notifies_every_ticket(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", database_url_of_test_db())
    monkeypatch.setenv("CELERY_BROKER_URL", settings.CELERY_BROKER_URL)
    out = StringIO()

    call_command("bench_flow", tickets=20, agents=3, clients=2, web=1, timeout=60, stdout=out)

    report = out.getvalue()
    assert "web: bin/serve web (1 processes); workers: every queue: 2 processes" in report
    assert re.search(
        r"created: 20 in [\d.]+ s = \d+ tickets/s; POST ms median [\d.]+ / p95 "
        r"[\d.]+; errors 0",
        report,
    ), report
    assert re.search(r"routed: 20 \(20 assigned\) in [\d.]+ s = \d+ tickets/s", report), report
    assert re.search(
        r'notified: 20 "assigned to you" in the app; after the routing decision: '
        r"median [\d.]+ s / p95 [\d.]+ s",
        report,
    ), report
    tickets = Ticket.objects.filter(subject__startswith="bench flow ")
    assert tickets.count() == 20
    assert not tickets.filter(owner__isnull=True).exists()
    assert set(tickets.values_list("owner__username", flat=True)) <= {
        f"bench-flow3-{i}" for i in range(3)
    }
    decision = apps.get_model("routing", "RoutingDecision")
    assert decision.objects.filter(ticket__in=tickets, outcome="assigned").count() == 20
    notification = apps.get_model("notifications", "Notification")
    assert notification.objects.filter(ticket__in=tickets, event="assigned_to_me").count() == 20

    run = re.search(r"; run ([0-9a-f]+)", report).group(1)
    assert not still_running(f"bench-flow-{run}-")  # the worker was stopped
    port = int(re.search(r"http://127\.0\.0\.1:(\d+)/", report).group(1))
    with pytest.raises(OSError):  # and the web
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


@pytest.mark.django_db
def test_bench_flow_refuses_nonsense_and_a_missing_broker_before_starting_anything(
    monkeypatch,
):
    with pytest.raises(CommandError, match="--tickets"):
        call_command("bench_flow", tickets=0)
    with pytest.raises(CommandError, match="--workers 'routing:x'"):
        monkeypatch.setenv("CELERY_BROKER_URL", settings.CELERY_BROKER_URL)
        call_command("bench_flow", tickets=5, workers="routing:x")
    monkeypatch.setenv("CELERY_BROKER_URL", "")
    with pytest.raises(CommandError, match="needs a Redis broker"):
        call_command("bench_flow", tickets=5)
    assert not Ticket.objects.exists()
