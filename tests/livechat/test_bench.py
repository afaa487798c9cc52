"""`manage.py bench_chat` runs end to end on a small load and checks what it measures:
every message stored once, one ticket per visitor, every long poll woken."""

import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from helpdesk.models import Message, Ticket


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_bench_chat_reports_nothing_lost_or_doubled():
    out = StringIO()
    call_command("bench_chat", messages=30, visitors=5, clients=2, workers=2, stdout=out)
    report = out.getvalue()
    assert "checked: 30/30 messages stored, 0 lost, 0 doubled; 5 tickets for 5 visitors" in report
    assert re.search(r"intake: 33 POSTs \(30 messages, 3 retried\)", report)
    assert re.search(r"real time: 5 long polls woken", report)
    assert Ticket.objects.count() == 5
    assert Message.objects.count() == 30 + 5  # and one wake-up message per sampled visitor


@pytest.mark.django_db
def test_bench_chat_refuses_sqlite_and_nonsense(settings):
    from django.db import connection

    if connection.vendor == "postgresql":
        with pytest.raises(CommandError, match="at most one visitor per message"):
            call_command("bench_chat", messages=2, visitors=3)
    else:
        with pytest.raises(CommandError, match="needs PostgreSQL"):
            call_command("bench_chat", messages=2)
