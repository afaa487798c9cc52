"""Issue 12, "Settings": a WhatsApp channel's Cloud API settings on its Details tab — saved
through `whatsapp.settings_service` into the channel's history (secrets only as "changed"),
no secret ever in the page, refusals as field errors with nothing written, the callback URL
and verify token to give Meta — and "Test the token" against a local stand-in for the Graph
API that records what it was asked, each answer in plain words."""

import re
import socket
import threading
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer

import pytest
from django.test import Client

from channels_cfg.models import ChannelSettingsChange
from helpdesk.channel_kinds import policy_for
from helpdesk.models import Channel
from tests.factories import ChannelFactory
from tests.support.panels import browser_data, details_url, panel_in, text
from tests.whatsapp.conftest import (
    ACCESS_TOKEN,
    APP_SECRET,
    PHONE_NUMBER_ID,
    VERIFY_TOKEN,
    GraphServer,
    _handler,
    webhook_url,
)
from whatsapp.models import DEFAULT_API_BASE_URL, WhatsAppSettings
from whatsapp.settings_service import (
    check_token,
    parse_templates,
    save_whatsapp_settings,
    templates_text,
)
from whatsapp.webhook import KIND

pytestmark = pytest.mark.django_db
SECRETS = (ACCESS_TOKEN, APP_SECRET, VERIFY_TOKEN)
NUMBER = {
    "verified_name": "Acme Support",
    "display_phone_number": "+47 900 00 000",
    "quality_rating": "GREEN",
    "id": PHONE_NUMBER_ID,
}


# ---------------------------------------------------------------------------------------
# A Graph API stand-in that also answers GET /<phone number id>
# ---------------------------------------------------------------------------------------


@dataclass
class MetaServer(GraphServer):
    # What GET /v21.0/<PHONE_NUMBER_ID> answers: (status, JSON body).
    number_answer: tuple = (200, NUMBER)
    numbers_asked: deque = field(default_factory=deque)


def _meta_handler(server: MetaServer):
    class Handler(_handler(server)):
        def do_GET(self):
            if self.path == f"/v21.0/{PHONE_NUMBER_ID}":
                server.numbers_asked.append(self._record())
                return self._answer(*server.number_answer)
            return super().do_GET()  # other ids: Meta's 400 "Unsupported get request."

    return Handler


@contextmanager
def meta_server():
    server = MetaServer()
    httpd = ThreadingHTTPServer((server.host, 0), _meta_handler(server))
    server.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def graph():
    """Overrides tests/whatsapp/conftest.py's, so `wa_channel` points at this one."""
    with meta_server() as server:
        yield server


@pytest.fixture
def wa(wa_channel):
    return WhatsAppSettings.objects.get(channel=wa_channel)


@pytest.fixture
def bare():
    """A WhatsApp channel without settings yet."""
    return ChannelFactory(kind=Channel.Kind.WHATSAPP, name="New number", address="+47 901")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# ---------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------


def post_wa(client, channel, action=None, **changes):
    data = browser_data(client, channel, "whatsapp", **changes)
    if action:
        data["action"] = action
    return client.post(details_url(channel), data)


def history(channel) -> list[dict]:
    return [c for entry in channel.settings_changes.all() for c in entry.changes]


def assert_no_secret(response, *also: str) -> None:
    html = response.content.decode()
    for secret in (*SECRETS, *also):
        assert secret not in html, f"{secret!r} is in the page"


# ---------------------------------------------------------------------------------------
# The page
# ---------------------------------------------------------------------------------------


