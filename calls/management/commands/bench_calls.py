"""Benchmark the incoming-call webhook: `manage.py bench_calls --calls 500`.

Builds its own data in the configured database (a calling channel "Bench calls" with call
settings, M seated agents with phone numbers, routing to them load balanced, no opening
hours: always open), serves the project over HTTP on loopback (Django's threaded WSGI
server, in this process), and posts N incoming calls with valid X-Twilio-Signatures, one
after the other (or from C threads). Prints the median / p95 / max milliseconds from
request to TwiML, calls per second, SQL queries per call, and the same for N/5 redelivered
calls. Every answer must be a 200 <Dial> (redeliveries: the same bytes) or the run fails.

What a call costs here is what Twilio waits for: the raw event stored, the contact, the
ticket, the routing decision (under its locks), the Call row and the TwiML. With a broker
configured the after-commit work (the routing task that finds the ticket routed, the
announcements) is only published; without one it runs eagerly inside the request, which
the figures then include.
"""

import http.client
import secrets
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.core.servers.basehttp import (
    ThreadedWSGIServer,
    WSGIRequestHandler,
    get_internal_wsgi_application,
)
from django.db import connection, connections
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from calls.intake import sign
from calls.models import CallSettings
from channels_cfg.models import AssignMode, ChannelAutomation
from helpdesk.benchmarks import percentile
from helpdesk.channel_kinds import POLICIES
from helpdesk.models import Channel, Seat, User
from helpdesk.services.groups import AGENTS

TOKEN = "bench-calls-token"


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):
        pass


class Command(BaseCommand):
    help = "Post signed incoming calls over loopback; print median/p95 ms and calls/s."

    def add_arguments(self, parser):
        parser.add_argument("--calls", type=int, default=500)
        parser.add_argument("--agents", type=int, default=20)
        parser.add_argument("--concurrency", type=int, default=1)

    def handle(self, *, calls, agents, concurrency, **options):
        if calls < 1 or agents < 1 or concurrency < 1:
            raise CommandError("--calls, --agents and --concurrency must be at least 1")
        server = ThreadedWSGIServer(("127.0.0.1", 0), QuietHandler, allow_reuse_address=True)
        server.set_app(get_internal_wsgi_application())
        port = server.server_address[1]
        call_settings = self.build(agents, f"http://127.0.0.1:{port}")
        path = reverse("calls-incoming", args=[call_settings.channel_id])
        url = call_settings.public_url(path)
        broker = "eager (no broker)" if settings.CELERY_TASK_ALWAYS_EAGER else "broker"
        self.stdout.write(
            f"{connection.vendor}, {broker}: {calls} calls, {agents} agents, "
            f"{concurrency} client thread(s), {url}"
        )
        self.stdout.write(f"SQL queries per call: {self.queries_per_call(path, url)}")
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            sids = ["CA" + secrets.token_hex(16) for _ in range(calls)]
            first = self.run("new calls", port, path, url, sids, concurrency)
            again = sids[: max(1, calls // 5)]
            second = self.run("redelivered", port, path, url, again, concurrency)
            changed = [sid for sid in again if second[sid] != first[sid]]
            if changed:
                raise CommandError(f"{len(changed)} redelivered calls got another answer")
        finally:
            server.shutdown()
            server.server_close()
            connections.close_all()

    def build(self, n_agents: int, base_url: str) -> CallSettings:
        kind = next(k for k, policy in POLICIES.items() if policy.intake == "call")
        channel, _ = Channel.objects.get_or_create(
            name="Bench calls", kind=kind, defaults={"address": ""}
        )
        group = Group.objects.get(name=AGENTS)
        users = []
        for i in range(n_agents):
            user, created = User.objects.get_or_create(
                username=f"bench-caller-{i}",
                defaults={"first_name": "Agent", "last_name": str(i), "password": "!"},
            )
            if created or not user.phone:
                user.phone = f"+4790{i:06d}"
                user.save(update_fields=["phone"])
                user.groups.add(group)
                Seat.objects.get_or_create(user=user)
            users.append(user)
        automation, _ = ChannelAutomation.objects.get_or_create(channel=channel)
        automation.assign_mode = AssignMode.SPECIFIC
        automation.available_only = False
        automation.save()
        automation.users.set(users)
        automation.opening_hours.all().delete()  # always open
        call_settings, _ = CallSettings.objects.update_or_create(
            channel=channel, defaults={"auth_token": TOKEN, "public_base_url": base_url}
        )
        return call_settings

    def queries_per_call(self, path: str, url: str) -> int:
        fields = self.fields("CA" + secrets.token_hex(16))
        with CaptureQueriesContext(connection) as captured:
            response = Client(HTTP_HOST="127.0.0.1").post(
                path,
                urlencode(fields),
                content_type="application/x-www-form-urlencoded",
                headers={"X-Twilio-Signature": sign(auth_token=TOKEN, url=url, params=fields)},
            )
        if response.status_code != 200:
            raise CommandError(
                f"the webhook answered {response.status_code}: {response.content[:300]!r}"
            )
        return len(captured)

    @staticmethod
    def fields(sid: str) -> dict[str, str]:
        return {
            "CallSid": sid,
            "AccountSid": "AC" + "0" * 32,
            "From": f"+4799{secrets.randbelow(10**6):06d}",
            "To": "+4722000000",
            "CallStatus": "ringing",
            "Direction": "inbound",
            "ApiVersion": "2010-04-01",
        }

    def run(self, label, port, path, url, sids, concurrency) -> dict[str, bytes]:
        forms = {sid: self.fields(sid) for sid in sids}

        def post(sid: str) -> tuple[str, float, bytes]:
            body = urlencode(forms[sid])
            signature = sign(auth_token=TOKEN, url=url, params=forms[sid])
            started = time.perf_counter()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            try:
                conn.request(
                    "POST",
                    path,
                    body=body,
                    headers={
                        "Content-Type": "application/x-www-form-urlencoded",
                        "X-Twilio-Signature": signature,
                    },
                )
                response = conn.getresponse()
                answer = response.read()
            finally:
                conn.close()
            elapsed = (time.perf_counter() - started) * 1000
            if response.status != 200 or b"<Dial" not in answer:
                raise CommandError(f"call {sid}: {response.status} {answer[:300]!r}")
            return sid, elapsed, answer

        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            results = list(pool.map(post, sids))
        wall = time.perf_counter() - started
        times = [ms for _, ms, _ in results]
        self.stdout.write(
            f"{label}: {len(sids)} calls in {wall:.2f} s — {len(sids) / wall:.1f} calls/s, "
            f"median {statistics.median(times):.1f} ms, p95 {percentile(times, 0.95):.1f} ms, "
            f"max {max(times):.1f} ms"
        )
        return {sid: answer for sid, _, answer in results}
