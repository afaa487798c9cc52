"""Issue 12, "Settings": a calling channel's Twilio settings on its Details tab — saved
through `calls.settings_service` into the channel's history (the auth token only as
"changed"), the token never in the page, refusals as field errors with nothing written, and
the two URLs to give Twilio: a webhook signed with the saved token for the URL the page
shows is accepted (R19's calls reach the helpdesk)."""

import pytest
from django.test import Client

from calls.models import KIND, CallSettings
from calls.settings_service import save_call_settings
from channels_cfg.models import ChannelSettingsChange
from helpdesk.channel_kinds import policy_for
from helpdesk.models import Channel
from tests.calls.conftest import BASE, CALLER, TOKEN, Twilio, call_sid
from tests.factories import ChannelFactory
from tests.support.panels import browser_data, details_url, panel_in, text

pytestmark = pytest.mark.django_db


@pytest.fixture
def bare():
    """A calling channel without call settings yet."""
    return ChannelFactory(kind=Channel.Kind.CALLING, name="Phone line", address="")


def post_calls(client, channel, **changes):
    return client.post(details_url(channel), browser_data(client, channel, "calls", **changes))


def history(channel) -> list[dict]:
    return [c for entry in channel.settings_changes.all() for c in entry.changes]


def assert_no_token(response, *also: str) -> None:
    html = response.content.decode()
    for secret in (TOKEN, *also):
        assert secret not in html, f"{secret!r} is in the page"


# ---------------------------------------------------------------------------------------
# The page
# ---------------------------------------------------------------------------------------


def test_the_panel_shows_the_saved_settings_and_the_urls_for_twilio(admin_client, call_settings):
    response = admin_client.get(details_url(call_settings.channel))
    assert response.status_code == 200
    assert_no_token(response)
    page, html = text(response), response.content.decode()
    channel_id = call_settings.channel_id
    assert f"A call comes in {BASE}/calls/{channel_id}/incoming/" in page
    assert f"Call status changes {BASE}/calls/{channel_id}/status/" in page
    assert f'value="{BASE}"' in html and 'value="+4722000000"' in html
    assert "A token is stored and never shown. Leave blank to keep it." in page
    assert "Remove the stored token" in page
    for section in ("Twilio", "Public address", "Ringing and voicemail"):
        assert section in page


def test_a_channel_without_settings_shows_the_defaults_and_writes_nothing(
    admin_client, bare, settings
):
    response = admin_client.get(details_url(bare))
    form = panel_in(response, "calls").form
    assert (form["dial_timeout"].value(), form["voicemail_max_seconds"].value()) == (20, 120)
    page = text(response)
    assert f"A call comes in {settings.SITE_URL}/calls/{bare.pk}/incoming/" in page
    assert "None is stored yet: every webhook from Twilio is refused until it is set." in page
    assert "Remove the stored token" not in page
    assert not CallSettings.objects.exists()


@pytest.mark.parametrize("kind", [k for k in Channel.Kind if policy_for(k).intake != KIND])
def test_the_panel_is_absent_on_channels_that_take_no_calls(admin_client, kind):
    other = ChannelFactory(kind=kind)
    response = admin_client.get(details_url(other))
    assert response.status_code == 200
    assert 'id="panel-calls"' not in response.content.decode()
    refused = admin_client.post(details_url(other), {"panel": "calls", "calls-dial_timeout": "9"})
    assert refused.status_code == 400
    assert not CallSettings.objects.exists()


def test_only_account_admins_may_change_call_settings(call_settings, agent, outsider):
    for user in (agent, outsider):
        client = Client()
        client.force_login(user)
        response = client.post(
            details_url(call_settings.channel),
            {"panel": "calls", "calls-dial_timeout": "9", "calls-voicemail_max_seconds": "9"},
        )
        assert response.status_code == 403
        assert_no_token(response)
    call_settings.refresh_from_db()
    assert call_settings.dial_timeout == 20
    assert not call_settings.channel.settings_changes.exists()


