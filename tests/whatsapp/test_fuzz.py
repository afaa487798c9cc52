"""Issue 12: the WhatsApp webhook parser under hypothesis — arbitrary bytes and arbitrary JSON
in and around the Cloud API's shape, all with a valid signature: never a 5xx; what is
stored is settled by the handler without a crash (only the failures it retries on purpose);
never a ticket without its message, never a message without its ticket's event."""

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpdesk.models import InboundEvent, Message, Ticket
from helpdesk.services.intake import process_inbound
from tests.whatsapp.conftest import PHONE_NUMBER_ID, post_delivery
from whatsapp.inbound import handle_event, worth_retrying

SETTLED = {"processed", "ignored", "quarantined"}
fuzz = settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**20), max_value=10**20)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
)
anything = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)
maybe = lambda strategy: strategy | anything  # noqa: E731
message = st.fixed_dictionaries(
    {
        "from": maybe(st.sampled_from(["4790000001", "4790000002", "+47", ""])),
        "id": maybe(st.text(min_size=1, max_size=40).map(lambda s: f"wamid.{s}")),
        "type": maybe(
            st.sampled_from(
                [
                    "text",
                    "image",
                    "location",
                    "reaction",
                    "sticker",
                    "interactive",
                    "button",
                    "contacts",
                    "system",
                    "order",
                    "unsupported",
                ]
            )
        ),
        "text": maybe(st.fixed_dictionaries({"body": maybe(st.text(max_size=200))})),
        "image": maybe(st.fixed_dictionaries({"id": maybe(st.text(max_size=20))})),
        "reaction": anything,
        "location": anything,
    },
    optional={
        "interactive": anything,
        "button": anything,
        "contacts": anything,
        "errors": anything,
    },
)
status = st.fixed_dictionaries(
    {
        "id": maybe(st.text(max_size=30)),
        "status": maybe(st.sampled_from(["sent", "delivered", "read", "failed", "deleted"])),
        "timestamp": maybe(st.text(max_size=12)),
    },
    optional={"errors": anything},
)
value = st.fixed_dictionaries(
    {
        "metadata": maybe(
            st.fixed_dictionaries({"phone_number_id": maybe(st.just(PHONE_NUMBER_ID))})
        ),
        "messages": maybe(st.lists(maybe(message), max_size=3)),
        "statuses": maybe(st.lists(maybe(status), max_size=3)),
        "contacts": maybe(st.lists(anything, max_size=2)),
    }
)
shaped = st.fixed_dictionaries(
    {
        "object": maybe(st.just("whatsapp_business_account")),
        "entry": maybe(
            st.lists(
                maybe(
                    st.fixed_dictionaries(
                        {
                            "changes": maybe(
                                st.lists(
                                    maybe(
                                        st.fixed_dictionaries(
                                            {"field": anything, "value": maybe(value)}
                                        )
                                    ),
                                    max_size=2,
                                )
                            )
                        }
                    )
                ),
                max_size=2,
            )
        ),
    }
)


def check(channel, raw: bytes) -> None:
    response = post_delivery(channel, raw)
    assert response.status_code < 500
    assert response.status_code in (200, 400), response.content
    if response.status_code == 400:
        return
    for event in InboundEvent.objects.filter(status="received"):
        done = process_inbound(event.pk, handle_event)  # must not raise
        assert done.status in SETTLED or worth_retrying(done), done.error
    assert not Ticket.objects.filter(messages__isnull=True).exists()
    linked = set(InboundEvent.objects.exclude(message=None).values_list("message_id", flat=True))
    assert set(Message.objects.values_list("pk", flat=True)) <= linked


@fuzz
@given(raw=st.binary(max_size=2000))
def test_arbitrary_signed_bytes_never_give_a_5xx(wa_channel, raw):
    check(wa_channel, raw)


@fuzz
@given(data=anything)
def test_arbitrary_signed_json_never_gives_a_5xx_or_a_half_written_row(wa_channel, data):
    check(wa_channel, json.dumps(data).encode())


@fuzz
@given(data=shaped)
def test_deliveries_near_the_cloud_api_shape_are_stored_and_settled(wa_channel, data):
    check(wa_channel, json.dumps(data).encode())
