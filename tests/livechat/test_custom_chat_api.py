"""The custom chat API: `POST /chat/api/<channel id>/messages` with the channel's bearer
token (stored hashed) → the same intake as the widget."""

import json

import pytest
from django.urls import reverse

from helpdesk.models import InboundEvent, Ticket
from livechat.models import ChatSettings, Conversation, hash_secret
from tests.livechat.conftest import chatflow, custom_chat

pytestmark = pytest.mark.django_db


def api_post(client, chat, body, token=None, channel_id=None):
    token = chat.raw_token if token is None else token
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.post(
        reverse("livechat:api-messages", args=[channel_id or chat.channel_id]),
        body if isinstance(body, (bytes, str)) else json.dumps(body),
        content_type="application/json",
        headers=headers,
    )


MESSAGE = {
    "conversation_id": "user-42/thread-7",
    "message_id": "msg-001",
    "text": "The app crashes when I pay",
    "contact_name": "Kim Doe",
    "contact_email": "kim@customer.example",
}


def test_the_token_is_kept_only_as_its_hash():
    chat = custom_chat()
    stored = ChatSettings.objects.values().get(pk=chat.pk)
    assert stored["api_token_hash"] == hash_secret(chat.raw_token)
    assert chat.raw_token not in str(stored)


def test_a_message_with_the_channels_token_opens_a_ticket(client, published_tasks):
    chat = custom_chat()
    with published_tasks.after_commit():
        response = api_post(client, chat, MESSAGE)
        again = api_post(client, chat, MESSAGE)
    assert response.status_code == 202
    assert again.status_code == 202 and again.json()["duplicate"] is True
    ticket = Ticket.objects.get()
    assert ticket.channel == chat.channel and ticket.ticket_type == "messages"
    assert (ticket.contact.name, ticket.contact.email) == ("Kim Doe", "kim@customer.example")
    assert ticket.messages.get().body == "The app crashes when I pay"
    assert Conversation.objects.get().key == "user-42/thread-7"


def test_later_messages_of_the_conversation_append(client, published_tasks):
    chat = custom_chat()
    with published_tasks.after_commit():
        api_post(client, chat, MESSAGE)
        api_post(client, chat, {**MESSAGE, "message_id": "msg-002", "text": "Any news?"})
        api_post(client, chat, {**MESSAGE, "conversation_id": "other", "message_id": "msg-001"})
    assert Ticket.objects.count() == 2
    first = Conversation.objects.get(key="user-42/thread-7").ticket
    assert [m.body for m in first.messages.order_by("pk")] == [
        "The app crashes when I pay",
        "Any news?",
    ]


@pytest.mark.parametrize(
    "token", ["", "wrong-token", "Bearer"], ids=["missing", "wrong", "scheme-only"]
)
def test_without_the_right_token_it_is_401(client, token):
    chat = custom_chat()
    response = api_post(client, chat, MESSAGE, token=token or "")
    assert response.status_code == 401
    assert InboundEvent.objects.count() == 0


def test_a_token_of_another_channel_is_401(client):
    chat, other = custom_chat(), custom_chat()
    assert api_post(client, chat, MESSAGE, token=other.raw_token).status_code == 401
    assert InboundEvent.objects.count() == 0


def test_an_unknown_channel_or_a_chatflow_is_404(client):
    chat = custom_chat()
    assert api_post(client, chat, MESSAGE, channel_id=999999).status_code == 404
    widget_chat = chatflow()
    assert api_post(client, chat, MESSAGE, channel_id=widget_chat.channel_id).status_code == 404


def test_an_inactive_channel_is_403(client):
    chat = custom_chat()
    chat.channel.is_active = False
    chat.channel.save()
    response = api_post(client, chat, MESSAGE)
    assert response.status_code == 403 and "inactive" in response.json()["error"]
    assert InboundEvent.objects.count() == 0


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"nope", 400),
        ({**MESSAGE, "conversation_id": ""}, 400),
        ({**MESSAGE, "conversation_id": "x" * 129}, 400),
        ({**MESSAGE, "conversation_id": "tab\there"}, 400),
        ({**MESSAGE, "message_id": None}, 400),
        ({**MESSAGE, "text": "y" * 4001}, 413),
        ({**MESSAGE, "contact_email": "not-an-address"}, 400),
        ({**MESSAGE, "contact_name": ["a"]}, 400),
    ],
)
def test_bad_input_is_a_4xx_and_stores_nothing(client, body, status):
    chat = custom_chat()
    response = api_post(client, chat, body)
    assert response.status_code == status
    assert response.json()["error"]
    assert InboundEvent.objects.count() == 0 and Ticket.objects.count() == 0


def test_only_post_is_answered(client):
    chat = custom_chat()
    url = reverse("livechat:api-messages", args=[chat.channel_id])
    assert client.get(url).status_code == 405