def test_the_page_costs_a_fixed_number_of_queries(
    admin_client, admin_user, bare, django_assert_max_num_queries
):
    admin_client.get(details_url(bare))  # session, permissions cached
    with django_assert_max_num_queries(20) as captured:
        admin_client.get(details_url(bare))
    cost = len(captured)
    save_call_settings(channel=bare, data={"auth_token": "first-token"}, actor=admin_user)
    for n in range(20):
        save_call_settings(channel=bare, data={"dial_timeout": 10 + n}, actor=None)
    with django_assert_max_num_queries(cost):
        response = admin_client.get(details_url(bare))
    assert "Calls · Dial timeout: 28 seconds → 29 seconds" in text(response)


# ---------------------------------------------------------------------------------------
# Saving
# ---------------------------------------------------------------------------------------


def test_saving_creates_the_settings_and_records_each_change(admin_client, admin_user, bare):
    response = post_calls(
        admin_client,
        bare,
        auth_token=" 0123456789abcdef0123456789abcdef ",
        public_base_url="https://help.example.com/",
        proxy_prefix="helpdesk/",
        dial_timeout="30",
        caller_id="+47 22 00-00 00",
        voicemail_max_seconds="300",
    )
    assert response.status_code == 302
    saved = CallSettings.objects.get(channel=bare)
    assert (
        saved.auth_token,
        saved.public_base_url,
        saved.proxy_prefix,
        saved.dial_timeout,
        saved.caller_id,
        saved.voicemail_max_seconds,
    ) == (
        "0123456789abcdef0123456789abcdef",
        "https://help.example.com",
        "/helpdesk",
        30,
        "+4722000000",
        300,
    )
    entry = bare.settings_changes.get()
    assert (entry.section, entry.actor) == (ChannelSettingsChange.Section.DETAILS, admin_user)
    assert {c["field"]: (c["before"], c["after"]) for c in entry.changes} == {
        "Calls · Twilio auth token": ("(none)", "changed"),
        "Calls · Public base URL": ("(empty)", "https://help.example.com"),
        "Calls · Proxy prefix": ("(empty)", "/helpdesk"),
        "Calls · Dial timeout": ("20 seconds", "30 seconds"),
        "Calls · Caller id": ("(empty)", "+4722000000"),
        "Calls · Longest voicemail": ("120 seconds", "300 seconds"),
    }
    page = admin_client.get(details_url(bare))
    assert "The URLs changed: give Twilio the new ones shown below." in text(page)
    assert f"A call comes in https://help.example.com/helpdesk/calls/{bare.pk}/incoming/" in (
        text(page)
    )
    assert_no_token(page, "0123456789abcdef0123456789abcdef")


def test_twilio_signing_for_the_shown_url_with_the_saved_token_is_accepted(
    admin_client, call_settings
):
    """What the page says to give Twilio is what the webhooks check (R19: calls arrive)."""
    channel = call_settings.channel
    new_token = "fedcba9876543210fedcba9876543210"
    post_calls(admin_client, channel, auth_token=new_token, proxy_prefix="/helpdesk")
    page = admin_client.get(details_url(channel))
    shown = panel_in(page, "calls").extra["incoming_url"]
    assert shown == f"{BASE}/helpdesk/calls/{channel.pk}/incoming/"
    assert "Calls · Twilio auth token: (hidden) → changed" in text(page)

    call_settings.refresh_from_db()
    twilio = Twilio(call_settings)
    fields = {"CallSid": call_sid(), "From": CALLER, "To": "+4722000000", "CallStatus": "ringing"}
    old = twilio.post("incoming", fields, signed_url=shown, token=TOKEN)
    assert old.status == 403
    accepted = twilio.post("incoming", fields, signed_url=shown, token=new_token)
    assert accepted.status == 200
    assert accepted.xml.tag == "Response"


