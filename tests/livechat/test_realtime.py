"""Real time through PostgreSQL: a visitor's long poll, waiting in one database connection,
wakes when another connection commits a message of its conversation — the visitor's own
(processed by a worker) or an agent's reply — and never for a write that rolled back.
No sleeps: each test waits on the condition it needs (the poll is LISTENing: the
`realtime.waiting` signal; the poll answered: the thread ended)."""

import threading
import time

import psycopg
import pytest
from django.db import connection, connections, transaction

from helpdesk import services
from helpdesk.models import Ticket
from helpdesk.services.intake import process_inbound
from livechat import realtime, tokens
from livechat.intake import handle_chat, store_chat_message
from livechat.payloads import ChatInput
from livechat.views import BUSY_POLL_MS
from tests.livechat.conftest import Widget, chatflow

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

WAIT = 15.0  # the poll's bound; every wake below must come long before it
WOKEN_WITHIN = 5.0


class Poll:
    """A widget's long poll in a thread of its own (its own database connection)."""

    def __init__(self, widget, after=0):
        self.widget, self.after = widget, after
        self.result = None
        self.listening = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _on_waiting(self, sender, name, **kwargs):
        if threading.current_thread() is self.thread:
            self.listening.set()

    def _run(self):
        try:
            self.result = self.widget.fetch(self.after, wait=True)
        finally:
            connections.close_all()

    def __enter__(self):
        realtime.waiting.connect(self._on_waiting, weak=False, dispatch_uid=id(self))
        self.started = time.monotonic()
        self.thread.start()
        assert self.listening.wait(10), "the poll never started waiting"
        return self

    def __exit__(self, *exc):
        self.thread.join(WAIT + 10)
        realtime.waiting.disconnect(dispatch_uid=id(self))

    def answer(self):
        self.thread.join(WOKEN_WITHIN)
        assert not self.thread.is_alive(), "the poll was not woken"
        self.elapsed = time.monotonic() - self.started
        assert self.result.status_code == 200
        return self.result.json()


@pytest.fixture(autouse=True)
def bounded(settings):
    settings.LIVECHAT_WAIT_SECONDS = WAIT


def visitor_key(widget):
    return tokens.read(widget.token, channel_id=widget.chat.channel_id).key


def deliver(widget, text, message_id):
    event, _ = store_chat_message(
        channel=widget.chat.channel,
        conversation_key=visitor_key(widget),
        message=ChatInput(message_id=message_id, text=text),
        raw=b"{}",
        headers={},
    )
    return process_inbound(event.pk, handle_chat)


def test_the_visitors_first_message_wakes_the_poll_at_commit():
    widget = Widget(chatflow())
    widget.start()
    with Poll(widget) as poll:
        deliver(widget, "Is anyone there?", "m1")  # another connection: this thread's
        answer = poll.answer()
    assert [m["text"] for m in answer["messages"]] == ["Is anyone there?"]
    assert answer["messages"][0]["client_id"] == "m1"
    assert poll.elapsed < WAIT


def test_an_agents_reply_wakes_the_visitors_poll(agent):
    widget = Widget(chatflow())
    widget.start()
    deliver(widget, "Hello", "m1")
    cursor = widget.fetch().json()["cursor"]
    ticket = Ticket.objects.get()
    with Poll(widget, after=cursor) as poll:
        services.reply(ticket=ticket, author=agent, body="Hi, Ada here.")
        answer = poll.answer()
    assert [(m["from"], m["text"], m["name"]) for m in answer["messages"]] == [
        ("agent", "Hi, Ada here.", "Ada")
    ]


def test_a_note_does_not_reach_the_visitor_and_a_later_reply_does(agent):
    widget = Widget(chatflow())
    widget.start()
    deliver(widget, "Hello", "m1")
    cursor = widget.fetch().json()["cursor"]
    ticket = Ticket.objects.get()
    with Poll(widget, after=cursor) as poll:
        services.add_note(ticket=ticket, author=agent, body="agents only")
        services.reply(ticket=ticket, author=agent, body="for the visitor")
        answer = poll.answer()
    assert [m["text"] for m in answer["messages"]] == ["for the visitor"]


def test_a_notification_is_delivered_at_commit_and_never_for_a_rollback():
    """Checked on a listener of our own: a rolled-back notify never arrives, a committed one
    does, in order — so a woken poll always finds its message."""
    settings_dict = connection.settings_dict
    listener = psycopg.connect(
        dbname=settings_dict["NAME"],
        user=settings_dict["USER"] or "postgres",
        host=settings_dict["HOST"] or "127.0.0.1",
        port=settings_dict["PORT"] or 5432,
        autocommit=True,
    )
    try:
        name = realtime.wake_name(1, "k")
        listener.execute(f'LISTEN "{name}"')
        listener.execute('LISTEN "marker"')

        class RolledBack(Exception):
            pass

        with pytest.raises(RolledBack), transaction.atomic():
            realtime.notify(1, "k")
            raise RolledBack
        with transaction.atomic():
            realtime.notify(1, "other")
            connection.cursor().execute("SELECT pg_notify('marker', '')")
        got = [n.channel for n in listener.notifies(timeout=5, stop_after=1)]
        assert got == ["marker"]
        with transaction.atomic():
            realtime.notify(1, "k")
        got = [n.channel for n in listener.notifies(timeout=5, stop_after=1)]
        assert got == [name]
    finally:
        listener.close()


def test_a_third_wait_of_one_conversation_is_answered_at_once(settings):
    settings.LIVECHAT_WAITS_PER_VISITOR = 1
    widget = Widget(chatflow())
    widget.start()
    with Poll(widget) as poll:
        busy = widget.fetch(wait=True)  # the slot is taken: no wait
        assert busy.status_code == 200
        assert busy.json() == {"messages": [], "cursor": 0, "poll_ms": BUSY_POLL_MS}
        deliver(widget, "wake up", "m1")
        assert [m["text"] for m in poll.answer()["messages"]] == ["wake up"]
    with connection.cursor() as cursor:  # the slot is free again once the poll answered
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = %s",
            [realtime.LOCK_SPACE],
        )
        assert cursor.fetchone()[0] == 0


def test_a_process_holds_at_most_its_number_of_waits(settings):
    settings.LIVECHAT_WAITS_PER_PROCESS = 1
    chat = chatflow()
    first, second = Widget(chat), Widget(chat)
    first.start()
    second.start()
    with Poll(first) as poll:
        busy = second.fetch(wait=True)
        assert busy.json()["poll_ms"] == BUSY_POLL_MS
        deliver(first, "done", "m1")
        poll.answer()


def test_without_wait_the_answer_is_immediate_and_says_when_to_ask_again():
    widget = Widget(chatflow())
    widget.start()
    answer = widget.fetch().json()
    assert answer == {"messages": [], "cursor": 0, "poll_ms": 0}
