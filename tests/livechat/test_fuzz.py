"""Fuzzing the chat's JSON endpoints: whatever arrives, the answer is a 202 with the message
stored (and a worker makes it part of a ticket without failing), or a 4xx with a JSON error
and nothing written — never a 5xx. Each example runs in a savepoint that is rolled back."""

import json
from urllib.parse import quote

import pytest
from django.db import transaction
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from helpdesk.models import InboundEvent, Message, Ticket
from helpdesk.services.intake import process_inbound
from livechat.intake import handle_chat
from tests.livechat.conftest import Widget, chatflow, custom_chat

pytestmark = pytest.mark.django_db

fuzz = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

any_char = st.characters(exclude_categories=())  # lone surrogates and NUL included
tricky = st.sampled_from(["\x00", "\ud800", "\x07", "\u200b", " ", "\n", "\t", "İ", "\U0001f600"])
text = st.text(any_char | tricky, max_size=40)
long_text = st.builds(
    lambda char, n: char * n,
    tricky | st.just("x"),
    st.sampled_from([3999, 4000, 4001, 10_000, 40_000]) | st.integers(0, 300),
)
ids = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}\Z") | text
scalars = st.none() | st.booleans() | st.integers() | st.floats() | text
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3)
)
widget_payloads = st.fixed_dictionaries(
    {"id": ids, "text": text | long_text},
    optional={"name": text | long_text | scalars, "email": st.emails() | text | scalars},
) | st.dictionaries(st.sampled_from(["id", "text", "name", "email"]) | text, json_values)
api_payloads = st.fixed_dictionaries(
    {"conversation_id": ids | long_text, "message_id": ids, "text": text | long_text},
    optional={"contact_name": text | scalars, "contact_email": st.emails() | text | scalars},
) | st.dictionaries(
    st.sampled_from(["conversation_id", "message_id", "text", "contact_email"]) | text,
    json_values,
)


def nested(depth: int) -> bytes:
    return ("[" * depth + "1" + "]" * depth).encode()


raw_bodies = (
    st.binary(max_size=300)
    | st.builds(nested, st.integers(1, 50_000))
    | json_values.map(lambda value: json.dumps(value).encode())
    | text.map(lambda t: t.encode("utf-8", "surrogatepass"))
)


# A chat's public id as the URL carries it: the generated shape (16 URL-safe characters),
# near misses, NUL, other characters and lengths far past the column's 32.
public_ids = (
    st.from_regex(r"\A[A-Za-z0-9_-]{0,40}\Z")
    | text
    | long_text
    | st.builds(lambda a, b: a + "\x00" + b, ids, ids)
)


# What a URL's query and an HTTP header can carry at all.
query_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
header_text = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=500)


@pytest.fixture(autouse=True)
def no_rate_limits(settings):
    # One conversation takes every example: the limits would answer 429 after the first few
    # dozen, and the fuzz is about what gets stored.
    settings.LIVECHAT_RATE_STARTS_PER_IP = 0
    settings.LIVECHAT_RATE_MESSAGES_PER_CONVERSATION = 0
    settings.LIVECHAT_RATE_MESSAGES_PER_IP = 0


def counts():
    return InboundEvent.objects.count(), Ticket.objects.count(), Message.objects.count()


def check(send):
    """Send, check the answer and what it wrote (and that processing it succeeds), roll back."""
    with transaction.atomic():
        before = counts()
        response = send()
        status = response.status_code
        event(f"status {status}")
        assert status == 202 or 400 <= status < 500, (status, response.content[:300])
        assert response.json().get("error") or status == 202
        if status == 202:
            stored = InboundEvent.objects.get(pk=response.json()["event"])
            if response.json()["duplicate"] is False:
                processed = process_inbound(stored.pk, handle_chat)
                assert processed.status == InboundEvent.Status.PROCESSED, processed.error
        else:
            assert counts() == before, "a refused request wrote rows"
        transaction.set_rollback(True)


@pytest.fixture
def widget(db):
    widget = Widget(chatflow())
    widget.start()
    return widget


@pytest.fixture
def api(db):
    return custom_chat()


def api_post(client, chat, body: bytes):
    from django.urls import reverse

    return client.generic(
        "POST",
        reverse("livechat:api-messages", args=[chat.channel_id]),
        body,
        "application/json",
        headers={"Authorization": f"Bearer {chat.raw_token}"},
    )


@fuzz
@given(payload=widget_payloads)
def test_fuzz_any_widget_message_is_refused_or_stored_and_processed(widget, payload):
    check(lambda: widget.post(raw=json.dumps(payload).encode()))


@fuzz
@given(body=raw_bodies)
def test_fuzz_any_bytes_to_the_widget_are_refused_or_stored(widget, body):
    check(lambda: widget.post(raw=body))


@fuzz
@given(payload=api_payloads)
def test_fuzz_any_api_message_is_refused_or_stored_and_processed(client, api, payload):
    check(lambda: api_post(client, api, json.dumps(payload).encode()))


@fuzz
@given(body=raw_bodies)
def test_fuzz_any_bytes_to_the_api_are_refused_or_stored(client, api, body):
    check(lambda: api_post(client, api, body))


@fuzz
@given(after=query_text | st.integers().map(str), token=header_text)
def test_fuzz_reading_with_any_cursor_or_token_is_200_or_4xx(widget, after, token):
    with transaction.atomic():
        response = widget.client.get(
            widget.url("messages"), {"after": after}, headers=widget._headers()
        )
        assert response.status_code in (200, 400), response.content[:300]
        forged = widget.client.get(
            widget.url("messages"),
            headers={"Authorization": f"Bearer {token}", "Origin": widget.origin},
        )
        assert forged.status_code == 401
        transaction.set_rollback(True)


@fuzz
@given(public_id=public_ids)
def test_fuzz_any_public_id_is_a_4xx_never_a_5xx(widget, public_id):
    quoted = quote(public_id.encode("utf-8", "surrogatepass"), safe="")
    with transaction.atomic():
        before = counts()
        for method, name in (("post", "start"), ("get", "messages"), ("post", "messages")):
            response = getattr(widget.client, method)(
                f"/chat/w/{quoted}/{name}", headers=widget._headers()
            )
            event(f"{name} {response.status_code}")
            assert 400 <= response.status_code < 500, (name, response.content[:300])
        assert counts() == before
        transaction.set_rollback(True)
