"""Setting a chat up: the snippet, the settings' rules, the admin (a secret never rendered
back, tokens shown once), the demo page."""

import io

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from helpdesk.models import Channel, OutboundMessage
from livechat import setup
from livechat.models import ChatSettings, WebhookReply, normalize_origin
from tests.factories import ChannelFactory
from tests.livechat.conftest import chatflow, custom_chat

pytestmark = pytest.mark.django_db


@pytest.fixture
def site(superadmin) -> Client:
    client = Client()
    client.force_login(superadmin)
    return client


def test_the_snippet_is_one_script_tag_with_the_public_id(settings):
    settings.SITE_URL = "https://help.example.com"
    chat = chatflow()
    assert setup.embed_snippet(chat) == (
        '<script src="https://help.example.com/static/livechat/widget.js" '
        f'data-channel="{chat.public_id}" async></script>'
    )
    assert chatflow().public_id != chat.public_id  # random, not the channel's number


def test_static_files_elsewhere_name_the_helpdesk_in_the_snippet(settings):
    settings.SITE_URL = "https://help.example.com"
    settings.STATIC_URL = "https://cdn.example.net/assets/"
    snippet = setup.embed_snippet(chatflow())
    assert 'src="https://cdn.example.net/assets/livechat/widget.js"' in snippet
    assert 'data-helpdesk="https://help.example.com/"' in snippet


@pytest.mark.parametrize(
    ("given", "origin"),
    [
        ("https://Shop.Example.com/", "https://shop.example.com"),
        ("https://shop.example.com:443", "https://shop.example.com"),
        ("http://localhost:8080", "http://localhost:8080"),
        ("https://shop.example.com/page", ""),
        ("ftp://shop.example.com", ""),
        ("shop.example.com", ""),
        ("https://user@shop.example.com", ""),
    ],
)
def test_origins_are_scheme_host_and_port(given, origin):
    assert normalize_origin(given) == origin


def test_settings_refuse_what_is_not_an_origin_and_other_kinds_of_channel():
    chat = chatflow()
    chat.allowed_origins = ["https://ok.example", "https://bad.example/path"]
    with pytest.raises(ValidationError) as refused:
        chat.clean()
    assert "allowed_origins" in refused.value.message_dict
    chat.allowed_origins = ["HTTPS://OK.example/", "https://ok.example"]
    chat.clean()
    assert chat.allowed_origins == ["https://ok.example"]
    email = ChannelFactory(kind=Channel.Kind.TEAM_EMAIL)
    with pytest.raises(ValidationError):
        ChatSettings(channel=email).clean()
    with pytest.raises(ValidationError):
        setup.ensure_chat_settings(email)


def test_the_admin_never_renders_the_webhook_secret_and_keeps_it_when_left_blank(site):
    chat = custom_chat(webhook_url="https://hooks.example.com/chat")
    secret = chat.webhook_secret
    url = reverse("admin:livechat_chatsettings_change", args=[chat.pk])
    page = site.get(url).content.decode()
    assert secret not in page and chat.raw_token not in page
    response = site.post(
        url,
        {
            "channel": chat.channel_id,
            "title": "Support",
            "greeting": "Hi",
            "allowed_origins": "[]",
            "webhook_url": "https://hooks.example.com/v2",
            "webhook_secret": "",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    chat.refresh_from_db()
    assert (chat.webhook_url, chat.webhook_secret) == ("https://hooks.example.com/v2", secret)


def test_the_admin_actions_show_a_new_token_and_secret_once(site):
    chat = custom_chat()
    old_hash, old_secret = chat.api_token_hash, chat.webhook_secret
    changelist = reverse("admin:livechat_chatsettings_changelist")
    shown = site.post(
        changelist,
        {"action": "new_api_token", "_selected_action": [chat.pk]},
        follow=True,
    ).content.decode()
    chat.refresh_from_db()
    assert chat.api_token_hash != old_hash and "copy this API token now" in shown
    shown = site.post(
        changelist, {"action": "new_webhook_secret", "_selected_action": [chat.pk]}, follow=True
    ).content.decode()
    chat.refresh_from_db()
    assert chat.webhook_secret != old_secret and chat.webhook_secret in shown
    again = (
        site.get(changelist).content.decode()
        + site.get(reverse("admin:livechat_chatsettings_change", args=[chat.pk])).content.decode()
    )
    assert chat.webhook_secret not in again  # shown once


def test_the_admin_lists_webhook_replies_only_and_retries_failed_ones(site, agent):
    from helpdesk import services
    from tests.factories import TicketFactory
    from tests.livechat.test_webhooks import chat_ticket

    chat = custom_chat(webhook_url="http://127.0.0.1:9/")
    services.reply(ticket=chat_ticket(chat), author=agent, body="by webhook")
    email_ticket = TicketFactory(channel=ChannelFactory())
    mail = services.reply(ticket=email_ticket, author=agent, body="by mail")
    OutboundMessage.objects.get_or_create(message=mail, defaults={"channel": email_ticket.channel})
    row = OutboundMessage.objects.get(channel=chat.channel)
    OutboundMessage.objects.filter(pk=row.pk).update(status="failed", last_error="410 Gone")
    changelist = reverse("admin:livechat_webhookreply_changelist")
    listed = site.get(changelist).context["cl"].result_list
    assert [r.pk for r in listed] == [row.pk]
    site.post(changelist, {"action": "retry", "_selected_action": [row.pk]})
    assert WebhookReply.objects.get(pk=row.pk).status == "queued"


@pytest.fixture
def demo_on(settings):
    settings.DEBUG, settings.LIVECHAT_DEMO = False, True


@pytest.mark.usefixtures("demo_on")
def test_the_demo_page_embeds_the_widget_of_the_first_active_chatflow(client):
    chat = chatflow()
    html = client.get(reverse("livechat:demo")).content.decode()
    assert f'data-channel="{chat.public_id}"' in html
    assert html.count("<script") == 1  # the snippet itself, shown as text besides
    assert "&lt;script src=" in html


@pytest.mark.usefixtures("demo_on")
def test_the_demo_page_says_what_to_do_without_a_chatflow(client):
    html = client.get(reverse("livechat:demo")).content.decode()
    assert "No active chatflow channel has its chat set up" in html and "<script" not in html


@pytest.mark.usefixtures("demo_on")
def test_the_demo_page_writes_nothing(client, django_assert_num_queries):
    channel = ChannelFactory(kind=Channel.Kind.CHATFLOW)  # its chat settings never made
    with django_assert_num_queries(1):
        response = client.get(reverse("livechat:demo"))
    assert response.status_code == 200 and "<script" not in response.content.decode()
    assert not ChatSettings.objects.filter(channel=channel).exists()


@pytest.mark.parametrize(("debug", "demo", "status"), [
    (False, False, 404), (False, True, 200), (True, False, 200),
])  # fmt: skip
def test_the_demo_page_is_served_only_with_debug_or_livechat_demo(
    client, settings, debug, demo, status
):
    settings.DEBUG, settings.LIVECHAT_DEMO = debug, demo
    chatflow()
    assert client.get(reverse("livechat:demo")).status_code == status


def test_seed_demo_sets_up_the_demo_chat(client, settings):
    from django.core.management import call_command

    settings.DEBUG, settings.LIVECHAT_DEMO = False, True
    call_command("seed_demo", tickets=0, stdout=io.StringIO())
    chat = ChatSettings.objects.get(channel__kind=Channel.Kind.CHATFLOW)
    html = client.get(reverse("livechat:demo")).content.decode()
    assert f'data-channel="{chat.public_id}"' in html