def test_the_panel_shows_the_saved_settings_and_what_to_give_meta(admin_client, wa, settings):
    settings.SITE_URL = "https://help.example.com"
    response = admin_client.get(details_url(wa.channel))
    assert response.status_code == 200
    assert_no_secret(response)
    html, page = response.content.decode(), text(response)
    for name in ("wa-access_token", "wa-verify_token", "wa-app_secret"):
        assert f'name="{name}"' in html
        assert f'name="{name}" value=' not in html
    assert f'value="{PHONE_NUMBER_ID}"' in html
    for section in ("Cloud API", "Webhook", "Templates and media"):
        assert section in page
    callback = f"https://help.example.com/whatsapp/{wa.channel_id}/webhook/"
    assert f"Callback URL {callback}" in page
    assert "Verify token Stored, starts with veri: give Meta the same." in page
    assert "A token is stored and never shown. Leave blank to keep it." in page
    assert "Remove the stored token" in page and "Remove the stored app secret" in page
    form = panel_in(response, "whatsapp").form
    assert form["templates"].value() == (
        "follow_up | en_US | Hello, we have news. Reply to go on.\nhello_world | en_US"
    )


def test_a_channel_without_settings_shows_the_defaults_and_writes_nothing(admin_client, bare):
    response = admin_client.get(details_url(bare))
    form = panel_in(response, "whatsapp").form
    assert form["api_base_url"].value() == DEFAULT_API_BASE_URL
    assert form["media_hosts"].value() == "lookaside.fbsbx.com"
    page = text(response)
    assert "No token is stored yet: replies cannot leave." in page
    assert re.search(r"Verify token None yet: type one below, e\.g\. \S{32} ?, and give", page)
    assert "Remove the stored" not in page
    assert not WhatsAppSettings.objects.exists()


@pytest.mark.parametrize("kind", [k for k in Channel.Kind if policy_for(k).intake != KIND])
def test_the_panel_is_absent_on_channels_that_are_not_whatsapp(admin_client, kind):
    other = ChannelFactory(kind=kind)
    response = admin_client.get(details_url(other))
    assert response.status_code == 200
    assert 'id="panel-whatsapp"' not in response.content.decode()
    refused = admin_client.post(
        details_url(other), {"panel": "whatsapp", "wa-phone_number_id": "1"}
    )
    assert refused.status_code == 400
    assert not WhatsAppSettings.objects.exists()


def test_only_account_admins_may_change_whatsapp_settings(wa, agent, outsider, superadmin):
    for user in (agent, outsider):
        client = Client()
        client.force_login(user)
        response = client.post(
            details_url(wa.channel), {"panel": "whatsapp", "wa-phone_number_id": "1"}
        )
        assert response.status_code == 403
        assert_no_secret(response)
    wa.refresh_from_db()
    assert wa.phone_number_id == PHONE_NUMBER_ID
    client = Client()
    client.force_login(superadmin)
    assert post_wa(client, wa.channel, phone_number_id="5550001").status_code == 302


def test_the_page_costs_a_fixed_number_of_queries(
    admin_client, admin_user, bare, django_assert_max_num_queries
):
    admin_client.get(details_url(bare))  # session, permissions cached
    with django_assert_max_num_queries(20) as captured:
        admin_client.get(details_url(bare))
    cost = len(captured)
    templates = [{"name": f"template_{n}", "language": "en_US", "text": "Hi"} for n in range(40)]
    save_whatsapp_settings(
        channel=bare,
        data={"phone_number_id": "1", "verify_token": "v", "templates": templates},
        actor=admin_user,
    )
    for n in range(20):
        save_whatsapp_settings(channel=bare, data={"phone_number_id": str(n + 2)}, actor=None)
    with django_assert_max_num_queries(cost):
        response = admin_client.get(details_url(bare))
    assert "WhatsApp · Phone number id: 20 → 21" in text(response)
    assert "template_39 | en_US | Hi" in response.content.decode()


# ---------------------------------------------------------------------------------------
# Saving
# ---------------------------------------------------------------------------------------


