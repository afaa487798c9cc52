"""The 24-hour customer-service window is measured from when the customer sent the message
(Meta's `timestamp`), not from when a worker processed it: after a backlog or a late
redelivery the ticket page must not offer free text that Meta would refuse."""

import datetime as dt
from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from helpdesk import services
from helpdesk.models import InboundEvent, Message, Ticket
from tests.whatsapp.conftest import delivery, post_delivery, text_message
from whatsapp import inbound, outbound
from whatsapp.outbound import WINDOW_CLOSED

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def processed_now(channel, wamid: str, sent: dt.datetime | int | str) -> Message:
    """A message Meta says was sent at `sent`, posted and processed at NOW (time frozen)."""
    ts = int(sent.timestamp()) if isinstance(sent, dt.datetime) else sent
    message = text_message(wamid, "Where is my parcel?")
    message["timestamp"] = str(ts)
    with time_machine.travel(NOW, tick=False):
        assert post_delivery(channel, delivery(messages=[message])).status_code == 200
        for pk in InboundEvent.objects.filter(status="received").values_list("pk", flat=True):
            assert inbound.process(pk).status == "processed"
    return Message.objects.get(external_id=wamid)


def ticket_page(ticket, user) -> str:
    client = Client()
    client.force_login(user)
    with time_machine.travel(NOW, tick=False):
        return client.get(reverse("ticket", args=[ticket.pk])).content.decode()


def test_a_message_sent_25_hours_ago_and_processed_now_leaves_the_window_closed(wa_channel, agent):
    message = processed_now(wa_channel, "wamid.LATE", NOW - timedelta(hours=25))
    ticket = message.ticket

    assert message.created_at == NOW - timedelta(hours=25)
    assert outbound.window_closes_at(ticket) == NOW - timedelta(hours=1)
    page = ticket_page(ticket, agent)
    assert 'data-whatsapp-window="closed"' in page and WINDOW_CLOSED in page
    assert "data-send-template" in page  # the approved templates are offered
    services.assign(ticket=ticket, owner=agent, actor=agent, cause="manual")
    with time_machine.travel(NOW, tick=False), pytest.raises(ValidationError):
        services.reply(ticket=Ticket.objects.get(pk=ticket.pk), author=agent, body="Hello")


def test_a_late_message_joining_an_open_ticket_is_timed_by_meta_too(wa_channel, agent):
    first = processed_now(wa_channel, "wamid.FIRST", NOW - timedelta(hours=30))
    late = processed_now(wa_channel, "wamid.JOINS", NOW - timedelta(hours=25))

    assert late.ticket_id == first.ticket_id  # joined the open ticket
    assert late.created_at == NOW - timedelta(hours=25)
    page = ticket_page(first.ticket, agent)
    assert 'data-whatsapp-window="closed"' in page and "data-send-template" in page


def test_a_recent_message_keeps_the_window_open_until_24_hours_after_it_was_sent(wa_channel, agent):
    message = processed_now(wa_channel, "wamid.RECENT", NOW - timedelta(hours=2))

    assert outbound.window_closes_at(message.ticket) == NOW + timedelta(hours=22)
    assert 'data-whatsapp-window="open"' in ticket_page(message.ticket, agent)


@pytest.mark.parametrize(
    ("timestamp", "expected"),
    [
        (int((NOW + timedelta(hours=5)).timestamp()), NOW),  # the future: now at the latest
        ("garbled", NOW),
        ("", NOW),
        (-5, NOW),
        (int((NOW - timedelta(days=400)).timestamp()), NOW),  # not a redelivery: garbled
    ],
)
def test_a_future_absent_or_garbled_timestamp_falls_back_to_when_we_processed_it(
    wa_channel, timestamp, expected
):
    message = processed_now(wa_channel, "wamid.ODD", timestamp)
    assert message.created_at == expected
    assert outbound.window_closes_at(message.ticket) == expected + timedelta(hours=24)


def test_sent_at_is_metas_time_bounded_by_now():
    assert inbound.sent_at("1772440000", now=NOW) == dt.datetime.fromtimestamp(
        1772440000, tz=dt.UTC
    )
    assert inbound.sent_at(str(int(NOW.timestamp()) + 60), now=NOW) == NOW
    assert inbound.sent_at(None, now=NOW) is None
    assert inbound.sent_at("1e9", now=NOW) is None
