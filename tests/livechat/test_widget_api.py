"""The widget's JSON endpoints: tokens, CORS, storing raw first, and every refusal a clear
4xx with nothing stored."""

import json

import pytest
from django.core import signing

from helpdesk.models import InboundEvent, Ticket
from livechat import tokens
from livechat.intake import source_id_of
from tests.livechat.conftest import ORIGIN, Widget, chatflow

pytestmark = pytest.mark.django_db


def nothing_stored():
    return InboundEvent.objects.count() == 0 and Ticket.objects.count() == 0


def test_start_gives_a_signed_token_for_this_channel_and_keeps_a_valid_one():
    chat = chatflow(title="Ask Northwind", greeting="Hi there")
    widget = Widget(chat)
    first = widget.start()
    assert first.status_code == 200
    data = first.json()
    assert data["title"] == "Ask Northwind" and data["greeting"] == "Hi there"
    visitor = tokens.read(data["token"], channel_id=chat.channel_id)
    assert visitor is not None and len(visitor.key) == 32
    again = widget.start()
    assert again.json()["token"] == data["token"]  # a returning visitor keeps the conversation
    assert first["Access-Control-Allow-Origin"] == ORIGIN
    assert "Origin" in first["Vary"]


def test_a_message_is_stored_raw_first_and_a_worker_makes_it_a_ticket(published_tasks):
    widget = Widget(chatflow())
    widget.start()
    with published_tasks.after_commit() as ran:
        response = widget.post("Where is my order 1234?", message_id="a1")
    assert response.status_code == 202
    assert response.json()["duplicate"] is False
    event = InboundEvent.objects.get()
    assert event.kind == "chat"
    assert json.loads(bytes(event.raw)) == {"id": "a1", "text": "Where is my order 1234?"}
    visitor = tokens.read(widget.token, channel_id=widget.chat.channel_id)
    assert event.source_id == source_id_of(visitor.key, "a1")
    assert ran[:2] == ["livechat.tasks.process_chat_task", "routing.tasks.route_ticket_task"]
    event.refresh_from_db()
    assert event.status == InboundEvent.Status.PROCESSED, event.error
    ticket = Ticket.objects.get()
    assert ticket.subject == "Where is my order 1234?"
    assert ticket.ticket_type == "messages"  # R12


def test_a_retried_post_is_one_message(published_tasks):
    widget = Widget(chatflow())
    widget.start()
    with published_tasks.after_commit():
        first = widget.post("Hello?", message_id="same")
        second = widget.post("Hello?", message_id="same")
    assert (first.status_code, second.status_code) == (202, 202)
    assert second.json() == {**first.json(), "duplicate": True}
    assert InboundEvent.objects.count() == 1
    ticket = Ticket.objects.get()
    assert ticket.messages.count() == 1


def test_the_visitor_reads_their_conversation_but_never_a_note(published_tasks, agent):
    from helpdesk import services

    widget = Widget(chatflow())
    widget.start()
    with published_tasks.after_commit():
        widget.post("My grinder is loud", message_id="g1")
    ticket = Ticket.objects.get()
    services.add_note(ticket=ticket, author=agent, body="Probably the burrs")
    services.reply(ticket=ticket, author=agent, body="Have you cleaned the burrs?")
    data = widget.fetch().json()
    assert [(m["from"], m["text"]) for m in data["messages"]] == [
        ("visitor", "My grinder is loud"),
        ("agent", "Have you cleaned the burrs?"),
    ]
    assert data["messages"][0]["client_id"] == "g1"
    assert data["messages"][1]["name"] == "Ada"
    assert data["cursor"] == data["messages"][-1]["id"]
    later = widget.fetch(after=data["cursor"]).json()
    assert later["messages"] == [] and later["cursor"] == data["cursor"]


def test_another_visitor_sees_nothing_of_the_conversation(published_tasks):
    chat = chatflow()
    kim, eve = Widget(chat), Widget(chat)
    kim.start()
    eve.start()
    with published_tasks.after_commit():
        kim.post("private question", message_id="k1")
    assert eve.fetch().json()["messages"] == []


def test_fetching_costs_a_fixed_number_of_queries(published_tasks, django_assert_max_num_queries):
    widget = Widget(chatflow())
    widget.start()
    with published_tasks.after_commit():
        for n in range(12):
            widget.post(f"line {n}", message_id=f"n{n}")
    with django_assert_max_num_queries(2):
        data = widget.fetch().json()
    assert len(data["messages"]) == 12


@pytest.mark.parametrize(
    ("raw", "status", "words"),
    [
        (b"{not json", 400, "not JSON"),
        (b"[1, 2]", 400, "JSON object"),
        (json.dumps({"text": "no id"}).encode(), 400, "id is missing"),
        (json.dumps({"id": "bad id!", "text": "x"}).encode(), 400, "not an id"),
        (json.dumps({"id": "a", "text": "   "}).encode(), 400, "empty"),
        (json.dumps({"id": "a", "text": 5}).encode(), 400, "text is missing"),
        (json.dumps({"id": "a", "text": "x" * 4001}).encode(), 413, "longer than 4,000"),
        (json.dumps({"id": "a", "text": "hi", "email": "nope"}).encode(), 400, "not an email"),
        (b'{"id": "a", "text": "\\ud800"}', 400, "not text"),
    ],
)
def test_bad_input_is_a_clear_4xx_and_stores_nothing(raw, status, words):
    widget = Widget(chatflow())
    widget.start()
    response = widget.post(raw=raw)
    assert response.status_code == status
    assert words in response.json()["error"]
    assert nothing_stored()