def test_saving_creates_the_settings_and_records_each_change(admin_client, admin_user, bare):
    response = post_wa(
        admin_client,
        bare,
        phone_number_id=" 123456789 ",
        access_token="EAAB-first-token",
        verify_token="a-long-random-verify-token",
        app_secret="0123abcd-app-secret",
        templates="follow_up | en_US | Hello, we have an answer.\r\n\r\nhello_world | en_US",
        media_hosts="Lookaside.fbsbx.com\r\ncdn.example.com\r\ncdn.example.com",
    )
    assert response.status_code == 302
    wa = WhatsAppSettings.objects.get(channel=bare)
    assert (wa.phone_number_id, wa.access_token, wa.app_secret, wa.verify_token) == (
        "123456789",
        "EAAB-first-token",
        "0123abcd-app-secret",
        "a-long-random-verify-token",
    )
    assert wa.templates == [
        {"name": "follow_up", "language": "en_US", "text": "Hello, we have an answer."},
        {"name": "hello_world", "language": "en_US"},
    ]
    assert wa.media_hosts == ["cdn.example.com", "lookaside.fbsbx.com"]
    entry = bare.settings_changes.get()
    assert (entry.section, entry.actor) == (ChannelSettingsChange.Section.DETAILS, admin_user)
    fields = {c["field"]: (c["before"], c["after"]) for c in entry.changes}
    assert fields == {
        "WhatsApp · Phone number id": ("(empty)", "123456789"),
        "WhatsApp · Access token": ("(none)", "changed"),
        "WhatsApp · Verify token": ("(none)", "changed"),
        "WhatsApp · App secret": ("(none)", "changed"),
        "WhatsApp · Approved templates": ("(none)", "follow_up (en_US), hello_world (en_US)"),
        "WhatsApp · Media hosts": ("lookaside.fbsbx.com", "cdn.example.com, lookaside.fbsbx.com"),
    }
    hosts = next(c for c in entry.changes if c["field"] == "WhatsApp · Media hosts")
    assert (hosts["added"], hosts["removed"]) == (["cdn.example.com"], [])
    page = admin_client.get(details_url(bare))
    assert "WhatsApp settings saved." in text(page)
    assert "WhatsApp · Phone number id: (empty) → 123456789" in text(page)
    assert "WhatsApp · Access token: (none) → changed" in text(page)
    assert_no_secret(page, "EAAB-first-token", "0123abcd-app-secret", "a-long-random-verify")


def test_saved_settings_answer_meta_at_the_callback_url(admin_client, bare, settings):
    """The verify token saved on the page is the one the webhook's handshake accepts, at
    the callback URL the page shows."""
    post_wa(admin_client, bare, phone_number_id="123", verify_token="handshake-token-77")
    page = admin_client.get(details_url(bare))
    url = panel_in(page, "whatsapp").extra["callback_url"]
    assert url.endswith(webhook_url(bare))
    assert url.startswith(settings.SITE_URL + "/")
    path = url.removeprefix(settings.SITE_URL)
    params = {"hub.mode": "subscribe", "hub.challenge": "1158201444"}
    accepted = Client().get(path, {**params, "hub.verify_token": "handshake-token-77"})
    assert (accepted.status_code, accepted.content) == (200, b"1158201444")
    refused = Client().get(path, {**params, "hub.verify_token": "something-else"})
    assert refused.status_code == 403


def test_blank_secrets_keep_the_stored_ones_and_a_new_one_shows_only_as_changed(admin_client, wa):
    assert post_wa(admin_client, wa.channel, phone_number_id="555").status_code == 302
    wa.refresh_from_db()
    assert (wa.access_token, wa.app_secret, wa.verify_token) == (
        ACCESS_TOKEN,
        APP_SECRET,
        VERIFY_TOKEN,
    )
    assert [c["field"] for c in history(wa.channel)] == ["WhatsApp · Phone number id"]

    response = post_wa(admin_client, wa.channel, access_token="  EAAG-next-token-2 \n")
    assert response.status_code == 302
    wa.refresh_from_db()
    assert wa.access_token == "EAAG-next-token-2"  # copied with spaces around: trimmed
    assert history(wa.channel)[0] == {
        "field": "WhatsApp · Access token",
        "before": "(hidden)",
        "after": "changed",
    }
    assert_no_secret(admin_client.get(details_url(wa.channel)), "EAAG-next-token-2")


