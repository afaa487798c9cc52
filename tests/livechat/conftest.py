"""Live chat test helpers: a chatflow with its widget settings, a custom chat with its API
token and webhook, a widget client that speaks the widget's JSON, and a local HTTP server
that records what our webhook sends (the stand-in for a custom chat's backend)."""

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.test import Client
from django.urls import reverse

from channels_cfg.models import AssignMode
from helpdesk.models import Channel
from livechat import setup, throttle
from tests.factories import ChannelAutomationFactory, ChannelFactory

ORIGIN = "https://shop.example.com"


@pytest.fixture(autouse=True)
def fresh_rate_counts(settings):
    """Every test counts its rate limits from zero, in this process's memory (a test of the
    Redis counts sets LIVECHAT_RATE_REDIS_URL itself)."""
    settings.LIVECHAT_RATE_REDIS_URL = ""
    throttle.counter_store().clear()
    yield
    throttle._store_for.cache_clear()


def chatflow(*, users=(), on: bool = True, **settings):
    """A chatflow channel whose toggle assigns to `users` (R18), with widget settings."""
    automation = ChannelAutomationFactory(
        channel=ChannelFactory(kind=Channel.Kind.CHATFLOW, name="Website chat"),
        assign_mode=AssignMode.SPECIFIC,
        users=list(users),
        chat_assignment_enabled=on,
    )
    chat = setup.ensure_chat_settings(automation.channel)
    chat.allowed_origins = [ORIGIN]
    for name, value in settings.items():
        setattr(chat, name, value)
    chat.save()
    return chat


def custom_chat(*, webhook_url: str = "", users=()):
    """A custom chat channel with an API token (`chat.raw_token`) and a webhook secret."""
    automation = ChannelAutomationFactory(
        channel=ChannelFactory(kind=Channel.Kind.CUSTOM_CHAT, name="In-app chat"),
        assign_mode=AssignMode.SPECIFIC,
        users=list(users),
        chat_assignment_enabled=bool(users),
    )
    chat = setup.ensure_chat_settings(automation.channel)
    chat.raw_token = setup.new_api_token(chat)
    setup.new_webhook_secret(chat)
    chat.webhook_url = webhook_url
    chat.save()
    return chat


class Widget:
    """What widget.js does, through the test client: start, post, fetch."""

    def __init__(self, chat, *, origin: str | None = ORIGIN, client: Client | None = None):
        self.chat, self.origin = chat, origin
        self.client = client or Client()
        self.token = ""

    def _headers(self, token: str | None = None) -> dict:
        headers = {}
        token = self.token if token is None else token
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if self.origin:
            headers["Origin"] = self.origin
        return headers

    def url(self, name: str) -> str:
        return reverse(f"livechat:widget-{name}", args=[self.chat.public_id])

    def start(self):
        response = self.client.post(
            self.url("start"), "{}", content_type="application/json", headers=self._headers()
        )
        if response.status_code == 200:
            self.token = response.json()["token"]
        return response

    def post(
        self, text="Hello", message_id="m-1", *, raw: bytes | None = None, token=None, **extra
    ):
        body = raw if raw is not None else json.dumps({"id": message_id, "text": text, **extra})
        return self.client.post(
            self.url("messages"),
            body,
            content_type="application/json",
            headers=self._headers(token),
        )

    def fetch(self, after: int = 0, *, wait: bool = False, token=None):
        query = {"after": after, **({"wait": "1"} if wait else {})}
        return self.client.get(self.url("messages"), query, headers=self._headers(token))


@pytest.fixture
def widget_for():
    return Widget


@dataclass
class Recorded:
    body: bytes
    headers: dict


@dataclass
class RecordingServer:
    """A local HTTP server answering each POST with the next of `answers` (status, body),
    then 200; every request is kept in `received`."""

    url: str
    received: list[Recorded] = field(default_factory=list)
    answers: list[tuple[int, str]] = field(default_factory=list)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Recorded]:
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.received) >= count, timeout=timeout)
        return list(self.received)


@pytest.fixture
def webhook_server():
    server_state: dict = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            recording = server_state["recording"]
            with recording.arrived:  # recorded before the answer leaves
                status, answer = recording.answers.pop(0) if recording.answers else (200, "{}")
                recording.received.append(Recorded(body=body, headers=dict(self.headers)))
                recording.arrived.notify_all()
            payload = answer.encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    recording = RecordingServer(url=f"http://127.0.0.1:{httpd.server_port}/hooks/chat")
    server_state["recording"] = recording
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield recording
    finally:
        httpd.shutdown()
        httpd.server_close()
