"""A local stand-in for Meta's Graph API (http.server in a thread on 127.0.0.1) that records
every request, answers what a test scripts, and serves media; a WhatsApp channel whose
settings point at it; and helpers that build and sign webhook deliveries as Meta does."""

import json
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.test import Client
from django.urls import reverse

from helpdesk.models import Channel
from tests.factories import ChannelFactory
from whatsapp.models import WhatsAppSettings
from whatsapp.payload import sign

PHONE_NUMBER_ID = "109876543210"
APP_SECRET = "app-secret-for-tests"
ACCESS_TOKEN = "EAAG-test-token"
VERIFY_TOKEN = "verify-me-please"
TEMPLATES = [
    {"name": "follow_up", "language": "en_US", "text": "Hello, we have news. Reply to go on."},
    {"name": "hello_world", "language": "en_US"},
]


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict
    body: bytes

    @property
    def json(self):
        return json.loads(self.body)


@dataclass
class GraphServer:
    host: str = "127.0.0.1"
    port: int = 0
    requests: list[Recorded] = field(default_factory=list)
    # Scripted answers to POST …/messages, in order: (status, json body); then 200 + a wamid.
    answers: deque = field(default_factory=deque)
    # media id → (bytes, mime type, download URL or None for our own /files/<id>)
    media: dict = field(default_factory=dict)
    sent: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/v21.0"

    def messages_posted(self) -> list[Recorded]:
        return [r for r in self.requests if r.method == "POST" and r.path.endswith("/messages")]

    def add_media(self, media_id: str, content: bytes, mime: str, url: str | None = None):
        self.media[media_id] = (content, mime, url)


def _handler(server: GraphServer):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet
            pass

        def _record(self) -> Recorded:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            recorded = Recorded(self.command, self.path, dict(self.headers.items()), body)
            with server.lock:
                server.requests.append(recorded)
            return recorded

        def _answer(self, status: int, payload, content_type="application/json"):
            data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self):
            self._record()
            if not self.path.endswith("/messages"):
                return self._answer(404, {"error": {"message": "Unknown path", "code": 100}})
            with server.lock:
                scripted = server.answers.popleft() if server.answers else None
                server.sent += 1
                number = server.sent
            if scripted is not None:
                return self._answer(*scripted)
            return self._answer(
                200,
                {
                    "messaging_product": "whatsapp",
                    "contacts": [{"input": "x", "wa_id": "x"}],
                    "messages": [{"id": f"wamid.OUT{number}"}],
                },
            )

        def do_GET(self):
            self._record()
            parts = self.path.strip("/").split("/")
            if len(parts) == 3 and parts[1] == "files" and parts[2] in server.media:
                content, mime, _ = server.media[parts[2]]
                return self._answer(200, content, content_type=mime)
            if len(parts) == 2 and parts[1] in server.media:
                content, mime, url = server.media[parts[1]]
                return self._answer(
                    200,
                    {
                        "url": url or f"{server.url}/files/{parts[1]}",
                        "mime_type": mime,
                        "file_size": len(content),
                        "id": parts[1],
                        "messaging_product": "whatsapp",
                    },
                )
            return self._answer(
                400, {"error": {"message": "Unsupported get request.", "code": 100}}
            )

    return Handler


@pytest.fixture
def graph():
    server = GraphServer()
    httpd = ThreadingHTTPServer((server.host, 0), _handler(server))
    server.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def wa_channel(graph, db):
    channel = ChannelFactory(kind=Channel.Kind.WHATSAPP, name="WhatsApp", address="+47 900")
    WhatsAppSettings.objects.create(
        channel=channel,
        api_base_url=graph.url,
        phone_number_id=PHONE_NUMBER_ID,
        access_token=ACCESS_TOKEN,
        app_secret=APP_SECRET,
        verify_token=VERIFY_TOKEN,
        templates=TEMPLATES,
        media_hosts=[],
    )
    return channel


# --- deliveries as Meta sends them -------------------------------------------------------


def text_message(wamid: str, text: str, *, sender: str = "4790000001", ts: int = 1717490000):
    return {
        "from": sender,
        "id": wamid,
        "timestamp": str(ts),
        "type": "text",
        "text": {"body": text},
    }


def status_of(wamid: str, status: str, *, ts: int = 1717490100, errors=None):
    item = {
        "id": wamid,
        "status": status,
        "timestamp": str(ts),
        "recipient_id": "4790000001",
    }
    if errors:
        item["errors"] = errors
    return item


def delivery(*, messages=(), statuses=(), contacts=None, phone_number_id=PHONE_NUMBER_ID):
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "4790000000", "phone_number_id": phone_number_id},
    }
    if messages:
        senders = {m["from"] for m in messages}
        value["contacts"] = (
            contacts
            if contacts is not None
            else [{"profile": {"name": "Kim Kunde"}, "wa_id": s} for s in sorted(senders)]
        )
        value["messages"] = list(messages)
    if statuses:
        value["statuses"] = list(statuses)
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "WABA-1", "changes": [{"field": "messages", "value": value}]}],
    }


def webhook_url(channel) -> str:
    return reverse("whatsapp:webhook", args=[channel.pk])


def post_delivery(channel, body, *, secret: str = APP_SECRET, signature: str | None = None):
    """POST a delivery (a dict, or raw bytes) signed with `secret` (or the given header)."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {}
    header = signature if signature is not None else sign(raw, secret)
    if header:
        headers["HTTP_X_HUB_SIGNATURE_256"] = header
    return Client().post(webhook_url(channel), raw, content_type="application/json", **headers)