def test_removing_a_secret_and_refusing_to_type_and_remove_at_once(admin_client, wa):
    both = post_wa(admin_client, wa.channel, remove_access_token=True, access_token="EAAG-x")
    assert both.status_code == 200
    errors = panel_in(both, "whatsapp").form.errors
    assert errors == {
        "remove_access_token": [
            "Either type a new access token or remove the stored one, not both."
        ]
    }
    assert_no_secret(both, "EAAG-x")

    removed = post_wa(admin_client, wa.channel, remove_access_token=True, remove_app_secret=True)
    assert removed.status_code == 302
    wa.refresh_from_db()
    assert (wa.access_token, wa.app_secret, wa.verify_token) == ("", "", VERIFY_TOKEN)
    assert history(wa.channel) == [
        {"field": "WhatsApp · Access token", "before": "(hidden)", "after": "(none)"},
        {"field": "WhatsApp · App secret", "before": "(hidden)", "after": "(none)"},
    ]
    page = text(admin_client.get(details_url(wa.channel)))
    assert "No token is stored yet: replies cannot leave." in page
    assert "every delivery from Meta is refused until it is set" in page
    assert "Remove the stored token" not in page


def test_secrets_are_absent_from_an_invalid_post_and_from_a_test(admin_client, wa, graph):
    typed = {"access_token": "EAAG-typed-1", "app_secret": "typed-app-2", "verify_token": "v-3"}
    invalid = post_wa(admin_client, wa.channel, phone_number_id="12ab", **typed)
    assert invalid.status_code == 200
    assert "The phone number id is digits only" in text(invalid)
    assert text(invalid).count("What you typed is not shown again") == 3
    tested = post_wa(admin_client, wa.channel, "test_token", **typed)
    assert tested.status_code == 200
    for response in (invalid, tested):
        assert_no_secret(response, *typed.values())
    wa.refresh_from_db()
    assert (wa.phone_number_id, wa.access_token) == (PHONE_NUMBER_ID, ACCESS_TOKEN)
    assert not wa.channel.settings_changes.exists()


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"phone_number_id": ""}, "phone_number_id", "Give the phone number id"),
        ({"phone_number_id": "+47 900"}, "phone_number_id", "digits only"),
        ({"api_base_url": "ftp://graph.example"}, "api_base_url", "Give the API's address"),
        ({"api_base_url": "graph dot facebook"}, "api_base_url", "Enter a valid URL."),
        ({"verify_token": ""}, "verify_token", "Type a verify token"),
        ({"access_token": "EAAG with spaces"}, "access_token", "A token has no spaces"),
        ({"templates": "follow_up"}, "templates", "Line 1: give the name and the language"),
        ({"templates": "Follow Up | en_US"}, "templates", "is not a template name"),
        ({"templates": "follow_up | English"}, "templates", "is not a language code"),
        ({"templates": "a | en\na | nb"}, "templates", "The template a is listed twice."),
        ({"media_hosts": "https://cdn.example"}, "media_hosts", "“https://cdn.example” is not"),
    ],
)
def test_refusals_are_field_errors_and_nothing_is_written(
    admin_client, bare, changes, field, message
):
    valid = {"phone_number_id": "123", "verify_token": "verify-token-1"}
    response = post_wa(admin_client, bare, **{**valid, **changes})
    assert response.status_code == 200
    errors = panel_in(response, "whatsapp").form.errors
    assert list(errors) == [field]
    assert message in " ".join(errors[field])
    assert message in text(response)
    assert "Nothing was saved." in text(response)
    assert not WhatsAppSettings.objects.exists()  # not even the row
    assert not ChannelSettingsChange.objects.exists()


