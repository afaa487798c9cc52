"""`manage.py bench_chat --messages N [--visitors V] [--clients C] [--workers W]`
(PostgreSQL): chat messages through the widget's real HTTP endpoint on loopback, then
through the handler, then the real-time wake.

1. Intake: V visitors take a token (`start`), then C client threads POST the N messages
   (each visitor's in order; every 10th is POSTed a second time with the same id, as a
   widget retries after a network failure) to a threaded WSGI server in this process.
   Prints requests/s and ms per POST (median, p95).
2. Processing: W threads process the stored events as W Celery workers would
   (`process_inbound` with the chat handler; routing and announcements are recorded, not
   run). Prints messages/s and the queries per message.
3. Checked: every message id POSTed is exactly one message of its conversation's ticket,
   one ticket per visitor — "0 lost, 0 doubled" — or the command fails.
4. Real time: for a sample of visitors, a long poll waits over HTTP while a message of its
   conversation is stored and processed; prints the time from the start of processing
   (handler and commit, whose NOTIFY wakes the poll) to the poll's answer (median, p95).

It builds its own chatflow channel ("Bench chat …") and leaves its data behind: run it on
a database of its own. DEBUG is off while it runs (no query log kept in memory), and so
are the widget's rate limits (every visitor is one address here).
"""

import logging
import statistics
import threading
import time
import uuid
import warnings
from contextlib import contextmanager
from unittest import mock
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import httpx
from django.core.handlers.wsgi import WSGIHandler
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, connections
from django.test.utils import override_settings

from helpdesk import jobs
from helpdesk.benchmarks import percentile
from helpdesk.models import Channel, InboundEvent, Message, Ticket
from helpdesk.services.intake import process_inbound
from livechat import realtime
from livechat import tokens as visitor_tokens
from livechat.intake import handle_chat
from livechat.models import Conversation, widget_kinds
from livechat.setup import ensure_chat_settings

WAKE_SAMPLES = 30


class _Server(WSGIServer):
    daemon_threads = True

    def process_request(self, request, client_address):  # one thread per connection
        thread = threading.Thread(target=self._serve, args=(request, client_address), daemon=True)
        thread.start()

    def _serve(self, request, client_address):
        try:
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)
            connections.close_all()


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass


def _nothing(*args, **kwargs):
    return True


@contextmanager
def counting_queries():
    counter = {"n": 0}

    def wrapper(execute, sql, params, many, context):
        counter["n"] += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        yield counter


