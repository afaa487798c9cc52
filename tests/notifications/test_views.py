"""The notification pages: personal settings (R25), superadmin defaults (R26, 403 for
everyone else), the in-app list (open, mark read, mark all read) and the bell."""

import re

import pytest
from django.db import connection
from django.template import Context, Template
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from notifications import services
from notifications.catalog import Event, Medium, field_name
from notifications.models import DefaultPreference, Notification, Preference, QuietHours
from tests.factories import TicketFactory

pytestmark = pytest.mark.django_db

SETTINGS, DEFAULTS, LIST = "/notifications/settings/", "/notifications/defaults/", "/notifications/"
UNASSIGNED, ASSIGNED = Event.TICKET_UNASSIGNED, Event.ASSIGNED_TO_ME


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def grid_post(current: dict, changes: dict | None = None, **extra) -> dict:
    """What the page posts: every switch that is on, plus the values it showed."""
    data = {}
    for (event, medium), effective in current.items():
        name = field_name(event, medium)
        data[f"initial-{name}"] = str(effective.enabled)
        value = (changes or {}).get((event, medium), effective.enabled)
        if value:
            data[name] = "on"
    data.update(extra)
    return data


def row_html(content: str, event: str) -> str:
    match = re.search(rf'<tr data-event="{event}".*?</tr>', content, re.S)
    assert match, event
    return match.group(0)


def notification_for(user, **kwargs) -> Notification:
    kwargs.setdefault("ticket", TicketFactory(channel=None))
    kwargs.setdefault("event", ASSIGNED)
    kwargs.setdefault("text", "Something happened")
    return Notification.objects.create(recipient=user, **kwargs)


# ---------------------------------------------------------------------------------------
# Permissions
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", [SETTINGS, DEFAULTS, LIST])
def test_r25_r26_signed_out_visitors_are_sent_to_sign_in(client, url):
    response = client.get(url)
    assert response.status_code == 302 and response.url.startswith("/accounts/login/")


def test_r26_defaults_page_is_403_for_everyone_but_superadmins(
    agent, admin_user, outsider, superadmin
):
    for user in (agent, admin_user, outsider):
        client = signed_in(user)
        assert client.get(DEFAULTS).status_code == 403, user
        response = client.post(DEFAULTS, grid_post(services.default_preferences()))
        assert response.status_code == 403, user
    assert not DefaultPreference.objects.exists()
    assert signed_in(superadmin).get(DEFAULTS).status_code == 200


def test_r25_settings_and_list_need_ticket_access(outsider, agent, admin_user, superadmin):
    for url in (SETTINGS, LIST):
        assert signed_in(outsider).get(url).status_code == 403
        for user in (agent, admin_user, superadmin):
            assert signed_in(user).get(url).status_code == 200


def test_defaults_link_shows_only_to_superadmins(agent, superadmin):
    assert DEFAULTS not in signed_in(agent).get(SETTINGS).content.decode()
    assert DEFAULTS in signed_in(superadmin).get(SETTINGS).content.decode()


def test_state_changes_need_post_and_csrf(agent):
    n = notification_for(agent)
    client = signed_in(agent)
    assert client.get(f"/notifications/{n.pk}/open/").status_code == 405
    assert client.get("/notifications/read-all/").status_code == 405
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(agent)
    assert strict.post("/notifications/read-all/").status_code == 403
    assert strict.post(SETTINGS, {"reset": "all"}).status_code == 403
    n.refresh_from_db()
    assert n.read_at is None


# ---------------------------------------------------------------------------------------
# Personal settings (R25, R27)
# ---------------------------------------------------------------------------------------


def test_r25_settings_grid_shows_every_event_and_medium_inherited(agent):
    content = signed_in(agent).get(SETTINGS).content.decode()
    for event in Event.values:
        row = row_html(content, event)
        assert "Inherited · Built-in default" in row
        for medium in Medium.values:
            assert f'name="{field_name(event, medium)}"' in row
    assigned = row_html(content, ASSIGNED)
    assert assigned.count("checked") == 2  # in-app and email on by default