def test_saving_nothing_says_so_and_records_nothing(admin_client, wa):
    wa.templates = [{"name": "note", "language": "nb", "text": "Hei!\nSvar her."}]
    wa.media_hosts = ["a.example", "lookaside.fbsbx.com"]
    wa.save()
    form = panel_in(admin_client.get(details_url(wa.channel)), "whatsapp").form
    crlf = {name: form[name].value().replace("\n", "\r\n") for name in ("media_hosts",)}
    response = post_wa(admin_client, wa.channel, **crlf)  # as browsers post a textarea
    assert response.status_code == 302
    assert "WhatsApp settings: nothing changed." in text(admin_client.get(details_url(wa.channel)))
    assert not wa.channel.settings_changes.exists()
    wa.refresh_from_db()
    assert wa.templates == [{"name": "note", "language": "nb", "text": "Hei!\nSvar her."}]


def test_a_changed_template_text_shows_which_line_changed(wa):
    templates = [*wa.templates]
    templates[0] = {**templates[0], "text": "New words."}
    save_whatsapp_settings(channel=wa.channel, data={"templates": templates}, actor=None)
    [change] = history(wa.channel)
    assert change["field"] == "WhatsApp · Approved templates"
    assert change["before"] == change["after"] == "follow_up (en_US), hello_world (en_US)"
    assert change["added"] == ["follow_up | en_US | New words."]
    assert change["removed"] == ["follow_up | en_US | Hello, we have news. Reply to go on."]


def test_templates_as_lines_round_trip_with_line_breaks():
    templates = [
        {"name": "follow_up", "language": "en_US", "text": "Hello.\nReply | to go on."},
        {"name": "hello_world", "language": "en_US"},
    ]
    lines = templates_text(templates)
    assert lines == "follow_up | en_US | Hello.\\nReply | to go on.\nhello_world | en_US"
    assert parse_templates(lines) == templates
    assert parse_templates(" a_b |en| \n\n") == [{"name": "a_b", "language": "en"}]


def test_the_service_refuses_other_channels_and_unknown_fields(bare):
    email = ChannelFactory(kind=Channel.Kind.TEAM_EMAIL)
    with pytest.raises(Exception, match="Only a WhatsApp channel"):
        save_whatsapp_settings(channel=email, data={"phone_number_id": "1"}, actor=None)
    with pytest.raises(TypeError, match="cannot change channel"):
        save_whatsapp_settings(channel=bare, data={"channel": email}, actor=None)
    assert not WhatsAppSettings.objects.exists()


# ---------------------------------------------------------------------------------------
# Test the token (the recording Graph API stand-in)
# ---------------------------------------------------------------------------------------


def test_a_good_token_names_the_number_and_nothing_is_saved(admin_client, wa, graph):
    response = post_wa(admin_client, wa.channel, "test_token", phone_number_id=PHONE_NUMBER_ID)
    assert response.status_code == 200
    result = panel_in(response, "whatsapp").results["test_token"]
    assert (result.ok, result.message) == (
        True,
        "Meta answered: the number +47 900 00 000 (display name Acme Support) is reachable "
        "with this token.",
    )
    assert result.message in text(response)
    [asked] = graph.numbers_asked
    assert (asked.method, asked.path) == ("GET", f"/v21.0/{PHONE_NUMBER_ID}")
    assert asked.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"  # the stored one
    assert_no_secret(response)
    assert not wa.channel.settings_changes.exists()


def test_the_typed_values_are_tested_and_kept_on_the_page_unsaved(admin_client, wa, graph):
    graph.number_answer = (
        401,
        {
            "error": {
                "message": "Invalid OAuth access token - Cannot parse access token",
                "type": "OAuthException",
                "code": 190,
                "fbtrace_id": "AbCdEf",
            }
        },
    )
    response = post_wa(
        admin_client, wa.channel, "test_token", access_token="EAAG-typo", templates="x"
    )
    assert response.status_code == 200
    assert (
        "Meta refused the token: (#190) Invalid OAuth access token - Cannot parse access token"
        in text(response)
    )
    assert graph.numbers_asked[0].headers["Authorization"] == "Bearer EAAG-typo"
    assert_no_secret(response, "EAAG-typo")
    assert "Nothing was saved." not in text(response)  # the answer speaks, not the summary
    wa.refresh_from_db()
    assert wa.access_token == ACCESS_TOKEN


