"""Issue 12, "one <script> tag that the chatflow's Details tab shows": a chat channel's
settings on its Details tab, shaped by the kind's policy — a chatflow's title, greeting,
allowed origins, public id and snippet; a custom chat's API address and token prefix, its
webhook and secret — saved through `livechat.setup` into the channel's history (R6) with
secrets only as "changed". The stored token hash and webhook secret never appear in a
page; a new token or secret appears once, in the answer to the action that set it."""

import re
from html import unescape

import pytest
from django.test import Client
from django.urls import reverse

from channels_cfg.models import ChannelSettingsChange
from helpdesk.models import Channel
from livechat.models import INTAKE, WEBHOOK, WIDGET, ChatSettings, hash_secret
from livechat.setup import embed_snippet, save_chat_settings
from tests.factories import ChannelFactory
from tests.livechat.conftest import ORIGIN, chatflow, custom_chat
from tests.support.panels import browser_data, details_url, panel_in, text

pytestmark = pytest.mark.django_db


def post_chat(client, channel, action=None, **changes):
    data = browser_data(client, channel, "chat", **changes)
    if action:
        data["action"] = action
    return client.post(details_url(channel), data)


def stored_secrets(chat: ChatSettings) -> list[str]:
    chat.refresh_from_db()
    return [value for value in (chat.api_token_hash, chat.webhook_secret) if value]


def assert_absent(response, *values: str) -> None:
    html = response.content.decode()
    for value in values:
        assert value and value not in html, f"{value!r} is in the page"


@pytest.fixture
def widget_chat():
    return chatflow()


@pytest.fixture
def api_chat():
    return custom_chat(webhook_url="https://app.example.com/hooks/chat")


# ---------------------------------------------------------------------------------------
# Chatflow
# ---------------------------------------------------------------------------------------


def test_a_chatflow_shows_its_public_id_snippet_and_settings(admin_client, widget_chat, settings):
    settings.LIVECHAT_DEMO = True
    response = admin_client.get(details_url(widget_chat.channel))
    assert response.status_code == 200
    html = response.content.decode()
    assert f"<code data-public-id>{widget_chat.public_id}</code>" in html
    shown = re.search(r"<textarea[^>]*data-snippet>(.*?)</textarea>", html, re.S)
    assert shown and "readonly" in shown.group(0)
    assert unescape(shown.group(1)) == embed_snippet(widget_chat)
    assert 'data-copy="chat-snippet" hidden>Copy</button>' in html
    assert "livechat/widget.js" not in re.sub(r"<textarea.*?</textarea>", "", html, flags=re.S)
    demo = reverse("livechat:demo")
    assert f'<a href="{demo}" target="_blank" rel="noopener">Try it on the demo page</a>' in html
    form = panel_in(response, "chat").form
    assert set(form.fields) == {"title", "greeting", "allowed_origins"}
    assert form["allowed_origins"].value() == ORIGIN
    page = text(response)
    assert "API URL" not in page and "Webhook secret" not in page


def test_the_demo_link_says_when_it_shows_another_chat(admin_client, widget_chat, settings):
    settings.LIVECHAT_DEMO = True
    later = chatflow()
    response = admin_client.get(details_url(later.channel))
    assert "embeds the first active chatflow, which is another channel" in text(response)


def test_without_the_demo_page_there_is_no_link_to_it(admin_client, widget_chat, settings):
    settings.DEBUG, settings.LIVECHAT_DEMO = False, False
    response = admin_client.get(details_url(widget_chat.channel))
    assert response.status_code == 200
    assert reverse("livechat:demo") not in response.content.decode()


