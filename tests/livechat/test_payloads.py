"""What the widget and the API may send (a pure module: no database)."""

import json

import pytest

from livechat.payloads import BadInput, api_message, widget_message


def widget(**data):
    return widget_message(json.dumps(data).encode(), max_text=100)


def test_a_widget_message_is_trimmed_and_its_controls_dropped():
    message = widget(
        id="abc-1", text="  hi\x00 there\r\n ", name=" Kim\t Doe ", email="K@X.Example"
    )
    assert (message.message_id, message.text) == ("abc-1", "hi there")
    assert (message.name, message.email) == ("Kim Doe", "k@x.example")


@pytest.mark.parametrize(
    ("data", "status"),
    [
        ({"id": "a", "text": "x" * 101}, 413),
        ({"id": "", "text": "x"}, 400),
        ({"id": "-starts-with-dash", "text": "x"}, 400),
        ({"id": "a" * 65, "text": "x"}, 400),
        ({"id": "a", "text": "\x00\x01"}, 400),
        ({"id": "a", "text": "x", "name": "n" * 201}, 400),
        ({"id": "a", "text": "x", "email": 7}, 400),
    ],
)
def test_a_widget_message_is_refused_with_a_status_and_a_reason(data, status):
    with pytest.raises(BadInput) as refused:
        widget(**data)
    assert refused.value.status == status and refused.value.error


def test_an_api_message_needs_a_printable_conversation_id():
    body = {"conversation_id": "c 1", "message_id": "m", "text": "hello", "contact_name": "Kim"}
    message = api_message(json.dumps(body).encode(), max_text=100)
    assert (message.conversation_id, message.name) == ("c 1", "Kim")
    for bad in ("", "   ", "line\nbreak", 5):
        with pytest.raises(BadInput):
            api_message(json.dumps({**body, "conversation_id": bad}).encode(), max_text=100)


def test_deep_nesting_is_400_not_a_crash():
    with pytest.raises(BadInput) as refused:
        widget_message(b"[" * 100_000 + b"]" * 100_000, max_text=100)
    assert refused.value.status == 400
