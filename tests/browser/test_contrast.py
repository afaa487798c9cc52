"""Text contrast meets WCAG AA on the pages agents and admins use all day (issue 13).

axe-core (the `axe-playwright-python` package bundles it) runs its `color-contrast` rule in
Chromium on each page: secondary text, links, counts, buttons and the internal-note mode,
against the backgrounds they really sit on. A violation lists the element, its colours and
the ratio, so the failure says what to darken.
"""

import pytest

from helpdesk.models import Channel, TeamMembership
from tests.factories import (
    ChannelAutomationFactory,
    ChannelFactory,
    ContactFactory,
    MessageFactory,
    TeamFactory,
    TeamMembershipFactory,
    TicketFactory,
)

pytestmark = pytest.mark.browser

SETTLED = "!document.querySelector('.htmx-request, .htmx-added, .htmx-settling, .htmx-swapping')"


def contrast_problems(page) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    page.wait_for_load_state("networkidle")
    page.wait_for_function(SETTLED)
    result = Axe().run(page, options={"runOnly": ["color-contrast"]})
    return [
        f"{page.url}: {node['html'][:120]} — {node['any'][0]['message'][:140]}"
        for violation in result.response["violations"]
        for node in violation["nodes"]
    ]


def problems_on(page, paths) -> list[str]:
    problems = []
    for path in paths:
        assert page.goto(path).ok, path
        problems += contrast_problems(page)
    return problems


@pytest.fixture
def desk(agent, admin_user):
    support = TeamFactory(name="Support")
    TeamMembershipFactory(team=support, user=agent, role=TeamMembership.Role.MAIN)
    inbox = ChannelFactory(kind=Channel.Kind.TEAM_EMAIL, name="Support inbox")
    ChannelAutomationFactory(channel=inbox)
    contact = ContactFactory(name="Kari Nordmann", email="kari@example.com")
    mine = TicketFactory(subject="Invoice charged twice", channel=inbox, owner=agent, team=support)
    MessageFactory(ticket=mine, body="I was charged twice for November.")
    TicketFactory(subject="Cannot sign in", channel=inbox, contact=contact)
    TicketFactory(subject="Closed long ago", channel=inbox, status="closed")
    return {"ticket": mine, "channel": inbox}


def test_agent_pages_meet_wcag_aa_contrast(login_page, agent, desk):
    page = login_page(agent)
    problems = contrast_problems(page)
    problems += problems_on(
        page,
        [
            "/queues/unassigned/",
            "/queues/open/",
            "/queues/mine/",
            "/queues/closed/",
            "/queues/open/?q=nothing-matches-this",
            f"/tickets/{desk['ticket'].pk}/",
            "/me/availability/",
            "/me/language/",
            "/notifications/",
            "/notifications/settings/",
        ],
    )
    # The internal note mode: the yellow composer and its button.
    page.goto(f"/tickets/{desk['ticket'].pk}/")
    page.click("label[for=mode-note]")
    problems += contrast_problems(page)
    assert problems == []


def test_admin_pages_meet_wcag_aa_contrast(login_page, admin_user, superadmin, desk):
    page = login_page(admin_user)
    problems = problems_on(
        page,
        [
            "/settings/channels/",
            f"/settings/channels/{desk['channel'].pk}/",
            f"/settings/channels/{desk['channel'].pk}/automation/",
            "/settings/people/users/",
            "/settings/people/teams/",
            "/settings/people/seats/",
            "/settings/people/skills/",
        ],
    )
    page.context.clear_cookies()
    page = login_page(superadmin, start="/notifications/defaults/")
    problems += contrast_problems(page)
    page.context.clear_cookies()
    page.goto("/accounts/login/")
    problems += contrast_problems(page)
    assert problems == []
