"""Rate limits of the widget's public endpoints: new conversations per client address,
visitor messages per conversation and per address — a 429 with a JSON error and
Retry-After, nothing stored; counted in Redis so that every web process shares the count."""

import secrets

import pytest
from django.test import Client

from helpdesk.models import InboundEvent
from livechat import throttle
from tests.livechat.conftest import ORIGIN, Widget, chatflow

pytestmark = pytest.mark.django_db


def visitor(chat, ip: str) -> Widget:
    return Widget(chat, client=Client(REMOTE_ADDR=ip))


def assert_limited(response, settings, words: str) -> None:
    assert response.status_code == 429, response.content[:300]
    assert words in response.json()["error"]
    assert 0 < int(response["Retry-After"]) <= settings.LIVECHAT_RATE_WINDOW_SECONDS
    assert response["Access-Control-Allow-Origin"] == ORIGIN  # the widget can read it


def test_new_conversations_per_address_are_limited(settings):
    settings.LIVECHAT_RATE_STARTS_PER_IP = 3
    chat = chatflow()
    started = [visitor(chat, "203.0.113.7") for _ in range(3)]
    assert [w.start().status_code for w in started] == [200, 200, 200]
    fourth = visitor(chat, "203.0.113.7")
    assert_limited(fourth.start(), settings, "Too many new chats")
    assert fourth.token == ""
    # A visitor who has a token keeps their conversation: not a new one, not counted.
    assert started[0].start().status_code == 200
    assert started[0].post("Still here?").status_code == 202
    assert visitor(chat, "198.51.100.1").start().status_code == 200  # another address


def test_messages_per_conversation_are_limited_and_a_refused_one_stores_nothing(settings):
    settings.LIVECHAT_RATE_MESSAGES_PER_CONVERSATION = 2
    chat = chatflow()
    widget = visitor(chat, "203.0.113.8")
    widget.start()
    assert [widget.post(f"m{n}", message_id=f"m{n}").status_code for n in (1, 2)] == [202, 202]
    assert_limited(widget.post("m3", message_id="m3"), settings, "Too many messages")
    assert InboundEvent.objects.count() == 2
    other = visitor(chat, "203.0.113.8")  # the same address, another conversation
    other.start()
    assert other.post("Hello").status_code == 202


def test_messages_per_address_are_limited_across_conversations(settings):
    settings.LIVECHAT_RATE_MESSAGES_PER_IP = 3
    chat = chatflow()
    one, two = visitor(chat, "203.0.113.9"), visitor(chat, "203.0.113.9")
    one.start(), two.start()
    answers = [
        w.post(f"x{n}", message_id=f"x{n}").status_code for n, w in enumerate([one, two, one])
    ]
    assert answers == [202, 202, 202]
    assert_limited(two.post("x9", message_id="x9"), settings, "Too many messages")
    assert InboundEvent.objects.count() == 3


def test_a_limit_of_zero_is_off(settings):
    settings.LIVECHAT_RATE_STARTS_PER_IP = 0
    chat = chatflow()
    assert all(visitor(chat, "203.0.113.10").start().status_code == 200 for _ in range(30))


def test_the_address_is_the_one_the_trusted_proxy_saw(settings):
    settings.LIVECHAT_RATE_STARTS_PER_IP = 1
    settings.AXES_TRUSTED_PROXY_COUNT = 1
    chat = chatflow()

    def start(forwarded: str):
        widget = Widget(chat, client=Client(REMOTE_ADDR="10.0.0.1"))
        return widget.client.post(
            widget.url("start"),
            "{}",
            content_type="application/json",
            headers={"Origin": ORIGIN, "X-Forwarded-For": forwarded},
        ).status_code

    assert start("203.0.113.20") == 200
    assert start("203.0.113.20") == 429
    assert start("203.0.113.20, 203.0.113.21") == 200  # the proxy saw .21: another client


@pytest.mark.redis
def test_the_count_is_shared_by_every_process_through_redis(settings):
    settings.LIVECHAT_RATE_REDIS_URL = settings.CELERY_BROKER_URL
    settings.LIVECHAT_RATE_STARTS_PER_IP = 2
    chat = chatflow()
    address = f"2001:db8::{secrets.token_hex(2)}"  # this run's own counter
    answers = []
    for _ in range(3):
        throttle._store_for.cache_clear()  # each request as if in a process of its own
        answers.append(visitor(chat, address).start().status_code)
    assert answers == [200, 200, 429]
    assert "RedisCache" in type(throttle.counter_store()).__name__


def test_without_redis_at_hand_the_chat_still_answers(settings):
    settings.LIVECHAT_RATE_REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    throttle._store_for.cache_clear()
    chat = chatflow()
    widget = visitor(chat, "203.0.113.30")
    assert widget.start().status_code == 200
    assert widget.post("Hello").status_code == 202