def test_saving_a_chatflow_records_each_change(admin_client, admin_user, widget_chat):
    response = post_chat(
        admin_client,
        widget_chat.channel,
        title=" Talk to Northwind ",
        greeting="Hi! Ask away.",
        allowed_origins="https://WWW.example.com/\r\n\r\nhttps://shop.example.com:443",
    )
    assert response.status_code == 302
    widget_chat.refresh_from_db()
    assert (widget_chat.title, widget_chat.greeting) == ("Talk to Northwind", "Hi! Ask away.")
    assert widget_chat.allowed_origins == ["https://shop.example.com", "https://www.example.com"]
    entry = widget_chat.channel.settings_changes.get()
    assert (entry.section, entry.actor) == (ChannelSettingsChange.Section.DETAILS, admin_user)
    assert {c["field"]: (c["before"], c["after"]) for c in entry.changes} == {
        "Chat · Title": ("Chat with us", "Talk to Northwind"),
        "Chat · Greeting": (
            "Hello! Write your question below and one of us will answer here.",
            "Hi! Ask away.",
        ),
        "Chat · Allowed origins": (ORIGIN, "https://shop.example.com, https://www.example.com"),
    }
    page = admin_client.get(details_url(widget_chat.channel))
    assert "Chat settings saved." in text(page)
    assert "Chat · Title: Chat with us → Talk to Northwind" in text(page)
    # The widget's start answers with the new title at once.
    started = Client().post(
        reverse("livechat:widget-start", args=[widget_chat.public_id]),
        "{}",
        content_type="application/json",
        headers={"Origin": "https://www.example.com"},
    )
    assert (started.status_code, started.json()["title"]) == (200, "Talk to Northwind")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        (
            "allowed_origins",
            "https://ok.example.com\r\nwww.example.com",
            "“www.example.com” is not",
        ),
        ("allowed_origins", "https://example.com/shop", "is not a web origin"),
        ("title", "  ", "Give the chat panel a title"),
        ("title", "x" * 81, "at most 80 characters"),
        ("greeting", "x" * 301, "at most 300 characters"),
    ],
)
def test_a_bad_chatflow_value_is_refused_on_its_field(
    admin_client, widget_chat, field, value, message
):
    before = ChatSettings.objects.values().get(pk=widget_chat.pk)
    changes = {"greeting": "Changed too", field: value}
    response = post_chat(admin_client, widget_chat.channel, **changes)
    assert response.status_code == 200
    form = panel_in(response, "chat").form
    assert list(form.errors) == [field]
    assert message in " ".join(form.errors[field])
    assert "Nothing was saved." in text(response)
    assert ChatSettings.objects.values().get(pk=widget_chat.pk) == before
    assert not widget_chat.channel.settings_changes.exists()


def test_a_chatflow_has_no_token_or_secret_to_renew(admin_client, widget_chat):
    for action in ("new_token", "new_secret"):
        response = post_chat(admin_client, widget_chat.channel, action=action)
        assert response.status_code == 200
        result = panel_in(response, "chat").results[action]
        assert (result.ok, result.reveal) == (False, "")
        assert "Only a custom chat has an API token" in result.message
    widget_chat.refresh_from_db()
    assert (widget_chat.api_token_hash, widget_chat.webhook_secret) == ("", "")
    assert not widget_chat.channel.settings_changes.exists()


# ---------------------------------------------------------------------------------------
# Custom chat
# ---------------------------------------------------------------------------------------


def test_a_custom_chat_shows_its_api_and_webhook_but_no_secret(admin_client, api_chat, settings):
    response = admin_client.get(details_url(api_chat.channel))
    assert response.status_code == 200
    assert_absent(response, *stored_secrets(api_chat), api_chat.raw_token)
    html, page = response.content.decode(), text(response)
    api_url = f"{settings.SITE_URL}/chat/api/{api_chat.channel_id}/messages"
    assert f"<code data-api-url>{api_url}</code>" in html
    assert f"Token starts with {api_chat.api_token_prefix}" in page
    assert 'name="chat-webhook_secret"' in html
    assert 'name="chat-webhook_secret" value=' not in html
    assert "A secret is stored and never shown." in page
    form = panel_in(response, "chat").form
    assert set(form.fields) == {"webhook_url", "webhook_secret"}
    assert form["webhook_url"].value() == "https://app.example.com/hooks/chat"
    for words in ("New API token (shown once)", "New webhook secret (shown once)"):
        assert words in page
    assert "Snippet" not in page and "Allowed origins" not in page


