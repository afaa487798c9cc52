"""`manage.py bench_routing` on a tiny load: it routes every ticket once, prints its figures
and the statements of a decision, and the ticket page of a routed ticket (issue 14)."""

import re
from io import StringIO

import pytest
from django.core.management import call_command

from helpdesk.models import Ticket
from routing.models import RoutingDecision

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_bench_routing_routes_every_ticket_and_measures_the_ticket_page():
    out = StringIO()

    call_command("bench_routing", tickets=12, agents=3, workers="1,2", stdout=out)

    report = out.getvalue()
    assert "postgresql: 3 agents, load_balanced, 12 tickets per run" in report
    assert re.search(r"statements per decision: \d+\n", report)
    for workers in (1, 2):
        assert re.search(rf"workers {workers}:\s+\d+ decisions/s\s+median [\d.]+ ms", report)
    page = re.search(r"ticket page of a ticket routed among 3 agents: ([\d.]+) KB", report)
    assert page and float(page.group(1)) > 1
    bench = Ticket.objects.filter(subject__startswith="bench ")
    # 1 for the statement count, then 12 per run; earlier runs' tickets are closed
    assert bench.count() == 25
    assert not bench.filter(Ticket.OPEN, owner__isnull=True).exists()
    assert RoutingDecision.objects.filter(ticket__in=bench).count() == 25
