"""The JSON API v1: create and read tickets with a bearer token."""

import json

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from helpdesk import events
from helpdesk.models import AssignmentEvent, Contact, Message, Ticket
from helpdesk.services import assign
from tests.factories import (
    AgentFactory,
    ApiTokenFactory,
    ChannelFactory,
    ContactFactory,
    TeamFactory,
    TicketFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

TICKETS_URL = "/api/v1/tickets/"


def ticket_url(ticket_id: int) -> str:
    return f"/api/v1/tickets/{ticket_id}/"


@pytest.fixture
def token(agent):
    return ApiTokenFactory(user=agent)


@pytest.fixture
def auth(token):
    return {"Authorization": f"Bearer {token.raw_key}"}


def post_json(client, payload, headers, raw: bytes | str | None = None):
    body = raw if raw is not None else json.dumps(payload)
    # CONTENT_TYPE again: the test client leaves the header out when the body is empty.
    return client.post(
        TICKETS_URL,
        data=body,
        content_type="application/json",
        headers=headers,
        CONTENT_TYPE="application/json",
    )


VALID = {
    "subject": "Cannot log in",
    "body": "The login page says my password is wrong.",
    "contact_email": "Pat@Customer.example",
    "contact_name": "Pat",
}


# --- POST /api/v1/tickets/ ----------------------------------------------------------------


def test_create_ticket_returns_201_with_the_ticket(client, auth, agent):
    response = post_json(client, VALID, auth)

    assert response.status_code == 201, response.content
    data = response.json()
    ticket = Ticket.objects.get(pk=data["id"])
    assert data["subject"] == "Cannot log in"
    assert data["type"] == "email"
    assert data["status"] == "new"
    assert data["priority"] == "normal"
    assert data["owner"] is None
    assert data["team"] is None
    assert data["assigned_at"] is None
    assert data["channel"] is None
    assert data["routing_state"] == ticket.routing_state == "skipped"
    assert data["assignment_history"] == []
    assert data["contact"] == {
        "id": ticket.contact_id,
        "name": "Pat",
        "email": "pat@customer.example",
    }
    assert ticket.source == Ticket.Source.API
    assert ticket.messages.get().body == VALID["body"]


def test_r12_create_ticket_on_whatsapp_channel_is_messages_type(client, auth):
    channel = ChannelFactory(kind="whatsapp", name="WhatsApp support")
    response = post_json(client, {**VALID, "channel_id": channel.pk}, auth)
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["type"] == "messages"
    assert data["channel"] == {"id": channel.pk, "name": "WhatsApp support", "kind": "whatsapp"}
    assert data["routing_state"] == "pending"


def test_create_ticket_reuses_the_contact(client, auth):
    post_json(client, VALID, auth)
    post_json(client, {**VALID, "contact_email": "pat@customer.example"}, auth)
    assert Contact.objects.count() == 1
    assert Ticket.objects.count() == 2


def test_create_ticket_with_priority(client, auth):
    response = post_json(client, {**VALID, "priority": 4}, auth)
    assert response.status_code == 201, response.content
    assert response.json()["priority"] == "urgent"


def test_create_ticket_accepts_token_scheme(client, token):
    response = post_json(client, VALID, {"Authorization": f"Token {token.raw_key}"})
    assert response.status_code == 201


def test_create_ticket_sends_ticket_created_with_the_token_user(
    client, auth, agent, captured_events
):
    response = post_json(client, VALID, auth)
    [sent] = captured_events.of("ticket_created")
    assert sent["ticket"].pk == response.json()["id"]
    assert sent["actor"] == agent


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"subject": None}, "subject"),
        ({"subject": "   "}, "subject"),
        ({"body": None}, "body"),
        ({"contact_email": "not-an-address"}, "contact_email"),
        ({"contact_email": None}, "contact_email"),
        ({"channel_id": "abc"}, "channel_id"),
        ({"priority": 42}, "priority"),
    ],
)
def test_create_ticket_bad_field_is_400_with_errors_per_field(client, auth, change, field):
    payload = {k: v for k, v in {**VALID, **change}.items() if v is not None}
    response = post_json(client, payload, auth)
    assert response.status_code == 400
    data = response.json()
    assert set(data["errors"]) == {field}
    assert data["errors"][field]
    assert Ticket.objects.count() == 0