def test_a_new_api_token_is_shown_once_and_only_its_hash_kept(admin_client, admin_user, api_chat):
    channel = api_chat.channel
    old_hash = api_chat.api_token_hash
    response = post_chat(admin_client, channel, action="new_token")
    assert response.status_code == 200
    result = panel_in(response, "chat").results["new_token"]
    raw = result.reveal
    api_chat.refresh_from_db()
    assert result.ok is True and raw and api_chat.api_token_hash == hash_secret(raw)
    assert api_chat.api_token_hash != old_hash
    html = response.content.decode()
    assert f'id="chat-token-once" type="text" readonly value="{raw}"' in html
    assert_absent(response, *stored_secrets(api_chat), api_chat.raw_token)
    assert f"starts with {raw[:8]}" in text(response)
    (change,) = channel.settings_changes.get().changes
    assert change == {"field": "Chat · API token", "before": "(hidden)", "after": "changed"}
    # The old token no longer works, the new one does.
    url = reverse("livechat:api-messages", args=[channel.pk])
    body = '{"conversation_id": "c-1", "message_id": "m-1", "text": "Hello"}'
    for token, status in ((api_chat.raw_token, 401), (raw, 202)):
        answer = Client().post(
            url, body, content_type="application/json", headers={"Authorization": f"Bearer {token}"}
        )
        assert answer.status_code == status
    again = admin_client.get(details_url(channel))
    assert_absent(again, raw, *stored_secrets(api_chat))


def test_a_new_webhook_secret_is_shown_once(admin_client, api_chat):
    channel = api_chat.channel
    (old_secret,) = [api_chat.webhook_secret]
    response = post_chat(admin_client, channel, action="new_secret")
    result = panel_in(response, "chat").results["new_secret"]
    api_chat.refresh_from_db()
    assert result.ok is True and result.reveal == api_chat.webhook_secret != old_secret
    html = response.content.decode()
    assert html.count(api_chat.webhook_secret) == 1
    assert f'id="chat-secret-once" type="text" readonly value="{result.reveal}"' in html
    assert_absent(response, old_secret, api_chat.api_token_hash, api_chat.raw_token)
    (change,) = channel.settings_changes.get().changes
    assert change == {"field": "Chat · Webhook secret", "before": "(hidden)", "after": "changed"}
    assert_absent(admin_client.get(details_url(channel)), *stored_secrets(api_chat))


def test_saving_a_custom_chat_keeps_a_blank_secret_and_records_a_typed_one(admin_client, api_chat):
    channel = api_chat.channel
    stored = api_chat.webhook_secret
    response = post_chat(admin_client, channel, webhook_url="https://app.example.com/v2/hook")
    assert response.status_code == 302
    api_chat.refresh_from_db()
    assert (api_chat.webhook_url, api_chat.webhook_secret) == (
        "https://app.example.com/v2/hook",
        stored,
    )
    typed = "a-typed-webhook-secret-of-length"
    assert post_chat(admin_client, channel, webhook_secret=typed).status_code == 302
    api_chat.refresh_from_db()
    assert api_chat.webhook_secret == typed
    changes = [c for entry in channel.settings_changes.order_by("pk") for c in entry.changes]
    assert changes == [
        {
            "field": "Chat · Webhook URL",
            "before": "https://app.example.com/hooks/chat",
            "after": "https://app.example.com/v2/hook",
        },
        {"field": "Chat · Webhook secret", "before": "(hidden)", "after": "changed"},
    ]
    page = admin_client.get(details_url(channel))
    assert "Chat · Webhook secret: (hidden) → changed" in text(page)
    assert_absent(page, typed, stored, api_chat.api_token_hash)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("webhook_url", "ftp://app.example.com/hook", "address starts with https://"),
        ("webhook_url", "not a url", "Enter the webhook's full address"),
        ("webhook_secret", "short-secret", "Use at least 16 characters"),
    ],
)
def test_a_bad_custom_chat_value_is_refused_and_no_secret_is_echoed(
    admin_client, api_chat, field, value, message
):
    before = ChatSettings.objects.values().get(pk=api_chat.pk)
    typed = "typed-secret-not-to-echo-0815" if field != "webhook_secret" else value
    changes = {"webhook_secret": typed, field: value}
    response = post_chat(admin_client, api_chat.channel, **changes)
    assert response.status_code == 200
    form = panel_in(response, "chat").form
    assert list(form.errors) == [field]
    assert message in " ".join(form.errors[field])
    assert "type it once more before you save" in text(response)
    assert_absent(response, typed, *stored_secrets(api_chat), api_chat.raw_token)
    assert ChatSettings.objects.values().get(pk=api_chat.pk) == before
    assert not api_chat.channel.settings_changes.exists()