def test_a_token_meta_quotes_back_is_masked(admin_client, wa, graph):
    typed = "EAAGmalformed0000"
    graph.number_answer = (
        400,
        {"error": {"message": f"Malformed access token {typed}", "code": 190}},
    )
    response = post_wa(admin_client, wa.channel, "test_token", access_token=typed)
    assert "Meta refused the token: (#190) Malformed access token ••••" in text(response)
    assert_no_secret(response, typed)


def test_an_unknown_phone_number_id_is_named(admin_client, wa, graph):
    response = post_wa(admin_client, wa.channel, "test_token", phone_number_id="999")
    assert (
        "Meta knows no phone number 999 that this token may see (check the id in WhatsApp "
        "Manager › Phone numbers): (#100) Unsupported get request."
    ) in text(response)
    assert graph.requests[-1].path == "/v21.0/999"


def test_other_refusals_are_quoted_with_the_status(wa, graph):
    graph.number_answer = (503, {"error": {"message": "(#2) Service temporarily unavailable"}})
    result = check_token(stored=wa, api_base_url=graph.url, phone_number_id=PHONE_NUMBER_ID)
    assert result.message == (
        f"127.0.0.1:{graph.port} answered HTTP 503: (#2) Service temporarily unavailable"
    )
    graph.number_answer = (200, {"id": PHONE_NUMBER_ID})
    result = check_token(stored=wa, api_base_url=graph.url, phone_number_id=PHONE_NUMBER_ID)
    assert result.ok is False
    assert "answered, but not with a phone number" in result.message


def test_the_stored_token_goes_only_to_the_saved_address(admin_client, wa, graph):
    """An admin who may not read the token cannot send it elsewhere with a test."""
    with meta_server() as elsewhere:
        response = post_wa(admin_client, wa.channel, "test_token", api_base_url=elsewhere.url)
        assert elsewhere.requests == []
        assert (
            f"The stored token is only sent to the saved API base URL ({graph.url}): type the "
            f"token to test it at {elsewhere.url}."
        ) in text(response)
        typed = post_wa(
            admin_client, wa.channel, "test_token", api_base_url=elsewhere.url, access_token="t"
        )
        assert "is reachable with this token" in text(typed)
        assert [r.headers["Authorization"] for r in elsewhere.requests] == ["Bearer t"]
    assert graph.requests == []


def test_nothing_listening_is_no_answer(wa):
    port = free_port()
    result = check_token(
        stored=wa,
        api_base_url=f"http://127.0.0.1:{port}/v21.0",
        phone_number_id=PHONE_NUMBER_ID,
        typed_token="EAAG-t",
    )
    assert (result.ok, result.message) == (
        False,
        f"No answer from 127.0.0.1:{port}: connection refused.",
    )


def test_a_server_that_never_answers_times_out(wa, settings):
    settings.WHATSAPP_HTTP_TIMEOUT_SECONDS = 0.3
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)  # accepts the connection, never says a word
        port = silent.getsockname()[1]
        result = check_token(
            stored=None,
            api_base_url=f"http://127.0.0.1:{port}/v21.0",
            phone_number_id=PHONE_NUMBER_ID,
            typed_token="EAAG-t",
        )
    assert result.message == f"No answer from 127.0.0.1:{port}: nothing within 0.3 seconds."


def test_the_test_says_what_is_missing_first(admin_client, bare, wa, graph):
    response = post_wa(admin_client, bare, "test_token", phone_number_id="123")
    assert "Type the access token first: none is stored." in text(response)
    response = post_wa(admin_client, bare, "test_token", phone_number_id="12 3")
    assert "Give the phone number id first" in text(response)
    response = post_wa(admin_client, bare, "test_token", api_base_url="not a url")
    assert "Give the API base URL first" in text(response)
    response = post_wa(admin_client, wa.channel, "test_token", remove_access_token=True)
    assert "Type a token to test: the stored one is to be removed." in text(response)
    assert graph.requests == []
    assert not WhatsAppSettings.objects.filter(channel=bare).exists()
