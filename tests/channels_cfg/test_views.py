"""The channel settings pages through the test client (R6, R7–R9, R14–R20): who may see
them, the list with its one-line routing summaries, connecting and editing a channel, the
Automation tab (save, refusals, conflict, JavaScript-free "Add hours") and the audit log."""

import re
from html import unescape

import pytest
from django.test import Client
from django.urls import reverse

from channels_cfg.models import AssignMode, ChannelAutomation, ChannelSettingsChange
from channels_cfg.services import save_automation
from channels_cfg.views import SAVED
from helpdesk.models import Channel, TeamMembership
from tests.channels_cfg.test_forms import browser_post
from tests.factories import (
    AgentFactory,
    ChannelAutomationFactory,
    ChannelFactory,
    OpeningHoursFactory,
    SeatFactory,
    SkillFactory,
    TeamFactory,
    TeamMembershipFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db
Kind = Channel.Kind


@pytest.fixture
def channel():
    return ChannelAutomationFactory(channel=ChannelFactory(name="Support inbox")).channel


def automation_url(channel) -> str:
    return reverse("channels_cfg:automation", args=[channel.pk])


def shown_form(client, channel):
    """The Automation form as the page shows it (rebuilt from the page's own context)."""
    response = client.get(automation_url(channel))
    assert response.status_code == 200
    return response.context["form"]


def post_automation(client, channel, files=None, **changes):
    data = browser_post(shown_form(client, channel), **changes)
    if files:
        data.update(files)
    return client.post(automation_url(channel), data)


def text(response) -> str:
    """The visible text of the page, on one line."""
    body = re.sub(r"<(script|template)\b.*?</\1>", "", response.content.decode(), flags=re.S)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", body))).replace(" :", ":")


def html(response) -> str:
    return response.content.decode()


def breadcrumb(response) -> list[str]:
    html = response.content.decode()
    trail = re.search(r'<ol class="breadcrumb[^"]*">(.*?)</ol>', html, re.S).group(1)
    items = re.findall(r"<li[^>]*>(.*?)</li>", trail, re.S)
    return [unescape(re.sub(r"<[^>]+>", "", item).strip()) for item in items]


# ---------------------------------------------------------------------------------------
# Who may see the pages (R6)
# ---------------------------------------------------------------------------------------

PAGES = [
    ("get", "channels_cfg:list", False),
    ("get", "channels_cfg:create", False),
    ("get", "channels_cfg:details", True),
    ("get", "channels_cfg:automation", True),
    ("post", "channels_cfg:deactivate", True),
    ("post", "channels_cfg:activate", True),
    ("post", "routing:preview", True),
]


def url_of(name, needs_channel, channel):
    return reverse(name, args=[channel.pk] if needs_channel else [])


@pytest.mark.parametrize(("method", "name", "needs_channel"), PAGES)
def test_r6_account_admins_and_superadmins_see_the_settings(
    method, name, needs_channel, channel, admin_user, superadmin
):
    for user in (admin_user, superadmin):
        client = Client()
        client.force_login(user)
        response = getattr(client, method)(url_of(name, needs_channel, channel))
        assert response.status_code in (200, 302), (user, response.status_code)
        if response.status_code == 302:
            assert "/login/" not in response["Location"]


@pytest.mark.parametrize(("method", "name", "needs_channel"), PAGES)
def test_r6_agents_and_others_get_403(method, name, needs_channel, channel, agent, outsider):
    for user in (agent, outsider):
        client = Client()
        client.force_login(user)
        response = getattr(client, method)(url_of(name, needs_channel, channel))
        assert response.status_code == 403
        assert "Only account admins can change channel settings" in text(response)
    channel.refresh_from_db()
    assert channel.is_active  # the POSTs changed nothing


def test_r6_staff_without_the_permission_gets_403(channel):
    staff = UserFactory(is_staff=True)
    client = Client()
    client.force_login(staff)
    assert client.get(reverse("channels_cfg:list")).status_code == 403


@pytest.mark.parametrize(("method", "name", "needs_channel"), PAGES)
def test_r6_anonymous_visitors_are_sent_to_the_login_page(method, name, needs_channel, channel):
    url = url_of(name, needs_channel, channel)
    response = getattr(Client(), method)(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_deactivate_needs_post(admin_client, channel):
    response = admin_client.get(reverse("channels_cfg:deactivate", args=[channel.pk]))
    assert response.status_code == 405


def test_unknown_channel_is_404(admin_client):
    assert admin_client.get(reverse("channels_cfg:automation", args=[999999])).status_code == 404


# ---------------------------------------------------------------------------------------
# The list
# ---------------------------------------------------------------------------------------


def test_r14_the_list_shows_kind_address_state_and_a_routing_summary(admin_client, agent):
    support = TeamFactory(name="Support")
    TeamMembershipFactory(team=support, user=agent)
    ChannelAutomationFactory(
        channel=ChannelFactory(name="Inbox", address="help@acme.example"),
        assign_mode=AssignMode.SPECIFIC,
        teams=[support],
    )
    ChannelAutomationFactory(
        channel=ChannelFactory(name="Web form", kind=Kind.FORM, is_active=False),
        assign_mode=AssignMode.TEAM_ONLY,
        teams=[support],
    )
    ChannelFactory(name="Chat", kind=Kind.CHATFLOW)  # no automation saved yet
    response = admin_client.get(reverse("channels_cfg:list"))
    page = text(response)
    assert breadcrumb(response) == [
        "Settings",
        "Inbox & Help desk",
        "Help desk",
        "Ticket sources and routing",
        "Channels",
    ]
    summaries = re.findall(r"data-summary>([^<]*)<", response.content.decode())
    assert summaries == [
        "None: tickets wait in Unassigned",
        "Load balanced to Support (main members), available users only",
        "Team only: Support, no owner",
    ]
    assert "help@acme.example" in page
    assert "Inactive" in page
    assert "Web form" in page


def test_the_list_costs_a_fixed_number_of_queries(
    admin_client, agent, django_assert_max_num_queries
):
    for i in range(8):
        ChannelAutomationFactory(
            channel=ChannelFactory(kind=Kind.CALLING if i % 2 else Kind.TEAM_EMAIL),
            assign_mode=AssignMode.SPECIFIC,
            users=[agent, AgentFactory()],
            teams=[TeamFactory()],
        )
    admin_client.get(reverse("channels_cfg:list"))  # warm the permission cache of the session
    with django_assert_max_num_queries(12) as captured:
        response = admin_client.get(reverse("channels_cfg:list"))
    assert response.status_code == 200
    assert len(response.context["channels"]) == 8
    few = len(captured)
    ChannelAutomationFactory(assign_mode=AssignMode.SPECIFIC, users=[AgentFactory()])
    with django_assert_max_num_queries(few):
        response = admin_client.get(reverse("channels_cfg:list"))
    assert response.status_code == 200
    assert len(response.context["channels"]) == 9


def test_the_empty_list_says_what_to_do(admin_client):
    response = admin_client.get(reverse("channels_cfg:list"))
    assert "No channels are connected yet." in text(response)
    assert reverse("channels_cfg:create") in html(response)


# ---------------------------------------------------------------------------------------
# Connect, details, deactivate
# ---------------------------------------------------------------------------------------


def test_connecting_a_channel(admin_client, admin_user):
    response = admin_client.post(
        reverse("channels_cfg:create"),
        {"kind": "form", "name": "Contact form", "address": "forms/contact", "is_active": "on"},
    )
    channel = Channel.objects.get(name="Contact form")
    assert response.status_code == 302
    assert response["Location"] == automation_url(channel)
    assert channel.automation.assign_mode == AssignMode.NONE
    assert channel.settings_changes.get().actor == admin_user


def test_connecting_a_channel_with_errors_shows_them(admin_client):
    response = admin_client.post(reverse("channels_cfg:create"), {"kind": "pigeon", "name": ""})
    assert response.status_code == 200
    assert response.context["form"].errors.keys() == {"kind", "name"}
    assert not Channel.objects.exists()


def test_editing_the_details_is_audited_and_shown(admin_client, channel):
    url = reverse("channels_cfg:details", args=[channel.pk])
    response = admin_client.post(url, {"name": "Help inbox", "address": "help@x.example"})
    assert response.status_code == 302
    channel.refresh_from_db()
    assert (channel.name, channel.is_active) == ("Help inbox", False)
    page = text(admin_client.get(url))
    assert "Support inbox → Help inbox" in page
    assert "Yes → No" in page


def test_deactivating_from_the_list(admin_client, channel):
    response = admin_client.post(reverse("channels_cfg:deactivate", args=[channel.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("channels_cfg:list")
    channel.refresh_from_db()
    assert channel.is_active is False
    response = admin_client.post(
        reverse("channels_cfg:activate", args=[channel.pk]), {"next": "details"}
    )
    assert response["Location"] == reverse("channels_cfg:details", args=[channel.pk])
    channel.refresh_from_db()
    assert channel.is_active is True


# ---------------------------------------------------------------------------------------
# The Automation tab
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(Kind))
def test_r14_r18_r19_the_automation_tab_renders_for_every_kind(admin_client, kind):
    channel = ChannelFactory(kind=kind)
    response = admin_client.get(automation_url(channel))
    assert 'id="automation-form"' in html(response)
    assert 'id="cs-group-rules"' in html(response)
    page = text(response)
    if kind == Kind.CALLING:
        assert "Opening hours" in page and "+ Add hours" in page
        assert "Audio message for unanswered calls" in page
        assert "Voicemail message" in page
    elif kind in (Kind.CHATFLOW, Kind.CUSTOM_CHAT):
        assert "Assign conversations automatically" in page
    else:
        assert "Assign incoming tickets to" in page
        assert ("Customer agent" in page) == (kind != Kind.FORM)


def test_r20_saving_the_automation(admin_client, channel, agent, admin_user):
    response = post_automation(admin_client, channel, assign_mode="specific", users=[agent])
    assert response.status_code == 302
    automation = ChannelAutomation.objects.get(channel=channel)
    assert automation.assign_mode == AssignMode.SPECIFIC
    assert list(automation.users.all()) == [agent]
    assert automation.version == 2
    page = text(admin_client.get(response["Location"]))
    assert str(SAVED) in page
    # The audit log is on the page: who, what, before → after.
    assert "Anna Admin" in page
    assert "Assign incoming tickets to:" in page
    assert "None → Specific users and teams" in page
    assert "+ Ada Agent" in page


def test_saving_nothing_says_so(admin_client, channel):
    response = post_automation(admin_client, channel)
    assert response.status_code == 302
    assert "Nothing changed." in text(admin_client.get(response["Location"]))
    assert not ChannelSettingsChange.objects.exists()


def test_r7_a_refused_user_is_a_field_error_and_nothing_is_saved(admin_client, channel):
    unseated = AgentFactory(seat=False, first_name="Nora", last_name="Noseat")
    response = post_automation(admin_client, channel, assign_mode="specific", users=[unseated])
    assert response.status_code == 200
    page = text(response)
    assert "Nothing was saved." in page
    assert "Nora Noseat has no helpdesk seat" in page
    assert 'href="#div_id_users"' in html(response)
    assert ChannelAutomation.objects.get(channel=channel).assign_mode == AssignMode.NONE


def test_r7_r8_refused_users_are_shown_disabled_with_the_reason(admin_client, channel, agent):
    AgentFactory(seat=False, first_name="Nora", last_name="Noseat")
    no_access = UserFactory(first_name="Sid", last_name="Seated")
    SeatFactory(user=no_access)
    html = admin_client.get(automation_url(channel)).content.decode()
    nora = re.search(
        r'<input[^>]*name="users"[^>]*>\s*<label[^>]*>Nora Noseat</label>\s*'
        r'<span class="cs-pick-reason"[^>]*>([^<]*)</span>',
        html,
    )
    assert nora is not None
    assert "disabled" in nora.group(0)
    assert nora.group(1) == "no helpdesk seat"
    sid = re.search(
        r'<input[^>]*name="users"[^>]*>\s*<label[^>]*>Sid Seated</label>\s*'
        r'<span class="cs-pick-reason"[^>]*>([^<]*)</span>',
        html,
    )
    assert sid is not None and "disabled" in sid.group(0)
    assert sid.group(1) == "no ticket access"
    ada = re.search(r'<input[^>]*name="users"[^>]*>\s*<label[^>]*>Ada Agent</label>', html)
    assert ada is not None and "disabled" not in ada.group(0)


def test_r14_teams_without_a_seated_member_are_disabled_for_team_only(admin_client, channel):
    TeamFactory(name="Night shift")
    html = admin_client.get(automation_url(channel)).content.decode()
    team_only = re.search(
        r'<input[^>]*name="team"[^>]*>\s*<label[^>]*>Night shift</label>\s*'
        r'<span class="cs-pick-detail">[^<]*</span>\s*<span class="cs-pick-reason"[^>]*>'
        r"([^<]*)</span>",
        html,
    )
    assert team_only is not None and "disabled" in team_only.group(0)
    assert team_only.group(1) == "no member with a seat"
    specific = re.search(r'<input[^>]*name="teams"[^>]*>\s*<label[^>]*>Night shift</label>', html)
    assert specific is not None and "disabled" not in specific.group(0)


def test_r14_team_only_without_a_team_is_a_field_error(admin_client, channel):
    response = post_automation(admin_client, channel, assign_mode="team_only")
    assert response.status_code == 200
    assert response.context["form"].errors["team"] == ["Choose exactly one team."]


def test_r20_a_second_admin_is_told_the_settings_changed_meanwhile(
    admin_client, channel, agent, superadmin
):
    """Both admins opened the page at version 1; the other saved first."""
    mine = browser_post(shown_form(admin_client, channel), assign_mode="none")
    save_automation(
        automation=channel.automation,
        data={"assign_mode": AssignMode.SPECIFIC, "users": [agent]},
        actor=superadmin,
        expected_version=1,
    )
    mine.update(assign_mode="contact_owner")
    response = admin_client.post(automation_url(channel), mine)
    assert response.status_code == 409
    page = text(response)
    assert "These settings changed while you were editing them." in page
    assert "Sam Super changed" in page
    assert "None → Specific users and teams" in page
    form = response.context["form"]
    assert form["assign_mode"].value() == AssignMode.SPECIFIC  # the current settings
    assert form["version"].value() == 2
    automation = ChannelAutomation.objects.get(channel=channel)
    assert (automation.assign_mode, automation.version) == (AssignMode.SPECIFIC, 2)


def test_add_hours_without_javascript_adds_a_row_and_saves_nothing(admin_client):
    automation = ChannelAutomationFactory(channel=ChannelFactory(kind=Kind.CALLING))
    OpeningHoursFactory(automation=automation)
    data = browser_post(shown_form(admin_client, automation.channel), add="hours")
    assert data["hours-TOTAL_FORMS"] == "2"
    response = admin_client.post(automation_url(automation.channel), data)
    assert response.status_code == 200
    assert len(response.context["form"].hours.forms) == 3
    assert "Nothing was saved." not in text(response)
    automation.refresh_from_db()
    assert automation.version == 1


def test_add_rule_without_javascript(admin_client, channel):
    SkillFactory()
    data = browser_post(shown_form(admin_client, channel), add="rules")
    response = admin_client.post(automation_url(channel), data)
    assert len(response.context["form"].rules.forms) == 2


def test_r19_calling_save_with_hours_through_the_page(admin_client, agent):
    channel = ChannelFactory(kind=Kind.CALLING)
    data = browser_post(
        shown_form(admin_client, channel),
        call_routing=True,
        users=[agent],
        opening_hours_time_zone="Europe/Oslo",
    )
    data.update({"hours-0-weekday": "0", "hours-0-start": "08:00", "hours-0-end": "16:00"})
    response = admin_client.post(automation_url(channel), data)
    assert response.status_code == 302, response.context["form"].errors
    automation = ChannelAutomation.objects.get(channel=channel)
    assert automation.assign_mode == AssignMode.SPECIFIC
    assert [str(h) for h in automation.opening_hours.all()] == ["Monday 08:00–16:00"]


def test_the_history_shows_additional_members_too(admin_client, channel, agent):
    """A smoke test of the history partial with an M2M removal."""
    team = TeamFactory(name="Billing")
    TeamMembershipFactory(team=team, user=agent, role=TeamMembership.Role.ADDITIONAL)
    post_automation(admin_client, channel, assign_mode="specific", teams=[team])
    post_automation(admin_client, channel, assign_mode="specific", users=[agent], teams=[])
    page = text(admin_client.get(automation_url(channel)))
    assert "− Billing" in page and "+ Ada Agent" in page


def test_the_automation_page_costs_the_same_with_more_users_and_teams(
    admin_client, channel, django_assert_max_num_queries
):
    admin_client.get(automation_url(channel))
    with django_assert_max_num_queries(40) as captured:
        response = admin_client.get(automation_url(channel))
    assert response.status_code == 200
    offered = offered_users_and_teams(response)
    few = len(captured)
    for _ in range(10):
        TeamMembershipFactory(team=TeamFactory(), user=AgentFactory())
        AgentFactory(seat=False)
    with django_assert_max_num_queries(few):
        response = admin_client.get(automation_url(channel))
    assert response.status_code == 200
    users, teams = offered_users_and_teams(response)
    assert (len(users), len(teams)) == (len(offered[0]) + 20, len(offered[1]) + 10)


def offered_users_and_teams(response) -> tuple[dict, dict]:
    fields = response.context["form"].fields
    return fields["users"].objects, fields["teams"].objects
