"""Notifications in a real browser (R24–R27): an agent sees the bell count rise when
another agent assigns a ticket to them, and clears it by opening the notification; the
settings grid is saved with its toggles; a superadmin sets a default for a team (without
JavaScript) and a main member's grid says where their value comes from. Screenshots go to
test-artifacts/screenshots/.

Until the top bar of base.html carries `{% notification_bell %}` the count is read where
the list page shows it; once it does, the bell itself is checked."""

import pytest

from tests.browser.conftest import session_cookie_for, sign_in
from tests.browser.test_owner_picker import choose_owner
from tests.factories import (
    PASSWORD,
    AgentFactory,
    TeamFactory,
    TeamMembershipFactory,
    TicketFactory,
)

pytestmark = pytest.mark.browser


def bell_in_top_bar(page) -> bool:
    return page.locator("nav.hd-topbar #notification-bell").count() > 0


def unread(page) -> int:
    """The unread count as the user sees it: the bell's, else the list page's."""
    if bell_in_top_bar(page):
        bell = page.locator("nav.hd-topbar #notification-bell")
        count = int(bell.get_attribute("data-unread"))
        badge = bell.locator("[data-bell-count]")
        assert (badge.inner_text() if badge.count() else "0") == str(count)
        return count
    page.goto("/notifications/")
    return int(page.locator("[data-unread-count]").get_attribute("data-unread-count"))


def assign_in_own_browser(browser, live_server, actor, ticket, owner) -> None:
    """`actor` uses the Ticket owner control (R3) in their own browser."""
    context = browser.new_context(base_url=live_server.url)
    try:
        context.add_cookies([session_cookie_for(actor, live_server)])
        other = context.new_page()
        other.goto(f"/tickets/{ticket.pk}/")
        choose_owner(other, owner.username, f"user:{owner.pk}")
        other.wait_for_selector("[data-owner-notice]")
    finally:
        context.close()


# Smoke test: the live server announces as `make run` does, in-process at commit.
@pytest.mark.usefixtures("eager_celery")
def test_r24_agent_sees_the_bell_rise_and_clears_it_by_opening_the_notification(
    page, browser, live_server, agent, other_agent, screenshot
):
    ticket = TicketFactory(subject="Printer on fire in the Oslo office", channel=None)
    sign_in(page, agent.username, PASSWORD)
    assert unread(page) == 0

    assign_in_own_browser(browser, live_server, other_agent, ticket, agent)

    page.goto("/")
    assert unread(page) == 1
    screenshot("notifications-bell-raised", full_page=False)

    if bell_in_top_bar(page):
        page.click("nav.hd-topbar #notification-bell")
    else:
        page.goto("/notifications/")
    page.wait_for_url("**/notifications/")
    item = page.locator("[data-notification][data-unread]")
    assert item.count() == 1
    assert f"Otto Other assigned #{ticket.pk} “{ticket.subject}” to you" in item.inner_text()
    screenshot("notifications-list-unread")

    item.locator("button.hd-notif-open").click()
    page.wait_for_url(f"**/tickets/{ticket.pk}/")
    assert unread(page) == 0
    page.goto("/notifications/")
    assert page.locator("[data-notification][data-unread]").count() == 0
    assert page.locator("[data-notification]").count() == 1
    screenshot("notifications-list-read")
    assert page.console_errors == [], page.console_errors  # no JS errors, no CSP violations


def test_r25_r26_settings_grid_in_the_browser(login_page, superadmin, screenshot):
    page = login_page(superadmin, "/notifications/settings/")
    row = page.locator("tr[data-event=ticket_unassigned]")
    assert "Inherited · Built-in default" in row.inner_text()
    assert page.locator("[data-unsaved-hint]").is_hidden()
    row.locator("input[data-medium=email]").check()
    assert page.locator("[data-unsaved-hint]").is_visible()  # static JS marks the change
    assert "hd-changed" in row.get_attribute("class")
    screenshot("notifications-settings-unsaved")
    page.click("button[type=submit]:has-text('Save')")
    page.wait_for_selector(".alert-success")
    row = page.locator("tr[data-event=ticket_unassigned]")
    assert "Your choice" in row.inner_text()
    assert row.locator("input[data-medium=email]").is_checked()
    screenshot("notifications-settings", full_page=False, docs=True)

    page.goto("/notifications/defaults/")
    page.locator("tr[data-event=team_unassigned] input[data-medium=email]").check()
    page.click("button[type=submit]:has-text('Save defaults')")
    page.wait_for_selector(".alert-success")
    assert "Default for everyone" in page.locator("tr[data-event=team_unassigned]").inner_text()
    screenshot("notifications-defaults", full_page=False, docs=True)
    assert page.console_errors == [], page.console_errors


def test_r26_r27_superadmin_sets_a_team_default_and_the_member_sees_where_it_comes_from(
    page_without_js, page, live_server, superadmin, screenshot
):
    support = TeamFactory(name="Support")
    kari = AgentFactory(first_name="Kari", last_name="Nordmann")
    TeamMembershipFactory(team=support, user=kari)

    # The superadmin picks the team and saves a row for it — plain HTML forms, no JS.
    admin = page_without_js
    admin.context.add_cookies([session_cookie_for(superadmin, live_server)])
    admin.goto("/notifications/defaults/")
    admin.select_option("#id_audience", f"team:{support.pk}")
    admin.click("button[type=submit]:has-text('Show')")
    assert admin.locator("#audience-title").inner_text() == "For team Support"
    row = admin.locator("tr[data-event=ticket_unassigned]")
    assert "Inherited · Built-in default" in row.inner_text()
    row.locator("input[data-medium=email]").check()
    admin.click("button[type=submit]:has-text('Save defaults')")
    admin.wait_for_selector(".alert-success")
    row = admin.locator("tr[data-event=ticket_unassigned]")
    assert "Default for team Support" in row.inner_text()
    assert "Inherited" not in row.inner_text()
    assert admin.locator("[data-audience-summary]").all_inner_texts() == ["Team Support: 1 row"]
    screenshot("notifications-defaults-team", target=admin)
    admin.set_viewport_size({"width": 390, "height": 844})
    screenshot("notifications-defaults-team-390", target=admin)
    assert admin.evaluate("document.documentElement.scrollWidth") <= 390

    # Kari, a main member of Support, sees the value and where it comes from.
    page.context.add_cookies([session_cookie_for(kari, live_server)])
    page.goto("/notifications/settings/")
    row = page.locator("tr[data-event=ticket_unassigned]")
    assert "Inherited · Default for team Support" in row.inner_text()
    assert row.locator("input[data-medium=email]").is_checked()
    assert page.console_errors == [], page.console_errors
