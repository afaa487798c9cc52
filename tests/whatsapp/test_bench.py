"""`manage.py bench_whatsapp` runs end to end on a small load — gunicorn and a Celery worker
on loopback, on the test database — and checks what it measures: every message once, one
ticket per contact, every redelivery recognised."""

import re
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from helpdesk.models import Message, Ticket
from tests.support.processes import still_running
from tests.support.services import database_url_of_test_db


@pytest.mark.celery_worker  # PostgreSQL and Redis: the command starts its own worker
@pytest.mark.django_db(transaction=True)
def test_bench_whatsapp_posts_over_loopback_and_reports_nothing_lost_or_doubled(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", database_url_of_test_db())
    monkeypatch.setenv("CELERY_BROKER_URL", settings.CELERY_BROKER_URL)
    out = StringIO()

    call_command(
        "bench_whatsapp", deliveries=20, contacts=4, clients=2, web=1, workers=1, stdout=out
    )

    report = out.getvalue()
    assert "over http://127.0.0.1:" in report
    assert re.search(r"webhook: 22 POSTs in [\d.]+ s = \d+ requests/s", report)
    assert re.search(r"workers: 20 messages processed [\d.]+ s after the first POST", report)
    assert "redeliveries recognised 2 of 2; tickets 4 (one per contact: 4)" in report
    assert "lost 0, doubled 0" in report
    assert (Ticket.objects.count(), Message.objects.count()) == (4, 20)
    run = re.search(r"; run ([0-9a-f]+)", report).group(1)
    assert not still_running(f"bench-whatsapp-{run}@")  # the command stopped what it started


@pytest.mark.django_db
def test_bench_whatsapp_refuses_nonsense_before_starting_anything():
    with pytest.raises(CommandError, match="--deliveries"):
        call_command("bench_whatsapp", deliveries=0)
    with pytest.raises(CommandError, match="--clients"):
        call_command("bench_whatsapp", deliveries=5, clients=0)
