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


def test_bench_routing_rounds_print_the_median_of_the_ratios(tmp_path):
    """With a floor, `--rounds` measures the engine that many times, each beside the floor,
    and prints the median of the ratios last (the floor's figures here: a file)."""
    floor = tmp_path / "floor.txt"
    floor.write_text("workers 1:   100000 decisions/s  median 0.01 ms  p95 0.02 ms\n")
    out = StringIO()

    call_command(
        "bench_routing", tickets=6, agents=2, workers="1", rounds=3, floor_output=floor, stdout=out
    )

    report = out.getvalue()
    assert [line for line in report.splitlines() if line.startswith("round ")] == [
        "round 1 of 3:",
        "round 2 of 3:",
        "round 3 of 3:",
    ]
    each = [float(r) for r in re.findall(r"floor 100000/s, median 0.01 ms: ([\d.]+)×", report)]
    assert len(each) == 3
    summary = re.search(
        r"workers 1, median of 3 rounds: ([\d.]+)× the floor's time \(([^)]*)\)", report
    )
    assert summary, report
    assert float(summary.group(1)) == sorted(each)[1]
    assert summary.group(2) == ", ".join(f"{r:.1f}×" for r in each)
    # 1 ticket for the statement count, then 6 per round
    assert Ticket.objects.filter(subject__startswith="bench ").count() == 19