def test_r25_toggling_a_row_makes_it_my_choice_and_leaves_the_others_inherited(agent):
    client = signed_in(agent)
    current = services.effective_preferences(agent)
    response = client.post(SETTINGS, grid_post(current, {(ASSIGNED, Medium.EMAIL): False}))
    assert response.status_code == 302
    assert set(Preference.objects.values_list("event", "medium", "enabled")) == {
        (ASSIGNED, Medium.IN_APP, True),
        (ASSIGNED, Medium.EMAIL, False),
    }
    content = client.get(SETTINGS).content.decode()
    assert "Your choice" in row_html(content, ASSIGNED)
    assert "Use default" in row_html(content, ASSIGNED)
    assert "Inherited" in row_html(content, UNASSIGNED)


def test_r27_a_default_changed_meanwhile_is_not_taken_as_my_choice(agent, superadmin):
    shown = services.effective_preferences(agent)  # the page the agent has open
    services.update_default_preferences(actor=superadmin, changes={(UNASSIGNED, "email"): True})
    signed_in(agent).post(SETTINGS, grid_post(shown, {(ASSIGNED, Medium.EMAIL): False}))
    assert not Preference.objects.filter(event=UNASSIGNED).exists()
    assert services.effective_preferences(agent)[(UNASSIGNED, "email")].enabled is True


def test_r25_reset_to_defaults_one_row_or_all(agent):
    services.update_preferences(
        user=agent, changes={(ASSIGNED, "email"): False, (UNASSIGNED, "email"): True}
    )
    client = signed_in(agent)
    client.post(SETTINGS, {"reset": ASSIGNED})
    assert set(Preference.objects.values_list("event", flat=True)) == {UNASSIGNED}
    response = client.post(SETTINGS, {"reset": "all"}, follow=True)
    assert not Preference.objects.exists()
    assert "follow the defaults again" in response.content.decode()


def test_r26_r27_my_settings_show_the_superadmin_default_as_inherited(agent, superadmin):
    services.update_default_preferences(actor=superadmin, changes={(UNASSIGNED, "email"): True})
    row = row_html(signed_in(agent).get(SETTINGS).content.decode(), UNASSIGNED)
    assert "Inherited · Default for everyone" in row
    assert row.count("checked") == 2


def test_quiet_hours_are_saved_with_the_grid(agent):
    client = signed_in(agent)
    client.post(SETTINGS, grid_post(services.effective_preferences(agent), quiet_hours="on"))
    assert QuietHours.objects.get(user=agent).enabled
    assert not Preference.objects.exists()


# ---------------------------------------------------------------------------------------
# Superadmin defaults (R26)
# ---------------------------------------------------------------------------------------


def test_r26_superadmin_sets_and_resets_account_defaults(superadmin):
    client = signed_in(superadmin)
    current = services.default_preferences()
    client.post(DEFAULTS, grid_post(current, {(UNASSIGNED, Medium.EMAIL): True}))
    assert set(DefaultPreference.objects.values_list("event", "medium", "enabled")) == {
        (UNASSIGNED, Medium.IN_APP, True),
        (UNASSIGNED, Medium.EMAIL, True),
    }
    content = client.get(DEFAULTS).content.decode()
    assert "Default for everyone" in row_html(content, UNASSIGNED)
    assert "Built-in default" in row_html(content, ASSIGNED)
    assert "Inherited" not in content
    client.post(DEFAULTS, {"reset": "all"})
    assert not DefaultPreference.objects.exists()


def test_r26_superadmins_own_settings_stay_separate_from_the_defaults(superadmin):
    client = signed_in(superadmin)
    current = services.effective_preferences(superadmin)
    client.post(SETTINGS, grid_post(current, {(ASSIGNED, Medium.EMAIL): False}))
    assert not DefaultPreference.objects.exists()
    assert Preference.objects.filter(user=superadmin).count() == 2


# ---------------------------------------------------------------------------------------
# The list and the bell
# ---------------------------------------------------------------------------------------


def test_r24_list_shows_my_notifications_linking_to_their_tickets(agent, other_agent):
    mine = notification_for(agent, text="Otto assigned #1 to you")
    notification_for(other_agent, text="Not for Ada")
    content = signed_in(agent).get(LIST).content.decode()
    assert "Otto assigned #1 to you" in content and "Not for Ada" not in content
    assert f'action="/notifications/{mine.pk}/open/"' in content
    assert 'data-unread-count="1"' in content