def test_a_body_larger_than_the_limit_is_refused_before_it_is_read(settings):
    settings.LIVECHAT_MAX_BODY_BYTES = 1000
    widget = Widget(chatflow())
    widget.start()
    response = widget.post("x" * 2000)
    assert response.status_code == 413
    assert nothing_stored()


def test_nul_and_control_characters_never_reach_the_database(published_tasks):
    widget = Widget(chatflow())
    widget.start()
    with published_tasks.after_commit():
        response = widget.post("bell\x07 and nul\x00 gone\nline two", message_id="c1")
    assert response.status_code == 202
    assert Ticket.objects.get().messages.get().body == "bell and nul gone\nline two"


@pytest.mark.parametrize(
    "token",
    ["", "garbage", "a" * 500],
    ids=["missing", "garbage", "too-long"],
)
def test_a_missing_or_unreadable_token_is_401(token):
    widget = Widget(chatflow())
    response = widget.post("hi", token=token or "")
    assert response.status_code == 401
    assert widget.fetch(token=token or "").status_code == 401
    assert nothing_stored()


def test_a_forged_or_foreign_token_is_401():
    chat, other = chatflow(), chatflow()
    key = tokens.new_visitor_key()
    forged = signing.dumps({"c": chat.channel_id, "v": key}, key="not-our-secret", salt=tokens.SALT)
    foreign, _ = tokens.issue(channel_id=other.channel_id)
    widget = Widget(chat)
    for token in (forged, foreign):
        assert widget.post("hi", token=token).status_code == 401
    assert nothing_stored()


def test_an_expired_token_is_401(settings, time_machine):
    time_machine.move_to("2026-01-05 12:00:00+00:00", tick=False)
    widget = Widget(chatflow())
    widget.start()
    time_machine.shift(settings.LIVECHAT_TOKEN_MAX_AGE_DAYS * 86400 + 60)
    assert widget.post("hi").status_code == 401
    assert nothing_stored()


def test_an_inactive_channel_or_unknown_id_is_404():
    chat = chatflow()
    widget = Widget(chat)
    widget.start()
    chat.channel.is_active = False
    chat.channel.save()
    assert widget.post("hi").status_code == 404
    assert widget.start().status_code == 404
    assert Widget(chat).start().status_code == 404
    chat.public_id = "nosuchchat"
    assert Widget(chat).start().status_code == 404
    assert nothing_stored()


@pytest.mark.parametrize(
    "public_id",
    ["ab%00cd", "%00", "x" * 33, "x" * 5000, "abc%20def", "%C3%B1and%C3%BA", "abc%2Bdef"],
    ids=["nul", "only-nul", "33-chars", "5000-chars", "space", "non-ascii", "plus"],
)
def test_a_public_id_of_another_shape_is_the_404_before_any_query(
    client, django_assert_num_queries, public_id
):
    chatflow()
    for method, name in (("post", "start"), ("get", "messages"), ("post", "messages")):
        with django_assert_num_queries(0):
            response = getattr(client, method)(
                f"/chat/w/{public_id}/{name}", headers={"Origin": ORIGIN}
            )
        assert response.status_code == 404, (method, name, response.content[:200])
        assert "not available" in response.json()["error"]
    assert nothing_stored()


def test_a_custom_chat_channel_has_no_widget():
    from tests.livechat.conftest import custom_chat

    chat = custom_chat()
    assert Widget(chat).start().status_code == 404


def test_an_origin_not_allowed_is_403_and_stores_nothing():
    widget = Widget(chatflow())
    widget.start()
    widget.origin = "https://evil.example"
    response = widget.post("hi")
    assert response.status_code == 403
    assert "allowed origins" in response.json()["error"]
    assert "Access-Control-Allow-Origin" not in response
    assert nothing_stored()


def test_the_helpdesks_own_origin_and_no_origin_are_allowed(settings):
    settings.SITE_URL = "https://help.example.com"
    chat = chatflow()
    assert Widget(chat, origin="https://help.example.com").start().status_code == 200
    assert Widget(chat, origin="http://testserver").start().status_code == 200
    assert Widget(chat, origin=None).start().status_code == 200


def test_the_preflight_allows_the_configured_origin_with_its_headers(client):
    chat = chatflow()
    widget = Widget(chat)
    response = client.options(widget.url("messages"), headers={"Origin": ORIGIN})
    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == ORIGIN
    assert "Authorization" in response["Access-Control-Allow-Headers"]
    assert "POST" in response["Access-Control-Allow-Methods"]
    assert "Access-Control-Allow-Credentials" not in response
    refused = client.options(widget.url("messages"), headers={"Origin": "https://evil.example"})
    assert refused.status_code == 403


def test_wrong_methods_and_types_are_refused(client):
    widget = Widget(chatflow())
    widget.start()
    assert client.get(widget.url("start"), headers={"Origin": ORIGIN}).status_code == 405
    response = widget.client.post(
        widget.url("messages"),
        "id=a&text=b",
        content_type="application/x-www-form-urlencoded",
        headers=widget._headers(),
    )
    assert response.status_code == 415
    assert widget.fetch(after="x").status_code == 400
    assert nothing_stored()
