"""The chat widget speaks the visitor's language (issue 13, Language): its words come from
one small GET that follows Accept-Language, readable from any site and cached per language."""

import pytest
from django.urls import reverse
from django.utils import translation

from livechat.texts import widget_texts

pytestmark = pytest.mark.django_db


def texts(client, language: str) -> dict:
    answer = client.get(
        reverse("livechat:widget-texts", args=["any-public-id"]),
        headers={"accept-language": language},
    )
    assert answer.status_code == 200
    assert answer["Access-Control-Allow-Origin"] == "*"
    assert "Accept-Language" in answer["Vary"]
    return answer.json()["texts"]


def test_a_norwegian_visitor_gets_norwegian_words(client):
    norwegian = texts(client, "nb-NO,nb;q=0.9,en;q=0.5")
    with translation.override("nb"):
        assert norwegian == widget_texts()
    assert norwegian["chat_with_us"] != "Chat with us"
    assert "{max}" in norwegian["too_long"]


def test_any_other_visitor_gets_english(client):
    english = texts(client, "de-DE")
    assert english["chat_with_us"] == "Chat with us"
    assert english["send"] == "Send"


def test_the_widget_knows_every_word_the_server_sends():
    """widget.js keeps an English default for each key; a key it does not know is unused."""
    from pathlib import Path

    script = (Path(__file__).resolve().parents[2] / "static/livechat/widget.js").read_text()
    for key in widget_texts():
        assert f"    {key}: " in script, key
