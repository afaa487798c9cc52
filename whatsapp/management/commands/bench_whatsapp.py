"""`manage.py bench_whatsapp --deliveries 1000 [--contacts 200] [--redeliver-every 10]`: signed
webhook deliveries per second through the real view (Django's test client, in process: the
signature check, the parser, the raw-first store in one transaction), every
`--redeliver-every`-th delivery posted twice as Meta does on a timeout; then every stored
event processed by the handler (contacts by WhatsApp id, one open ticket per contact, routing
and announcements recorded but not run). Prints deliveries/s and messages/s with the median
and p95 and the SQL queries of each step, and checks the outcome: every message once (0
lost, 0 doubled). Builds its own channel; runs on the configured database."""

import json
import secrets
import statistics
import time
import uuid
from contextlib import contextmanager
from unittest import mock

from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.test import Client
from django.urls import reverse

from helpdesk import jobs
from helpdesk.channel_kinds import POLICIES
from helpdesk.models import Channel, InboundEvent, Message, Ticket
from helpdesk.services.intake import process_inbound
from whatsapp.inbound import handle_event
from whatsapp.models import WhatsAppSettings
from whatsapp.payload import sign
from whatsapp.webhook import KIND

PHONE_NUMBER_ID = "100200300400"


@contextmanager
def counting_queries():
    counter = {"n": 0}

    def wrapper(execute, sql, params, many, context):
        counter["n"] += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        yield counter


def _nothing(*args, **kwargs):  # tasks are recorded, not run
    return True


def _delivery(run: str, i: int, contacts: int) -> bytes:
    sender = f"47{run_digits(run)}{i % contacts:05d}"
    body = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "WABA",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {"phone_number_id": PHONE_NUMBER_ID},
                            "contacts": [{"wa_id": sender, "profile": {"name": f"Customer {i}"}}],
                            "messages": [
                                {
                                    "from": sender,
                                    "id": f"wamid.bench.{run}.{i}",
                                    "timestamp": "1717490000",
                                    "type": "text",
                                    "text": {"body": f"Order {i}: where is it? (run {run})"},
                                }
                            ],
                        },
                    }
                ],
            }
        ],
    }
    return json.dumps(body).encode()


def run_digits(run: str) -> str:
    return str(int(run, 16) % 100000).zfill(5)


def _summary(label: str, seconds: list[float], queries: list[int], unit: str) -> str:
    ms = sorted(s * 1000 for s in seconds)
    p95 = ms[max(0, int(len(ms) * 0.95) - 1)]
    rate = len(seconds) / sum(seconds) if sum(seconds) else float("inf")
    return (
        f"{label}: {len(seconds)} {unit}, {rate:.0f} {unit}/s; "
        f"ms median {statistics.median(ms):.1f} / p95 {p95:.1f}; "
        f"queries median {statistics.median(queries):.0f} (max {max(queries)})"
    )


class Command(BaseCommand):
    help = "Benchmark the WhatsApp webhook and handler (signed deliveries on loopback)."

    def add_arguments(self, parser):
        parser.add_argument("--deliveries", type=int, default=1000)
        parser.add_argument("--contacts", type=int, default=200)
        parser.add_argument("--redeliver-every", type=int, default=10)

    def handle(self, *args, deliveries: int, contacts: int, redeliver_every: int, **options):
        if deliveries < 1 or contacts < 1:
            raise CommandError("--deliveries and --contacts must be at least 1")
        kind = next((k for k, p in POLICIES.items() if p.intake == KIND), None)
        if kind is None:
            raise CommandError("no channel kind takes WhatsApp input (KindPolicy.intake)")
        run = uuid.uuid4().hex[:8]
        secret = secrets.token_hex(16)
        channel = Channel.objects.create(kind=kind, name=f"WhatsApp bench {run}")
        WhatsAppSettings.objects.create(
            channel=channel,
            api_base_url="http://127.0.0.1:9/v21.0",  # nothing is sent; no media is fetched
            phone_number_id=PHONE_NUMBER_ID,
            access_token="bench",
            app_secret=secret,
            verify_token=secrets.token_hex(8),
        )
        url = reverse("whatsapp:webhook", args=[channel.pk])
        client = Client(HTTP_HOST="127.0.0.1")
        bodies = [_delivery(run, i, contacts) for i in range(deliveries)]
        post_times, post_queries, duplicates, refused = [], [], 0, 0
        with (
            mock.patch.object(jobs, "_send", _nothing),
            mock.patch.object(jobs, "_publish", _nothing),
        ):
            for i, body in enumerate(bodies):
                copies = 2 if redeliver_every and i % redeliver_every == 0 else 1
                for _ in range(copies):
                    t0 = time.perf_counter()
                    with counting_queries() as counter:
                        response = client.post(
                            url,
                            body,
                            content_type="application/json",
                            secure=True,
                            HTTP_X_HUB_SIGNATURE_256=sign(body, secret),
                        )
                    post_times.append(time.perf_counter() - t0)
                    post_queries.append(counter["n"])
                    if response.status_code != 200:
                        refused += 1
                    else:
                        duplicates += response.json()["duplicates"]
            event_ids = list(
                InboundEvent.objects.filter(channel=channel, kind=KIND)
                .order_by("pk")
                .values_list("pk", flat=True)
            )
            handle_times, handle_queries, statuses = [], [], {}
            for event_id in event_ids:
                t0 = time.perf_counter()
                with counting_queries() as counter:
                    event = process_inbound(event_id, handle_event)
                handle_times.append(time.perf_counter() - t0)
                handle_queries.append(counter["n"])
                statuses[event.status] = statuses.get(event.status, 0) + 1
        wamids = {f"wamid.bench.{run}.{i}" for i in range(deliveries)}
        stored = set(
            Message.objects.filter(channel=channel, external_id__in=wamids).values_list(
                "external_id", flat=True
            )
        )
        messages = Message.objects.filter(channel=channel).count()
        tickets = Ticket.objects.filter(channel=channel).count()
        lost = len(wamids - stored)
        doubled = messages - len(stored)
        self.stdout.write(
            f"bench_whatsapp on {connection.vendor}: {deliveries} deliveries "
            f"(+{len(post_times) - deliveries} redelivered), {contacts} contacts, run {run}"
        )
        self.stdout.write(
            _summary("  webhook (signed POST → stored)", post_times, post_queries, "posts")
        )
        self.stdout.write(
            _summary("  handler (event → ticket)", handle_times, handle_queries, "messages")
        )
        settled = ", ".join(f"{count} {status}" for status, count in statuses.items())
        expected_tickets = min(contacts, deliveries)
        self.stdout.write(
            f"  refused {refused}; redeliveries recognised {duplicates}; events {len(event_ids)} "
            f"({settled}); tickets {tickets} (one per contact: {expected_tickets})"
        )
        self.stdout.write(f"  lost {lost}, doubled {doubled}")
        if lost or doubled or refused or tickets != expected_tickets:
            raise CommandError("the outcome is wrong: see the figures above")
