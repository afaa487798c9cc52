"""The superadmin defaults page per audience (R26): everyone, a team (`?team=<id>`) or a user
(`?user=<id>`), picked without JS; the grid shows what the audience inherits and from where;
save and reset touch that audience only; the audiences that have defaults are listed. 403
for everyone but superadmins, 404 for a bad audience, a fixed number of queries whatever the
number of teams and users. The personal grid names the new sources (R27)."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from notifications import services
from notifications.catalog import Event, Medium
from notifications.models import DefaultPreference
from notifications.services import Audience
from tests.factories import AgentFactory, TeamFactory, TeamMembershipFactory
from tests.notifications.test_views import grid_post, row_html, signed_in

pytestmark = pytest.mark.django_db

DEFAULTS, SETTINGS = "/notifications/defaults/", "/notifications/settings/"
UNASSIGNED, ASSIGNED, REPLY = Event.TICKET_UNASSIGNED, Event.ASSIGNED_TO_ME, Event.CUSTOMER_REPLY


@pytest.fixture
def support(db):
    return TeamFactory(name="Support")


@pytest.fixture
def member(support):
    user = AgentFactory(first_name="Kari", last_name="Nordmann")
    TeamMembershipFactory(team=support, user=user)
    return user


def rows_of(**whom) -> set[tuple[str, str, bool]]:
    return set(DefaultPreference.objects.filter(**whom).values_list("event", "medium", "enabled"))


# ---------------------------------------------------------------------------------------
# Showing an audience
# ---------------------------------------------------------------------------------------


def test_r26_team_page_shows_its_own_rows_and_what_it_inherits(superadmin, support):
    services.update_default_preferences(actor=superadmin, changes={(ASSIGNED, Medium.EMAIL): False})
    services.update_default_preferences(
        actor=superadmin, changes={(UNASSIGNED, Medium.EMAIL): True}, team=support
    )
    content = signed_in(superadmin).get(f"{DEFAULTS}?team={support.pk}").content.decode()
    assert "For team Support" in content
    own = row_html(content, UNASSIGNED)
    assert "Default for team Support" in own and "Inherited" not in own
    assert f'value="{UNASSIGNED}"' in own  # its own row can be removed
    assert own.count("checked") == 2
    assert "Inherited · Default for everyone" in row_html(content, ASSIGNED)
    assert "Inherited · Built-in default" in row_html(content, REPLY)
    assert f'action="{DEFAULTS}?team={support.pk}"' in content


def test_r26_user_page_shows_the_main_team_default_they_inherit(superadmin, member, support):
    services.update_default_preferences(
        actor=superadmin, changes={(UNASSIGNED, Medium.EMAIL): True}, team=support
    )
    services.update_default_preferences(
        actor=superadmin, changes={(ASSIGNED, Medium.EMAIL): False}, user=member
    )
    services.update_preferences(user=member, changes={(REPLY, Medium.EMAIL): False})
    content = signed_in(superadmin).get(f"{DEFAULTS}?user={member.pk}").content.decode()
    assert "For Kari Nordmann" in content
    assert "Inherited · Default for team Support" in row_html(content, UNASSIGNED)
    assert "Default for Kari Nordmann" in row_html(content, ASSIGNED)
    assert "Kari Nordmann made their own choice on 1 event" in content


def test_r26_the_picker_lists_teams_and_users_and_shows_the_one_picked(superadmin, member, support):
    client = signed_in(superadmin)
    content = client.get(DEFAULTS).content.decode()
    assert f'<option value="team:{support.pk}">Support</option>' in content
    assert f'<option value="user:{member.pk}">Kari Nordmann</option>' in content
    assert "For everyone" in content
    picked = client.get(f"{DEFAULTS}?audience=team:{support.pk}").content.decode()
    assert "For team Support" in picked
    assert f'<option value="team:{support.pk}" selected>Support</option>' in picked
    assert (
        "For Kari Nordmann" in client.get(f"{DEFAULTS}?audience=user:{member.pk}").content.decode()
    )


def test_r26_the_audiences_with_defaults_are_listed_and_linked(superadmin, member, support):
    client = signed_in(superadmin)
    assert "none yet" in client.get(DEFAULTS).content.decode()
    changes = {(UNASSIGNED, Medium.EMAIL): True, (ASSIGNED, Medium.EMAIL): False}
    services.update_default_preferences(actor=superadmin, changes=changes, team=support)
    services.update_default_preferences(
        actor=superadmin, changes={(REPLY, Medium.IN_APP): False}, user=member
    )
    content = client.get(f"{DEFAULTS}?team={support.pk}").content.decode()
    links = re.findall(r'<a class="hd-audience-link" href="([^"]+)"([^>]*)>([^<]+)</a>', content)
    assert [(href, text) for href, _, text in links] == [
        (f"{DEFAULTS}?team={support.pk}", "Team Support: 2 rows"),
        (f"{DEFAULTS}?user={member.pk}", "Kari Nordmann: 1 row"),
    ]
    assert 'aria-current="page"' in links[0][1]


# ---------------------------------------------------------------------------------------
# Saving and resetting one audience
# ---------------------------------------------------------------------------------------


def test_r26_saving_a_team_page_sets_that_team_only(superadmin, support):
    client = signed_in(superadmin)
    url = f"{DEFAULTS}?team={support.pk}"
    current = services.default_preferences(Audience(team=support))
    response = client.post(url, grid_post(current, {(UNASSIGNED, Medium.EMAIL): True}))
    assert response.status_code == 302 and response.url == url
    assert rows_of(team=support) == {(UNASSIGNED, Medium.IN_APP, True), (UNASSIGNED, "email", True)}
    assert DefaultPreference.objects.count() == 2  # nothing for everyone, nobody else
    assert "Defaults for team Support saved." in client.get(url).content.decode()


def test_r26_saving_a_user_page_sets_that_user_only(superadmin, member):
    url = f"{DEFAULTS}?user={member.pk}"
    current = services.default_preferences(Audience(user=member))
    signed_in(superadmin).post(url, grid_post(current, {(ASSIGNED, Medium.EMAIL): False}))
    assert rows_of(user=member) == {(ASSIGNED, Medium.IN_APP, True), (ASSIGNED, "email", False)}
    assert DefaultPreference.objects.count() == 2
    assert services.effective_preferences(member)[(ASSIGNED, "email")].enabled is False


def test_r26_reset_on_a_team_page_removes_that_teams_rows_only(superadmin, member, support):
    changes = {(UNASSIGNED, Medium.EMAIL): True, (ASSIGNED, Medium.EMAIL): False}
    for whom in ({}, {"team": support}, {"user": member}):
        services.update_default_preferences(actor=superadmin, changes=changes, **whom)
    client = signed_in(superadmin)
    url = f"{DEFAULTS}?team={support.pk}"
    assert client.post(url, {"reset": UNASSIGNED}).url == url
    assert {e for e, _, _ in rows_of(team=support)} == {ASSIGNED}
    client.post(url, {"reset": "all"})
    assert not rows_of(team=support)
    assert DefaultPreference.objects.filter(team=None, user=None).count() == 2
    assert DefaultPreference.objects.filter(user=member).count() == 2
    client.post(DEFAULTS, {"reset": "all"})
    assert set(DefaultPreference.objects.values_list("user_id", flat=True)) == {member.pk}


# ---------------------------------------------------------------------------------------
# Access and bad audiences
# ---------------------------------------------------------------------------------------


def test_r26_audience_pages_are_403_for_everyone_but_superadmins(
    agent, admin_user, outsider, member, support
):
    for user in (agent, admin_user, outsider, member):
        client = signed_in(user)
        for url in (f"{DEFAULTS}?team={support.pk}", f"{DEFAULTS}?user={member.pk}"):
            assert client.get(url).status_code == 403, (user, url)
            current = services.default_preferences()
            post = grid_post(current, {(UNASSIGNED, Medium.EMAIL): True})
            assert client.post(url, post).status_code == 403
            assert client.post(url, {"reset": "all"}).status_code == 403
    assert not DefaultPreference.objects.exists()


@pytest.mark.parametrize(
    "query",
    [
        "team=abc",
        "user=1.5",
        "team=-1",
        "team=999999",
        "user=999999",
        "team=99999999999999999999999",
        "team=²",
        "audience=team:abc",
        "audience=group:1",
        "audience=team",
        "team={team}&user={user}",
        "audience=team:{team}&user={user}",
    ],
)
def test_r26_a_bad_or_unknown_audience_is_404(query, superadmin, member, support):
    url = f"{DEFAULTS}?{query.format(team=support.pk, user=member.pk)}"
    client = signed_in(superadmin)
    assert client.get(url).status_code == 404
    assert client.post(url, {"reset": "all"}).status_code == 404


# ---------------------------------------------------------------------------------------
# Query counts
# ---------------------------------------------------------------------------------------


def page_queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def add_teams_and_users(superadmin, n: int) -> None:
    for _ in range(n):
        team = TeamFactory()
        user = AgentFactory()
        TeamMembershipFactory(team=team, user=user)
        services.update_default_preferences(
            actor=superadmin, changes={(UNASSIGNED, Medium.EMAIL): True}, team=team
        )
        services.update_default_preferences(
            actor=superadmin, changes={(ASSIGNED, Medium.EMAIL): False}, user=user
        )
        services.update_preferences(user=user, changes={(REPLY, Medium.EMAIL): False})


def test_r26_defaults_page_costs_the_same_queries_for_3_or_30_teams_and_users(
    superadmin, member, support
):
    client = signed_in(superadmin)
    urls = [DEFAULTS, f"{DEFAULTS}?team={support.pk}", f"{DEFAULTS}?user={member.pk}"]
    add_teams_and_users(superadmin, 3)
    few = [page_queries(client, url) for url in urls]
    add_teams_and_users(superadmin, 27)
    assert [page_queries(client, url) for url in urls] == few
    content = client.get(DEFAULTS).content.decode()
    assert content.count('<option value="team:') == 31
    assert content.count('class="hd-audience-link"') == 60


# ---------------------------------------------------------------------------------------
# The personal grid (R27)
# ---------------------------------------------------------------------------------------


def test_r27_personal_grid_says_where_each_value_comes_from(superadmin, member, support):
    services.update_default_preferences(
        actor=superadmin, changes={(UNASSIGNED, Medium.EMAIL): True}, team=support
    )
    services.update_default_preferences(
        actor=superadmin, changes={(ASSIGNED, Medium.EMAIL): False}, user=member
    )
    services.update_default_preferences(actor=superadmin, changes={(REPLY, Medium.EMAIL): False})
    services.update_preferences(user=member, changes={(Event.REASSIGNED_AWAY, "email"): True})
    content = signed_in(member).get(SETTINGS).content.decode()
    assert "Inherited · Default for team Support" in row_html(content, UNASSIGNED)
    assert "Inherited · Default set for you" in row_html(content, ASSIGNED)
    assert "Inherited · Default for everyone" in row_html(content, REPLY)
    assert "Your choice" in row_html(content, Event.REASSIGNED_AWAY)
    assert "Inherited · Built-in default" in row_html(content, Event.TEAM_UNASSIGNED)