def test_create_ticket_missing_subject_names_the_field(client, auth):
    payload = {k: v for k, v in VALID.items() if k != "subject"}
    data = post_json(client, payload, auth).json()
    assert data["errors"] == {"subject": ["This field is required."]}


def test_create_ticket_unknown_channel_is_400(client, auth):
    response = post_json(client, {**VALID, "channel_id": 987654}, auth)
    assert response.status_code == 400
    assert "987654" in response.json()["errors"]["channel_id"][0]
    assert Ticket.objects.count() == 0


def test_create_ticket_inactive_channel_is_400(client, auth):
    channel = ChannelFactory(is_active=False, name="Closed inbox")
    response = post_json(client, {**VALID, "channel_id": channel.pk}, auth)
    assert response.status_code == 400
    assert "inactive" in response.json()["errors"]["channel_id"][0]
    assert Ticket.objects.count() == 0


@pytest.mark.parametrize(
    "raw",
    [b"{not json", b"", b"null", b'["subject", "body"]', b'"a string"', b"\xff\xfe"],
    ids=["broken", "empty", "null", "array", "string", "not-utf8"],
)
def test_create_ticket_body_that_is_not_a_json_object_is_400(client, auth, raw):
    response = post_json(client, None, auth, raw=raw)
    assert response.status_code == 400
    assert response.json()["error"]
    assert Ticket.objects.count() == 0


def test_create_ticket_body_over_one_mebibyte_is_413(client, auth):
    response = post_json(client, {**VALID, "body": "x" * (1024 * 1024 + 1)}, auth)
    assert response.status_code == 413
    assert Ticket.objects.count() == 0


# --- POST: hostile input (issue 9.5) ---------------------------------------------------
# Every input gets a 4xx with a JSON error or is stored as sent; a 4xx writes nothing.


def assert_rejected(response, status=400, field=None, words=""):
    """A `status` answer naming `field` (with `words` in its message), and nothing written."""
    assert response.status_code == status, response.content
    data = response.json()
    assert data["error"]
    if field is not None:
        assert field in data["errors"], data
        assert words.lower() in " ".join(data["errors"][field]).lower(), data
    assert (Ticket.objects.count(), Message.objects.count(), Contact.objects.count()) == (0, 0, 0)
    return data


@pytest.mark.parametrize(
    "raw",
    [b"[" * 100_000 + b"]" * 100_000, b'{"subject": ' * 50_000 + b"1" + b"}" * 50_000],
    ids=["arrays", "objects"],
)
def test_create_ticket_deeply_nested_json_is_400(client, auth, raw):
    data = assert_rejected(post_json(client, None, auth, raw=raw))
    assert "nested" in data["error"]


def test_create_ticket_integer_of_over_4300_digits_is_400(client, auth):
    raw = json.dumps({**VALID, "priority": 0})[:-2] + "9" * 5000 + "}"
    assert_rejected(post_json(client, None, auth, raw=raw))


def test_create_ticket_body_in_utf16_is_400(client, auth):
    assert_rejected(post_json(client, None, auth, raw=json.dumps(VALID).encode("utf-16")))


TEXT_FIELDS = ["subject", "body", "contact_email", "contact_name"]


def with_text(field: str, text: str) -> dict:
    """VALID with `text` inside `field` (for the address: inside its domain)."""
    if field == "contact_email":
        return {**VALID, field: f"pat@cust{text}omer.example"}
    return {**VALID, field: f"Hello {text} there"}