def test_a_blank_token_keeps_the_stored_one_and_removing_it(admin_client, call_settings):
    channel = call_settings.channel
    assert post_calls(admin_client, channel, dial_timeout="25").status_code == 302
    call_settings.refresh_from_db()
    assert (call_settings.auth_token, call_settings.dial_timeout) == (TOKEN, 25)
    assert [c["field"] for c in history(channel)] == ["Calls · Dial timeout"]

    both = post_calls(admin_client, channel, remove_auth_token=True, auth_token="new-token-1")
    assert panel_in(both, "calls").form.errors == {
        "remove_auth_token": ["Either type a new auth token or remove the stored one, not both."]
    }
    assert_no_token(both, "new-token-1")

    assert post_calls(admin_client, channel, remove_auth_token=True).status_code == 302
    call_settings.refresh_from_db()
    assert call_settings.auth_token == ""
    assert history(channel)[0] == {
        "field": "Calls · Twilio auth token",
        "before": "(hidden)",
        "after": "(none)",
    }
    assert "None is stored yet" in text(admin_client.get(details_url(channel)))


def test_the_token_is_absent_from_an_invalid_post(admin_client, call_settings):
    response = post_calls(
        admin_client, call_settings.channel, dial_timeout="2", auth_token="typed-token-9"
    )
    assert response.status_code == 200
    assert "Ensure this value is greater than or equal to 5." in text(response)
    assert "The token you typed is not shown again" in text(response)
    assert_no_token(response, "typed-token-9")
    call_settings.refresh_from_db()
    assert (call_settings.auth_token, call_settings.dial_timeout) == (TOKEN, 20)
    assert not call_settings.channel.settings_changes.exists()


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"dial_timeout": "3"}, "dial_timeout", "greater than or equal to 5"),
        ({"dial_timeout": "121"}, "dial_timeout", "less than or equal to 120"),
        ({"dial_timeout": None}, "dial_timeout", "This field is required."),
        ({"voicemail_max_seconds": "4000"}, "voicemail_max_seconds", "less than or equal"),
        ({"caller_id": "22 00 00 00"}, "caller_id", "Enter the number in E.164 form"),
        ({"proxy_prefix": "/help desk"}, "proxy_prefix", "A path such as /helpdesk"),
        ({"public_base_url": "ftp://help.example.com"}, "public_base_url", "with http://"),
        ({"public_base_url": "help.example.com"}, "public_base_url", "with http://"),
        ({"public_base_url": "https://help.example.com/?a=1"}, "public_base_url", "without ?"),
        ({"auth_token": "abc def"}, "auth_token", "An auth token has no spaces"),
    ],
)
def test_refusals_are_field_errors_and_nothing_is_written(
    admin_client, bare, changes, field, message
):
    response = post_calls(admin_client, bare, **changes)
    assert response.status_code == 200
    errors = panel_in(response, "calls").form.errors
    assert list(errors) == [field]
    assert message in " ".join(errors[field])
    assert message in text(response)
    assert "Nothing was saved." in text(response)
    assert not CallSettings.objects.exists()  # not even the row
    assert not ChannelSettingsChange.objects.exists()


def test_saving_nothing_says_so_and_records_nothing(admin_client, call_settings):
    response = post_calls(admin_client, call_settings.channel)
    assert response.status_code == 302
    page = text(admin_client.get(details_url(call_settings.channel)))
    assert "Call settings: nothing changed." in page
    assert not call_settings.channel.settings_changes.exists()


def test_the_service_refuses_other_channels_and_unknown_fields(bare):
    email = ChannelFactory(kind=Channel.Kind.TEAM_EMAIL)
    with pytest.raises(Exception, match="Only a calling channel"):
        save_call_settings(channel=email, data={"dial_timeout": 30}, actor=None)
    with pytest.raises(TypeError, match="cannot change channel"):
        save_call_settings(channel=bare, data={"channel": email}, actor=None)
    assert not CallSettings.objects.exists()