class Command(BaseCommand):
    help = "Measure chat messages per second through the widget endpoint (PostgreSQL)."

    def add_arguments(self, parser):
        parser.add_argument("--messages", type=int, default=1000)
        parser.add_argument("--visitors", type=int, default=50)
        parser.add_argument("--clients", type=int, default=4)
        parser.add_argument("--workers", type=int, default=2)

    def handle(self, *args, messages, visitors, clients, workers, **options):
        if connection.vendor != "postgresql":
            raise CommandError("bench_chat needs PostgreSQL: set DATABASE_URL=postgres://…")
        if not (1 <= messages <= 100_000 and 1 <= visitors <= messages):
            raise CommandError("Use 1–100,000 messages and at most one visitor per message.")
        logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per request
        warnings.filterwarnings("ignore", "No directory at")  # WhiteNoise, without collectstatic
        run = uuid.uuid4().hex[:8]
        channel = Channel.objects.create(
            kind=widget_kinds()[0], name=f"Bench chat {run}", address=f"bench/{run}"
        )
        chat = ensure_chat_settings(channel)
        patches = (
            mock.patch.object(jobs, "_send", _nothing),
            mock.patch.object(jobs, "_publish", _nothing),
        )
        # Every visitor of the bench is this one address, and it posts 1,000s of messages
        # in seconds: the rate limits (livechat.throttle) are off while it runs.
        no_limits = override_settings(
            DEBUG=False,
            LIVECHAT_RATE_STARTS_PER_IP=0,
            LIVECHAT_RATE_MESSAGES_PER_CONVERSATION=0,
            LIVECHAT_RATE_MESSAGES_PER_IP=0,
        )
        with no_limits, patches[0], patches[1]:
            server = make_server(
                "127.0.0.1", 0, WSGIHandler(), server_class=_Server, handler_class=_QuietHandler
            )
            threading.Thread(target=server.serve_forever, daemon=True).start()
            base = f"http://127.0.0.1:{server.server_port}/chat/w/{chat.public_id}/"
            try:
                tokens = self._tokens(base, visitors)
                self._intake(base, tokens, messages, clients)
                self._process(channel, workers)
                self._check(channel, run, tokens, messages)
                self._wake(base, channel, tokens)
            finally:
                server.shutdown()
                server.server_close()

    # --- 1. intake ------------------------------------------------------------------------

    def _tokens(self, base: str, visitors: int) -> list[str]:
        with httpx.Client(timeout=30) as client:
            return [client.post(base + "start", json={}).json()["token"] for _ in range(visitors)]

    def _intake(self, base, tokens, messages, clients) -> None:
        # message i belongs to visitor i % V; each client thread takes whole visitors, so a
        # visitor's messages are POSTed in order, as one widget would.
        plan: list[list[tuple[str, str, int]]] = [[] for _ in range(clients)]
        for i in range(messages):
            visitor = i % len(tokens)
            plan[visitor % clients].append((tokens[visitor], f"m{i}", i))
        times: list[float] = []
        errors: list[str] = []
        lock = threading.Lock()

        def client_thread(items):
            mine = []
            with httpx.Client(timeout=30) as client:
                for token, message_id, i in items:
                    tries = 2 if i % 10 == 0 else 1  # a widget's retry: same id again
                    for _ in range(tries):
                        t0 = time.perf_counter()
                        response = client.post(
                            base + "messages",
                            json={"id": message_id, "text": f"Bench message {i}"},
                            headers={"Authorization": f"Bearer {token}"},
                        )
                        mine.append(time.perf_counter() - t0)
                        if response.status_code != 202:
                            with lock:
                                errors.append(f"{response.status_code} {response.text[:200]}")
            with lock:
                times.extend(mine)

        started = time.perf_counter()
        threads = [threading.Thread(target=client_thread, args=(p,)) for p in plan if p]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        if errors:
            raise CommandError(f"{len(errors)} POSTs refused, e.g. {errors[0]}")
        self.stdout.write(
            f"intake: {len(times)} POSTs ({messages} messages, {len(times) - messages} retried) "
            f"from {len(threads)} clients in {elapsed:.1f} s: {len(times) / elapsed:.0f} "
            f"requests/s; ms per POST median {statistics.median(times) * 1000:.1f}, "
            f"p95 {percentile(times, 0.95) * 1000:.1f}"
        )

    # --- 2. processing --------------------------------------------------------------------

    def _process(self, channel, workers: int) -> None:
        ids = list(
            InboundEvent.objects.filter(channel=channel, status=InboundEvent.Status.RECEIVED)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        queries: list[int] = []
        failures: list[str] = []
        lock = threading.Lock()

        def worker(share):
            mine = []
            try:
                for event_id in share:
                    with counting_queries() as counter:
                        event = process_inbound(event_id, handle_chat)
                    mine.append(counter["n"])
                    if event is not None and event.status != InboundEvent.Status.PROCESSED:
                        with lock:
                            failures.append(f"{event_id}: {event.status} {event.error}")
            finally:
                connections.close_all()
            with lock:
                queries.extend(mine)

        started = time.perf_counter()
        threads = [threading.Thread(target=worker, args=(ids[n::workers],)) for n in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        if failures:
            raise CommandError(f"{len(failures)} events not processed, e.g. {failures[0]}")
        counted = sorted(set(queries))
        self.stdout.write(
            f"processing: {len(ids)} messages by {workers} workers in {elapsed:.1f} s: "
            f"{len(ids) / elapsed:.0f} messages/s; queries per message {counted}"
        )

    # --- 3. nothing lost, nothing doubled -------------------------------------------------

    def _check(self, channel, run, tokens, messages) -> None:
        stored = list(
            Message.objects.filter(
                channel=channel, direction=Message.Direction.INBOUND
            ).values_list("external_id", flat=True)
        )
        ids = [external_id.rpartition(":")[2] for external_id in stored]
        expected = {f"m{i}" for i in range(messages)}
        lost = len(expected - set(ids))
        doubled = len(ids) - len(set(ids))
        tickets = Ticket.objects.filter(channel=channel).count()
        conversations = Conversation.objects.filter(channel=channel, ticket__isnull=False).count()
        self.stdout.write(
            f"checked: {len(set(ids))}/{messages} messages stored, {lost} lost, {doubled} doubled; "
            f"{tickets} tickets for {len(tokens)} visitors ({conversations} conversations)"
        )
        if lost or doubled or tickets != len(tokens) or conversations != len(tokens):
            raise CommandError("messages were lost or doubled")

    # --- 4. real time ---------------------------------------------------------------------

    def _wake(self, base, channel, tokens) -> None:
        delays = [
            self._one_wake(base, channel, token, n) for n, token in enumerate(tokens[:WAKE_SAMPLES])
        ]
        self.stdout.write(
            f"real time: {len(delays)} long polls woken; message processed and committed → "
            f"poll answered, ms median {statistics.median(delays) * 1000:.1f}, "
            f"p95 {percentile(delays, 0.95) * 1000:.1f}"
        )

    def _one_wake(self, base, channel, token, n) -> float:
        """A long poll waits over HTTP; a message of its conversation is posted and
        processed here; the seconds from the start of processing to the poll's answer."""
        key = visitor_tokens.read(token, channel_id=channel.pk).key
        wake = realtime.wake_name(channel.pk, key)
        listening = threading.Event()
        answered: dict = {}

        def on_waiting(sender, name: str, **kwargs):
            if name == wake:
                listening.set()

        with httpx.Client(timeout=60) as client:
            cursor = client.get(base + "messages", headers=_auth(token)).json()["cursor"]

            def poll():
                response = client.get(
                    base + "messages", params={"after": cursor, "wait": "1"}, headers=_auth(token)
                )
                answered["at"] = time.perf_counter()
                answered["messages"] = response.json()["messages"]

            realtime.waiting.connect(on_waiting, weak=False, dispatch_uid="bench_chat")
            try:
                thread = threading.Thread(target=poll)
                thread.start()
                if not listening.wait(10):
                    raise CommandError("the long poll did not start waiting")
                with httpx.Client(timeout=30) as sender:
                    sender.post(
                        base + "messages",
                        json={"id": f"wake{n}", "text": "Are you there?"},
                        headers=_auth(token),
                    )
                event = InboundEvent.objects.get(channel=channel, source_id=f"{key}:wake{n}")
                processing = time.perf_counter()
                process_inbound(event.pk, handle_chat)
                thread.join(30)
            finally:
                realtime.waiting.disconnect(dispatch_uid="bench_chat")
        if not answered.get("messages"):
            raise CommandError("a long poll was not woken by its message")
        return answered["at"] - processing


def _auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}