def test_the_service_refuses_fields_of_the_other_shape(api_chat, widget_chat):
    with pytest.raises(TypeError):
        save_chat_settings(channel=api_chat.channel, data={"title": "x"}, actor=None)
    with pytest.raises(TypeError):
        save_chat_settings(channel=widget_chat.channel, data={"webhook_url": ""}, actor=None)


# ---------------------------------------------------------------------------------------
# Access, cost, other kinds
# ---------------------------------------------------------------------------------------


def test_only_account_admins_may_change_chat_settings(api_chat, agent, outsider, superadmin):
    channel = api_chat.channel
    stored = stored_secrets(api_chat)
    for user in (agent, outsider):
        client = Client()
        client.force_login(user)
        for data in (
            {"panel": "chat", "chat-webhook_url": "https://evil.example.com/"},
            {"panel": "chat", "action": "new_token"},
            {"panel": "chat", "action": "new_secret"},
        ):
            response = client.post(details_url(channel), data)
            assert response.status_code == 403
            assert_absent(response, *stored)
    assert stored_secrets(api_chat) == stored
    assert api_chat.webhook_url == "https://app.example.com/hooks/chat"
    assert not channel.settings_changes.exists()
    client = Client()
    client.force_login(superadmin)
    assert post_chat(client, channel, webhook_url="https://ok.example.com/h").status_code == 302


@pytest.mark.parametrize("make", [chatflow, custom_chat])
def test_the_page_costs_a_fixed_number_of_queries(
    make, admin_client, admin_user, django_assert_max_num_queries
):
    chat = make()
    channel = chat.channel
    admin_client.get(details_url(channel))  # session, permissions cached
    with django_assert_max_num_queries(20) as captured:
        admin_client.get(details_url(channel))
    cost = len(captured)
    for n in range(12):
        data = (
            {
                "title": f"Chat {n}",
                "allowed_origins": [f"https://s{i}.example.com" for i in range(9)],
            }
            if chat.serves_widget
            else {"webhook_url": f"https://app.example.com/{n}"}
        )
        save_chat_settings(channel=channel, data=data, actor=admin_user)
    ChannelFactory(kind=channel.kind)  # another chat channel changes nothing on this page
    with django_assert_max_num_queries(cost):
        response = admin_client.get(details_url(channel))
    assert "Chat · " in text(response)


def test_a_chat_channel_without_settings_gets_them_when_the_tab_is_shown(admin_client):
    channel = ChannelFactory(kind=Channel.Kind.CHATFLOW)
    response = admin_client.get(details_url(channel))
    chat = ChatSettings.objects.get(channel=channel)
    assert panel_in(response, "chat").extra["public_id"] == chat.public_id
    assert not channel.settings_changes.exists()


@pytest.mark.parametrize(
    "kind",
    [
        k
        for k in Channel.Kind
        if Channel(kind=k).policy.intake != INTAKE
        or Channel(kind=k).policy.outbound not in {WIDGET, WEBHOOK}
    ],
)
def test_the_panel_is_absent_on_channels_that_are_not_chats(admin_client, kind):
    other = ChannelFactory(kind=kind)
    response = admin_client.get(details_url(other))
    assert response.status_code == 200
    assert 'id="panel-chat"' not in response.content.decode()
    refused = admin_client.post(details_url(other), {"panel": "chat", "action": "new_token"})
    assert refused.status_code == 400
    assert not ChatSettings.objects.exists()
