"""Fuzzing POST /api/v1/tickets/ (issue 9.5): whatever arrives, the answer is a 201 with the
ticket stored as sent, or a 4xx with a JSON error and not one row written — never a 5xx.

Each example runs in a savepoint that is rolled back, so examples do not see each other's
rows and a database error cannot poison the test's transaction.
"""

import json
import string

import pytest
from django.db import transaction
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from helpdesk.models import Contact, Message, Ticket
from tests.factories import ApiTokenFactory, ChannelFactory

pytestmark = pytest.mark.django_db

TICKETS_URL = "/api/v1/tickets/"
FIELDS = ["subject", "body", "contact_email", "contact_name", "channel_id", "priority"]

fuzz = settings(
    max_examples=200,
    deadline=None,
    # The client and token are made once per test, not per example: each example rolls back.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def auth(agent):
    return {"Authorization": f"Bearer {ApiTokenFactory(user=agent).raw_key}"}


@pytest.fixture
def channels(db):
    """Channel 1 is active, channel 2 inactive; the payloads try ids -1 to 3."""
    return ChannelFactory(pk=1), ChannelFactory(pk=2, is_active=False)


# --- Strategies ---------------------------------------------------------------------------

# Every code point, lone surrogates included (Hypothesis leaves them out by default).
any_char = st.characters(exclude_categories=())
tricky_char = st.sampled_from(["\x00", "\ud800", "\udfff", "İ", "K", "\u200b", " ", "\U0001f600"])
text = st.text(any_char | tricky_char, max_size=40)
# Strings around the limits: 200 (name), 254 (address), 255 (subject), 100,000 (body).
lengths = st.sampled_from([199, 200, 201, 254, 255, 256, 100_000, 100_001]) | st.integers(0, 2000)
long_text = st.builds(lambda char, n: char * n, tricky_char | st.just("x"), lengths)


def address(local: str, domain_length: int, filler: str) -> str:
    """local@<labels of at most 63 `filler`s, `domain_length` in all>.example"""
    labels = [filler * 63] * (domain_length // 64) + [filler * max(1, domain_length % 64)]
    return f"{local}@{'.'.join(labels)}.example"


emails = st.builds(
    address,
    st.text(st.sampled_from("patK.+_-İ"), min_size=1, max_size=70),
    st.integers(1, 300),
    st.sampled_from(["d", "İ", "é", "\ud800", "-"]),
) | st.emails().map(lambda email: email[:320])

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(-3, 6)
    | st.floats()
    | text
    | st.sampled_from(["1", "2", "abc", ""])
)
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4)
)
field_value = text | long_text | emails | scalars | json_values

# Mostly a real ticket, so that many examples reach the database; any field may be odd.
payloads = st.fixed_dictionaries(
    {"subject": text | long_text, "body": text | long_text, "contact_email": emails},
    optional={
        "contact_name": text | long_text,
        "channel_id": st.integers(-1, 3) | st.integers(),
        "priority": st.integers(0, 5),
    },
) | st.dictionaries(st.sampled_from(FIELDS) | text, field_value, max_size=8)


def nested(depth: int, opener: str, closer: str) -> bytes:
    return (opener * depth + "1" + closer * depth).encode()


deep_json = st.builds(
    nested,
    st.integers(1, 200_000),
    st.sampled_from(["[", '{"subject": ', '{"a": [']),
    st.sampled_from(["]", "}", "]}"]),
)
raw_bodies = (
    st.binary(max_size=300)
    | deep_json
    | json_values.map(lambda value: json.dumps(value).encode())
    | text.map(lambda t: t.encode("utf-8", "surrogatepass"))
)
content_types = st.sampled_from(
    [
        "application/json",
        "application/json; charset=utf-8",
        "application/json; charset=UTF-16",
        "application/json;charset=latin-1",
        "application/json; boundary=x",
        "APPLICATION/JSON",
        "text/json",
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "",
    ]
) | st.text(string.ascii_letters + string.digits + "/;=+-. ", max_size=50)


# --- The property -------------------------------------------------------------------------


def counts() -> tuple[int, int, int]:
    return Ticket.objects.count(), Message.objects.count(), Contact.objects.count()


def post(client, auth, body: bytes, content_type: str):
    # `generic` sends the bytes as they are (`post` re-encodes them to a charset parameter);
    # CONTENT_TYPE again, as the test client leaves the header out when the body is empty.
    return client.generic(
        "POST", TICKETS_URL, body, content_type, headers=auth, CONTENT_TYPE=content_type
    )


def check(client, auth, body: bytes, content_type: str = "application/json"):
    """Post `body`, check the answer and what it wrote, then roll the writes back."""
    with transaction.atomic():
        before = counts()
        response = post(client, auth, body, content_type)
        status = response.status_code
        event(f"status {status}")  # pytest --hypothesis-show-statistics shows the mix
        assert status == 201 or 400 <= status < 500, (status, response.content[:500])
        if status == 201:
            assert_stored_as_sent(response.json()["id"], json.loads(body))
            assert counts()[:2] == (before[0] + 1, before[1] + 1)
        else:
            assert response["Content-Type"] == "application/json"
            assert response.json()["error"]
            assert counts() == before, "a refused request wrote rows"
        transaction.set_rollback(True)
    return response


def assert_stored_as_sent(ticket_id: int, sent: dict) -> None:
    """Trimmed text, a lower-cased address, and otherwise exactly what was sent."""
    ticket = Ticket.objects.select_related("contact").get(pk=ticket_id)
    assert ticket.subject == sent["subject"].strip()
    assert ticket.messages.get().body == sent["body"].strip()
    assert ticket.contact.email == sent["contact_email"].strip().lower()
    assert ticket.contact.name == (sent.get("contact_name") or "").strip()
    assert ticket.channel_id == sent.get("channel_id")
    assert ticket.priority == (sent.get("priority") or Ticket.Priority.NORMAL)


@fuzz
@given(payload=payloads)
def test_fuzz_any_payload_is_refused_or_stored_as_sent(client, auth, channels, payload):
    check(client, auth, json.dumps(payload).encode())


@fuzz
@given(value=json_values)
def test_fuzz_any_json_value_is_refused_or_stored(client, auth, value):
    check(client, auth, json.dumps(value).encode())


@fuzz
@given(body=raw_bodies)
def test_fuzz_any_bytes_are_refused_or_stored(client, auth, body):
    check(client, auth, body)


@fuzz
@given(content_type=content_types, body=raw_bodies | payloads.map(lambda p: json.dumps(p).encode()))
def test_fuzz_any_content_type_but_json_is_415(client, auth, content_type, body):
    response = check(client, auth, body, content_type)
    media_type = content_type.partition(";")[0].strip().lower()
    if media_type != "application/json":
        assert response.status_code == 415


@pytest.mark.postgres
@fuzz
@given(subject=text | long_text, body=text | long_text, name=text | long_text, email=emails)
def test_fuzz_postgres_stores_any_text_it_accepts_exactly(client, auth, subject, body, name, email):
    """Only PostgreSQL enforces the column lengths and refuses NUL (SQLite stores both), so
    only there does a 201 prove that what the API lets through fits the columns."""
    payload = {"subject": subject, "body": body, "contact_email": email, "contact_name": name}
    check(client, auth, json.dumps(payload).encode())