def test_r24_opening_a_notification_marks_it_read_and_goes_to_the_ticket(agent):
    n = notification_for(agent)
    response = signed_in(agent).post(f"/notifications/{n.pk}/open/")
    assert response.status_code == 302
    assert response.url == reverse("ticket", args=[n.ticket_id])
    n.refresh_from_db()
    assert n.read_at is not None


def test_someone_elses_notification_is_404(agent, other_agent):
    n = notification_for(other_agent)
    assert signed_in(agent).post(f"/notifications/{n.pk}/open/").status_code == 404
    signed_in(agent).post(f"/notifications/{n.pk}/read/")
    n.refresh_from_db()
    assert n.read_at is None


def test_mark_read_and_mark_all_read(agent, other_agent):
    first, *_ = [notification_for(agent) for _ in range(3)]
    theirs = notification_for(other_agent)
    client = signed_in(agent)
    response = client.post(f"/notifications/{first.pk}/read/", {"show": "unread", "page": "1"})
    assert response.url == "/notifications/?show=unread&page=1"
    assert services.unread_count(agent) == 2
    client.post("/notifications/read-all/")
    assert services.unread_count(agent) == 0
    assert services.unread_count(other_agent) == 1
    assert Notification.objects.get(pk=theirs.pk).read_at is None


def test_unread_filter(agent):
    notification_for(agent, text="Still new")
    services.open_notification(user=agent, notification_id=notification_for(agent, text="Old").pk)
    content = signed_in(agent).get(LIST + "?show=unread").content.decode()
    assert "Still new" in content and "Old" not in content


def test_list_page_costs_the_same_queries_for_3_or_30_notifications(agent):
    client = signed_in(agent)

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(LIST).status_code == 200
        return len(ctx.captured_queries)

    for _ in range(3):
        notification_for(agent)
    few = queries()
    for _ in range(27):
        notification_for(agent)
    assert queries() == few


def test_bell_tag_shows_the_unread_count_in_one_query(agent, django_assert_num_queries):
    for _ in range(3):
        notification_for(agent)
    request = RequestFactory().get("/")
    request.user = agent
    assert agent.has_ticket_access  # the page's access check caches the permissions
    template = Template("{% load notifications_tags %}{% notification_bell %}")
    with django_assert_num_queries(1):
        html = template.render(Context({"request": request}))
    assert 'data-unread="3"' in html and 'href="/notifications/"' in html
    assert "data-bell-count>3<" in html


def test_bell_shows_nothing_to_visitors_and_users_without_access(client, outsider):
    from django.contrib.auth.models import AnonymousUser

    template = Template("{% load notifications_tags %}{% notification_bell %}")
    for user in (AnonymousUser(), outsider):
        request = RequestFactory().get("/")
        request.user = user
        assert template.render(Context({"request": request})).strip() == ""
    assert client.get("/notifications/bell/").status_code == 204


def test_bell_refresh_endpoint(agent):
    notification_for(agent)
    content = signed_in(agent).get("/notifications/bell/").content.decode()
    assert 'data-unread="1"' in content and 'hx-trigger="every 30s"' in content


@pytest.mark.parametrize("url", [SETTINGS, LIST, DEFAULTS, DEFAULTS + "?user={me}"])
def test_pages_have_no_inline_scripts_or_styles(superadmin, url):
    notification_for(superadmin)
    content = signed_in(superadmin).get(url.format(me=superadmin.pk)).content.decode()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", content)
    assert " style=" not in content and "<style" not in content
    assert "js/notifications.js" in content and "css/notifications.css" in content


def test_customer_text_is_escaped_in_the_list(agent):
    notification_for(agent, text="Kim replied on #1 “<script>alert(1)</script>”")
    content = signed_in(agent).get(LIST).content.decode()
    assert "<script>alert(1)</script>" not in content
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in content


def test_ago_filter():
    from datetime import timedelta

    from django.utils import timezone

    from notifications.templatetags.notifications_tags import ago

    now = timezone.now()
    assert ago(now) == "just now"
    assert ago(now - timedelta(minutes=5, seconds=3)) == "5 min ago"
    assert ago(now - timedelta(hours=3, minutes=1)) == "3 h ago"
    assert ago(now - timedelta(days=2, hours=1)) == "2 d ago"
    assert ago(now - timedelta(days=40)) == timezone.localtime(now - timedelta(days=40)).strftime(
        "%-d %b %Y"
    )
