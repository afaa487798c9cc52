"""`manage.py bench_routing` on a tiny load: it routes every ticket once, prints its figures
and the statements of a decision, and the ticket page of a routed ticket (issue 14)."""

import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

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


# A stand-in for the floor's script: each call prints the next of these rates (calls logged).
FLOOR_RATES = (300000, 100000, 200000)
FLOOR_SCRIPT = """
import sys
from pathlib import Path
log = Path(__file__).with_suffix(".calls")
before = log.read_text() if log.exists() else ""
log.write_text(before + " ".join(sys.argv[2:]) + "\\n")
rate = {rates}[before.count("\\n")]
print(f"workers 1: {{rate}} decisions/s  median 0.01 ms  p95 0.02 ms")
"""


def test_bench_routing_rounds_run_the_floor_and_the_engine_in_turn(tmp_path):
    """With `--rounds`, each round runs the floor's script, then the engine, and compares
    the two; the median of the rounds' ratios comes last."""
    script = tmp_path / "floor.py"
    script.write_text(FLOOR_SCRIPT.format(rates=FLOOR_RATES))
    out = StringIO()

    call_command(
        "bench_routing", tickets=6, agents=2, workers="1", rounds=3, floor=str(script), stdout=out
    )

    report = out.getvalue()
    calls = (tmp_path / "floor.calls").read_text().splitlines()
    assert len(calls) == 3 and all("--tickets 6 --agents 2 --workers 1" in c for c in calls)
    rounds = re.split(r"round \d of 3:\n", report)[1:]
    assert len(rounds) == 3
    ratios = []
    for rate, text in zip(FLOOR_RATES, rounds, strict=True):
        # each round is compared with the floor's figure printed just before it
        found = re.search(rf"\| floor {rate}/s, median 0.01 ms: ([\d.]+)× the floor's time", text)
        assert found, text
        ratios.append(float(found.group(1)))
    summary = re.search(
        r"workers 1, median of 3 rounds: ([\d.]+)× the floor's time \(([^)]*)\)\n", rounds[-1]
    )
    assert summary, report
    assert summary.start() > rounds[-1].index("| floor 200000/s")  # after the last round
    assert float(summary.group(1)) == sorted(ratios)[1]
    assert summary.group(2) == ", ".join(f"{r:.1f}×" for r in ratios)
    # 1 ticket for the statement count, then 6 per round
    assert Ticket.objects.filter(subject__startswith="bench ").count() == 19


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"rounds": 0}, "--rounds must be 1 or more."),
        ({"rounds": 2}, "--rounds compares with the floor: give --floor or --floor-output."),
    ],
)
def test_bench_routing_refuses_rounds_it_cannot_compare(options, message):
    with pytest.raises(CommandError, match=re.escape(message)):
        call_command("bench_routing", tickets=2, agents=1, workers="1", **options)
    assert not Ticket.objects.filter(subject__startswith="bench ").exists()  # nothing built