@pytest.mark.parametrize("field", TEXT_FIELDS)
def test_create_ticket_lone_surrogate_is_400_naming_the_field(client, auth, field):
    response = post_json(client, with_text(field, "\ud800"), auth)
    assert_rejected(response, field=field, words="surrogate")


@pytest.mark.parametrize("field", TEXT_FIELDS)
def test_create_ticket_nul_character_is_400_naming_the_field(client, auth, field):
    response = post_json(client, with_text(field, "\x00"), auth)
    assert_rejected(response, field=field)


def test_create_ticket_paired_surrogates_are_one_character_stored_as_sent(client, auth):
    raw = json.dumps({**VALID, "subject": "Smile \U0001f600"})  # ASCII: "\ud83d\ude00"
    assert "\\ud83d\\ude00" in raw
    response = post_json(client, None, auth, raw=raw)
    assert response.status_code == 201, response.content
    assert Ticket.objects.get().subject == "Smile \U0001f600"


def email_of_length(length: int) -> str:
    """A valid address of exactly `length` characters (labels of at most 63)."""
    local = "p" * 64
    domain_length = length - len(local) - 1 - len(".example")
    labels = [("d" * 63) for _ in range(domain_length // 64)]
    rest = domain_length - 64 * len(labels)
    if rest:
        labels.append("e" * rest)
    address = f"{local}@{'.'.join(labels)}.example"
    assert len(address) == length, (length, len(address))
    return address


@pytest.mark.parametrize("length", [255, 300, 320])
def test_create_ticket_address_longer_than_254_is_400(client, auth, length):
    response = post_json(client, {**VALID, "contact_email": email_of_length(length)}, auth)
    assert_rejected(response, field="contact_email", words="at most 254 characters")


def test_create_ticket_address_of_254_characters_is_stored(client, auth):
    address = email_of_length(254)
    response = post_json(client, {**VALID, "contact_email": address}, auth)
    assert response.status_code == 201, response.content
    assert Contact.objects.get().email == address


def test_create_ticket_address_that_lower_casing_lengthens_past_254_is_400(client, auth):
    """'İ'.lower() is two characters: the stored (lower-cased) address must fit."""
    address = email_of_length(254)
    address = address[:70] + "İ" + address[71:]
    assert len(address) == 254 and len(address.lower()) == 255
    response = post_json(client, {**VALID, "contact_email": address}, auth)
    assert_rejected(response, field="contact_email", words="lower-cased")


@pytest.mark.parametrize(("field", "limit"), [("subject", 255), ("contact_name", 200)])
def test_create_ticket_text_longer_than_its_column_is_400(client, auth, field, limit):
    response = post_json(client, {**VALID, field: "x" * (limit + 1)}, auth)
    assert_rejected(response, field=field, words=f"at most {limit} characters")


def test_create_ticket_text_of_its_column_length_is_stored(client, auth):
    payload = {**VALID, "subject": "s" * 255, "contact_name": "n" * 200, "body": "b" * 100_000}
    response = post_json(client, payload, auth)
    assert response.status_code == 201, response.content
    ticket = Ticket.objects.select_related("contact").get()
    assert (ticket.subject, ticket.contact.name) == ("s" * 255, "n" * 200)
    assert ticket.messages.get().body == "b" * 100_000


def test_create_ticket_body_over_100000_characters_is_400(client, auth):
    response = post_json(client, {**VALID, "body": "b" * 100_001}, auth)
    assert_rejected(response, field="body", words="at most 100000 characters")


@pytest.mark.parametrize("field", TEXT_FIELDS)
@pytest.mark.parametrize(
    "value",
    [42, 1.5, True, ["Hello"], {"text": "Hello"}],
    ids=["int", "float", "bool", "list", "object"],
)
def test_create_ticket_text_field_that_is_not_a_string_is_400(client, auth, field, value):
    response = post_json(client, {**VALID, field: value}, auth)
    assert_rejected(response, field=field, words="must be a string")


@pytest.mark.parametrize("field", ["channel_id", "priority"])
@pytest.mark.parametrize("value", ["3", 3.0, True, [3], {"id": 3}])
def test_create_ticket_integer_field_that_is_not_a_json_integer_is_400(client, auth, field, value):
    ChannelFactory(pk=3)
    response = post_json(client, {**VALID, field: value}, auth)
    assert_rejected(response, field=field, words="must be a JSON integer")


def test_create_ticket_channel_id_beyond_bigint_is_400(client, auth):
    response = post_json(client, {**VALID, "channel_id": 2**63}, auth)
    assert_rejected(response, field="channel_id")


def test_create_ticket_null_means_absent(client, auth):
    payload = {**VALID, "contact_name": None, "channel_id": None, "priority": None}
    response = post_json(client, payload, auth)
    assert response.status_code == 201, response.content
    assert response.json()["priority"] == "normal"


def test_create_ticket_unknown_field_is_400_naming_it(client, auth):
    response = post_json(client, {**VALID, "prioirty": 4, "cc": ["a@b.example"]}, auth)
    data = assert_rejected(response, field="prioirty", words="unknown field")
    assert set(data["errors"]) == {"prioirty", "cc"}


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/jsonx",
        "application/json; charset=latin-1",
        "",
    ],
)
def test_create_ticket_without_json_content_type_is_415(client, auth, content_type):
    response = client.post(
        TICKETS_URL, data=json.dumps(VALID), content_type=content_type, headers=auth
    )
    data = assert_rejected(response, status=415)
    assert "application/json" in data["error"]


