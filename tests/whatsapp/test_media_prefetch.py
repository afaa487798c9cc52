"""A message's media is downloaded before its event is claimed: no row is locked during the
Graph API's (up to two, WHATSAPP_HTTP_TIMEOUT_SECONDS each) HTTP calls. Real row locks, so
PostgreSQL and committed data; the lock is probed from another connection."""

import threading

import pytest
from django.db import DatabaseError, connection, transaction

from helpdesk.models import Attachment, InboundEvent, Message, Ticket
from tests.whatsapp.conftest import delivery, post_delivery
from whatsapp import graph, inbound
from whatsapp.models import WhatsAppSettings
from whatsapp.tasks import process_whatsapp_task

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def image(media_id: str) -> dict:
    part = {"id": media_id, "mime_type": "image/jpeg", "caption": "The broken part"}
    return {"from": "4790000001", "id": f"wamid.M{media_id}", "type": "image", "image": part}


def event_is_locked(event_id: int) -> bool:
    """Asked from another connection: does some transaction hold the event's row?"""
    answer = {}

    def probe():
        try:
            with transaction.atomic():
                list(InboundEvent.objects.select_for_update(nowait=True).filter(pk=event_id))
            answer["locked"] = False
        except DatabaseError:
            answer["locked"] = True
        finally:
            connection.close()

    thread = threading.Thread(target=probe)
    thread.start()
    thread.join(timeout=30)
    return answer["locked"]


@pytest.fixture
def stored_image(wa_channel, graph, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    graph.add_media("4242", b"\xff\xd8JPEG", "image/jpeg")
    assert post_delivery(wa_channel, delivery(messages=[image("4242")])).status_code == 200
    return InboundEvent.objects.get()


def test_media_is_downloaded_while_no_row_is_locked(stored_image, monkeypatch):
    locked_during_download = []
    lookup = graph.media_info

    def looking_up(wa, media_id):
        locked_during_download.append(event_is_locked(stored_image.pk))
        return lookup(wa, media_id)

    monkeypatch.setattr(graph, "media_info", looking_up)

    assert process_whatsapp_task.apply(args=[stored_image.pk]).get() == "processed"

    assert locked_during_download == [False]
    assert Attachment.objects.get().file.read() == b"\xff\xd8JPEG"
    assert Message.objects.get().body == "The broken part"


def test_meta_not_answering_before_the_claim_still_fails_the_event_for_a_retry(
    stored_image, wa_channel, graph
):
    WhatsAppSettings.objects.filter(channel=wa_channel).update(
        api_base_url="http://127.0.0.1:9/v21.0"
    )
    event = inbound.process(stored_image.pk)

    assert event.status == "failed" and event.error.startswith("MediaUnavailable")
    assert inbound.worth_retrying(event)
    assert (Ticket.objects.count(), Message.objects.count()) == (0, 0)
    WhatsAppSettings.objects.filter(channel=wa_channel).update(api_base_url=graph.url)
    assert inbound.process(stored_image.pk).status == "processed"
    assert Attachment.objects.count() == 1


def test_a_redelivered_media_message_is_not_downloaded_again(stored_image, graph):
    assert inbound.process(stored_image.pk).status == "processed"
    downloads = len(graph.requests)
    InboundEvent.objects.filter(pk=stored_image.pk).update(status="failed")  # e.g. a retry

    assert inbound.prefetch_media(stored_image.pk) is None
    assert len(graph.requests) == downloads