@pytest.mark.parametrize(
    "content_type", ["application/json; charset=utf-8", "Application/JSON; charset=UTF-8"]
)
def test_create_ticket_json_content_type_with_utf8_charset_is_accepted(client, auth, content_type):
    response = client.post(
        TICKETS_URL, data=json.dumps(VALID), content_type=content_type, headers=auth
    )
    assert response.status_code == 201, response.content


def test_create_ticket_body_over_the_upload_limit_is_413_json(client, auth, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = post_json(client, {**VALID, "body": "x" * 2000}, auth)
    assert_rejected(response, status=413)


def test_failed_creation_leaves_no_contact_behind(client, auth):
    """The contact is created in the ticket's transaction: a failure after it rolls it back."""

    def refuse(sender, **kwargs):
        raise ValidationError({"subject": "Refused by a receiver."})

    events.ticket_created.connect(refuse, dispatch_uid="test-refuse")
    try:
        response = post_json(client, VALID, auth)
    finally:
        events.ticket_created.disconnect(dispatch_uid="test-refuse")
    assert_rejected(response, field="subject", words="refused")


def test_failed_creation_keeps_the_name_of_an_existing_contact_unchanged(client, auth):
    contact = ContactFactory(email="pat@customer.example", name="")

    def refuse(sender, **kwargs):
        raise ValidationError({"subject": "Refused by a receiver."})

    events.ticket_created.connect(refuse, dispatch_uid="test-refuse")
    try:
        response = post_json(client, VALID, auth)
    finally:
        events.ticket_created.disconnect(dispatch_uid="test-refuse")
    assert response.status_code == 400
    contact.refresh_from_db()
    assert contact.name == ""


def test_create_ticket_without_token_is_401(client):
    response = post_json(client, VALID, {})
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert Ticket.objects.count() == 0


@pytest.mark.parametrize(
    "header",
    ["Bearer wrong-token", "Bearer ", "Basic dXNlcjpwdw==", "Bearer"],
)
def test_create_ticket_with_wrong_token_is_401(client, token, header):
    response = post_json(client, VALID, {"Authorization": header})
    assert response.status_code == 401
    assert Ticket.objects.count() == 0


def test_token_of_inactive_user_is_401(client):
    token = ApiTokenFactory(user=AgentFactory(is_active=False))
    response = post_json(client, VALID, {"Authorization": f"Bearer {token.raw_key}"})
    assert response.status_code == 401


def test_r8_token_of_user_without_ticket_access_is_403(client):
    token = ApiTokenFactory(user=UserFactory())
    response = post_json(client, VALID, {"Authorization": f"Bearer {token.raw_key}"})
    assert response.status_code == 403
    assert Ticket.objects.count() == 0


def test_token_use_is_recorded(client, token, auth):
    assert token.last_used_at is None
    post_json(client, VALID, auth)
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_get_on_the_collection_is_405(client, auth):
    assert client.get(TICKETS_URL, headers=auth).status_code == 405


def test_session_login_is_not_enough(client, agent):
    """The API authenticates by token only; a signed-in browser session gets 401."""
    client.force_login(agent)
    assert post_json(client, VALID, {}).status_code == 401


# --- GET /api/v1/tickets/<id>/ ------------------------------------------------------------


def test_get_ticket_with_assignment_history(client, auth, agent, other_agent):
    team = TeamFactory(name="Billing")
    ticket = TicketFactory(subject="Refund please", channel=ChannelFactory(kind="calling"))
    assign(ticket=ticket, owner=agent, actor=other_agent, cause=AssignmentEvent.Cause.MANUAL)
    assign(ticket=ticket, owner=other_agent, team=team, actor=None, cause="routing")

    response = client.get(ticket_url(ticket.pk), headers=auth)

    assert response.status_code == 200
    data = response.json()
    assert data["id"] == ticket.pk
    assert data["subject"] == "Refund please"
    assert data["type"] == "calls"
    assert data["owner"] == {"id": other_agent.pk, "username": "other_agent", "name": "Otto Other"}
    assert data["team"] == {"id": team.pk, "name": "Billing"}
    assert data["assigned_at"] is not None
    first, second = data["assignment_history"]
    assert first["cause"] == "manual"
    assert first["actor"]["username"] == "other_agent"
    assert first["from_owner"] is None
    assert first["to_owner"]["username"] == "agent"
    assert second["cause"] == "routing"
    assert second["actor"] is None
    assert second["from_owner"]["username"] == "agent"
    assert second["to_owner"]["username"] == "other_agent"
    assert (second["from_team"], second["to_team"]) == (None, {"id": team.pk, "name": "Billing"})


def test_get_missing_ticket_is_404(client, auth):
    response = client.get(ticket_url(999999), headers=auth)
    assert response.status_code == 404
    assert "999999" in response.json()["error"]


def test_get_ticket_needs_a_token(client):
    ticket = TicketFactory()
    assert client.get(ticket_url(ticket.pk)).status_code == 401


def test_r8_get_ticket_without_ticket_access_is_403(client):
    ticket = TicketFactory()
    token = ApiTokenFactory(user=UserFactory())
    response = client.get(
        ticket_url(ticket.pk), headers={"Authorization": f"Bearer {token.raw_key}"}
    )
    assert response.status_code == 403


def test_post_on_a_ticket_is_405(client, auth):
    ticket = TicketFactory()
    assert client.post(ticket_url(ticket.pk), headers=auth).status_code == 405


def _queries_for_detail(client, auth, ticket) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(ticket_url(ticket.pk), headers=auth).status_code == 200
    return len(ctx.captured_queries)


def test_get_ticket_costs_a_bounded_number_of_queries(
    client, auth, agent, other_agent, django_assert_max_num_queries
):
    short = TicketFactory()
    assign(ticket=short, owner=agent, actor=agent, cause="manual")
    long = TicketFactory(team=TeamFactory())
    for i in range(12):
        assign(
            ticket=long,
            owner=(agent, other_agent)[i % 2],
            team=TeamFactory(),
            actor=(other_agent, agent)[i % 2],
            cause="manual",
        )

    # Token, its last use, the user's permissions (2), the ticket, its history.
    with django_assert_max_num_queries(6):
        client.get(ticket_url(long.pk), headers=auth)
    assert _queries_for_detail(client, auth, short) == _queries_for_detail(client, auth, long)
