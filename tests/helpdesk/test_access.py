"""The access rules of `helpdesk.access`, checked directly over every page and the API.

One table lists each page (URL name, method, what it is about) with the rule that guards it:
ticket access (R8), account admin (R6) or superadmin (R26). Anonymous visitors go to the
login page; signed-in users the rule refuses get 403 (and nothing changes); the API answers
401 without a valid token and 403 without ticket access; a ticket the user cannot see is a
404 on every ticket page and in the API, as is an id that does not exist.
"""

import sys
from dataclasses import dataclass, field

import pytest
from django.test import Client
from django.urls import reverse

from helpdesk import access
from helpdesk.models import Ticket, User
from notifications.catalog import Event
from notifications.models import Notification
from routing.models import RoutingDecision
from tests.factories import (
    ApiTokenFactory,
    ChannelAutomationFactory,
    ChannelFactory,
    TicketFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

AGENT, ACCOUNT_ADMIN, SUPERADMIN = "ticket access", "account admin", "superadmin"
# The named users of tests/conftest.py, and the rules each one passes.
PASSES = {
    "outsider": set(),
    "agent": {AGENT},
    "admin_user": {AGENT, ACCOUNT_ADMIN},  # Account admins also have ticket access
    "superadmin": {AGENT, ACCOUNT_ADMIN, SUPERADMIN},
}
LOGIN = "/accounts/login/"


@dataclass
class World:
    ticket: Ticket
    channel: object
    decision: object
    notifications: dict = field(default_factory=dict)

    def notification_of(self, user) -> int:
        """A notification of `user` (each user opens only their own)."""
        if user.pk not in self.notifications:
            self.notifications[user.pk] = Notification.objects.create(
                recipient=user, ticket=self.ticket, event=Event.ASSIGNED_TO_ME, text="Hi"
            ).pk
        return self.notifications[user.pk]


@dataclass(frozen=True)
class Page:
    name: str
    method: str
    rule: str
    about: str = ""  # "ticket", "channel", "notification", "queue", "decision"

    def url(self, world: World, user=None) -> str:
        args = {
            "": [],
            "queue": ["unassigned"],
            "ticket": [world.ticket.pk],
            "channel": [world.channel.pk],
            "notification": [world.notification_of(user) if user else 1],
            "decision": [world.decision.pk],
        }[self.about]
        return reverse(self.name, args=args)

    def __str__(self) -> str:
        return f"{self.method.upper()} {self.name}"


PAGES = [
    Page("home", "get", AGENT),
    Page("queue", "get", AGENT, "queue"),
    Page("ticket", "get", AGENT, "ticket"),
    Page("ticket-owner", "post", AGENT, "ticket"),
    Page("ticket-owner-search", "get", AGENT, "ticket"),
    Page("ticket-reply", "post", AGENT, "ticket"),
    Page("ticket-status", "post", AGENT, "ticket"),
    Page("ticket-priority", "post", AGENT, "ticket"),
    Page("notifications:list", "get", AGENT),
    Page("notifications:settings", "get", AGENT),
    Page("notifications:read-all", "post", AGENT),
    Page("notifications:open", "post", AGENT, "notification"),
    Page("notifications:read", "post", AGENT, "notification"),
    Page("channels_cfg:list", "get", ACCOUNT_ADMIN),
    Page("channels_cfg:create", "get", ACCOUNT_ADMIN),
    Page("channels_cfg:details", "get", ACCOUNT_ADMIN, "channel"),
    Page("channels_cfg:automation", "get", ACCOUNT_ADMIN, "channel"),
    Page("channels_cfg:deactivate", "post", ACCOUNT_ADMIN, "channel"),
    Page("channels_cfg:activate", "post", ACCOUNT_ADMIN, "channel"),
    Page("routing:preview", "post", ACCOUNT_ADMIN, "channel"),
    Page("routing:decision", "get", AGENT, "decision"),
    Page("notifications:defaults", "get", SUPERADMIN),
]
TICKET_PAGES = [page for page in PAGES if page.about == "ticket"]


@pytest.fixture
def world() -> World:
    channel = ChannelAutomationFactory(channel=ChannelFactory(name="Support inbox")).channel
    ticket = TicketFactory(channel=None, subject="Printer on fire")
    decision = RoutingDecision.objects.create(
        ticket=ticket, outcome=RoutingDecision.Outcome.SKIPPED, summary="Nothing to do."
    )
    return World(ticket=ticket, channel=channel, decision=decision)


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def visit(client: Client, page: Page, url: str):
    return getattr(client, page.method)(url)


def is_login_redirect(response) -> bool:
    return response.status_code == 302 and response["Location"].startswith(LOGIN)


# ---------------------------------------------------------------------------------------
# Pages
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("page", PAGES, ids=str)
def test_r8_anonymous_visitors_are_sent_to_the_login_page(client, world, page):
    url = page.url(world)
    response = visit(client, page, url)
    assert is_login_redirect(response)
    assert response["Location"] == f"{LOGIN}?next={url}"


@pytest.mark.parametrize("page", PAGES, ids=str)
def test_a_part_asked_for_after_the_session_ended_sends_the_whole_page_to_sign_in(
    client, world, page
):
    """htmx asks for a part of a page (the owner control, a decision's details …) once the
    session has ended: the answer is no sign-in page to swap into that part but a redirect
    of the whole page (HX-Redirect) to the sign-in page, back to the page it was on."""
    response = getattr(client, page.method)(
        page.url(world),
        HTTP_HX_REQUEST="true",
        HTTP_HX_CURRENT_URL=f"http://testserver/tickets/{world.ticket.pk}/?from=unassigned",
    )
    assert response.status_code == 200
    assert response["HX-Redirect"] == (
        f"{LOGIN}?next=%2Ftickets%2F{world.ticket.pk}%2F%3Ffrom%3Dunassigned"
    )
    assert not response.content


def test_a_signed_in_agents_parts_and_redirects_are_answered_as_before(agent, world):
    client = signed_in(agent)
    part = client.get(reverse("routing:decision", args=[world.decision.pk]), HTTP_HX_REQUEST="true")
    assert part.status_code == 200 and "HX-Redirect" not in part
    assert "Decided" in part.content.decode()
    moved = client.post(reverse("notifications:read-all"), HTTP_HX_REQUEST="true")
    assert moved.status_code == 302 and "HX-Redirect" not in moved  # not to the sign-in page
    assert not moved["Location"].startswith(LOGIN)


@pytest.mark.parametrize("role", PASSES)
@pytest.mark.parametrize("page", PAGES, ids=str)
def test_r6_r8_r26_each_page_lets_in_exactly_the_users_its_rule_allows(request, world, page, role):
    user = request.getfixturevalue(role)
    version, active = world.ticket.version, world.channel.is_active
    response = visit(signed_in(user), page, page.url(world, user))

    if page.rule in PASSES[role]:
        assert response.status_code not in (401, 403, 404, 405), response.status_code
        assert not is_login_redirect(response)
        return
    assert response.status_code == 403
    if page.rule == ACCOUNT_ADMIN:  # the settings' own page says who can help
        assert "Only account admins can change channel settings" in response.content.decode()
    world.ticket.refresh_from_db()
    world.channel.refresh_from_db()
    assert (world.ticket.version, world.channel.is_active) == (version, active)


@pytest.mark.parametrize(("role", "status"), [("outsider", 204), ("agent", 200)])
def test_r8_the_bell_is_empty_without_ticket_access(request, role, status):
    user = request.getfixturevalue(role)
    assert signed_in(user).get(reverse("notifications:bell")).status_code == status


def test_r8_the_bell_is_empty_for_anonymous_visitors(client):
    assert client.get(reverse("notifications:bell")).status_code == 204


def test_the_rules_read_the_permissions_of_the_default_groups(agent, admin_user, outsider):
    assert agent.has_perm(access.TICKET_ACCESS) and not agent.has_perm(access.MANAGE_HELPDESK)
    assert admin_user.has_perm(access.TICKET_ACCESS) and admin_user.has_perm(access.MANAGE_HELPDESK)
    assert not outsider.has_perm(access.TICKET_ACCESS)
    assert access.permission_parts(access.TICKET_ACCESS) == ("helpdesk", "access_tickets")


# ---------------------------------------------------------------------------------------
# Tickets the user cannot see
# ---------------------------------------------------------------------------------------


@pytest.fixture
def hidden_ticket(monkeypatch, world):
    """A narrower rule, as `tickets_visible_to` would one day return it: every ticket but
    one. Installed wherever the rule was imported, so each page and the API read it."""
    hidden = TicketFactory(channel=None, subject="Hidden ticket")
    rule = access.tickets_visible_to

    def narrower(user):
        return rule(user).exclude(pk=hidden.pk)

    importers = [
        name
        for name, module in list(sys.modules.items())
        if getattr(module, "__dict__", {}).get("tickets_visible_to") is rule
    ]
    assert {"helpdesk.access", "helpdesk.api", "helpdesk.queues"} <= set(importers)
    for name in importers:
        monkeypatch.setattr(sys.modules[name], "tickets_visible_to", narrower)
    return hidden


@pytest.mark.parametrize("page", TICKET_PAGES, ids=str)
def test_a_ticket_the_agent_cannot_see_is_a_404_and_stays_unchanged(
    agent, world, hidden_ticket, page
):
    url = reverse(page.name, args=[hidden_ticket.pk])
    assert visit(signed_in(agent), page, url).status_code == 404
    hidden_ticket.refresh_from_db()
    assert hidden_ticket.version == 1 and hidden_ticket.owner is None
    assert not hidden_ticket.messages.exists()


def test_the_routing_decision_of_a_ticket_the_agent_cannot_see_is_a_404(agent, hidden_ticket):
    decision = RoutingDecision.objects.create(
        ticket=hidden_ticket, outcome=RoutingDecision.Outcome.SKIPPED, summary="Hidden."
    )
    url = reverse("routing:decision", args=[decision.pk])
    assert signed_in(agent).get(url).status_code == 404


def test_a_ticket_the_agent_cannot_see_is_not_in_the_queues(agent, world, hidden_ticket):
    page = signed_in(agent).get(reverse("queue", args=["unassigned"])).content.decode()
    assert world.ticket.subject in page and hidden_ticket.subject not in page


@pytest.mark.parametrize("page", TICKET_PAGES, ids=str)
def test_an_unknown_ticket_id_is_a_404(agent, world, page):
    url = reverse(page.name, args=[world.ticket.pk + 1000])
    assert visit(signed_in(agent), page, url).status_code == 404


# ---------------------------------------------------------------------------------------
# The JSON API: token authentication
# ---------------------------------------------------------------------------------------


def api_get(client: Client, ticket_id: int, authorization: str | None):
    headers = {"Authorization": authorization} if authorization is not None else {}
    return client.get(reverse("api-ticket", args=[ticket_id]), headers=headers)


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer ", "Basic dXNlcjpwdw==", "Bearer not-a-token"],
    ids=["no header", "empty", "scheme only", "empty token", "basic auth", "unknown token"],
)
def test_api_without_a_valid_token_is_401(client, world, authorization):
    response = api_get(client, world.ticket.pk, authorization)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert "Authorization: Bearer" in response.json()["error"]


def test_api_token_of_an_inactive_user_is_401(client, world, agent):
    token = ApiTokenFactory(user=agent)
    agent.is_active = False
    agent.save(update_fields=["is_active"])
    assert api_get(client, world.ticket.pk, f"Bearer {token.raw_key}").status_code == 401


def test_api_token_of_a_user_without_ticket_access_is_403(client, world):
    token = ApiTokenFactory(user=UserFactory())
    response = api_get(client, world.ticket.pk, f"Bearer {token.raw_key}")
    assert response.status_code == 403
    assert response.json() == {"error": "This token's user has no ticket access."}
    post = client.post(
        reverse("api-tickets"),
        data="{}",
        content_type="application/json",
        headers={"Authorization": f"Bearer {token.raw_key}"},
    )
    assert post.status_code == 403
    assert not Ticket.objects.exclude(pk=world.ticket.pk).exists()


@pytest.mark.parametrize("scheme", ["Bearer", "Token"])
def test_api_token_of_an_agent_reads_the_ticket(client, world, agent, scheme):
    token = ApiTokenFactory(user=agent)
    response = api_get(client, world.ticket.pk, f"{scheme} {token.raw_key}")
    assert response.status_code == 200
    assert response.json()["id"] == world.ticket.pk


def test_api_a_ticket_the_token_user_cannot_see_is_a_404(client, world, agent, hidden_ticket):
    token = ApiTokenFactory(user=agent)
    response = api_get(client, hidden_ticket.pk, f"Bearer {token.raw_key}")
    assert response.status_code == 404
    assert response.json() == {"error": f"No ticket has id {hidden_ticket.pk}."}
    assert api_get(client, world.ticket.pk, f"Bearer {token.raw_key}").status_code == 200


def test_the_rules_read_a_users_permissions_in_one_query(agent, django_assert_num_queries):
    user = User.objects.get(pk=agent.pk)
    with django_assert_num_queries(1):  # Django's ModelBackend reads them in two
        assert access.has_ticket_access(user)
        assert not access.can_manage_helpdesk(user)
        assert user.has_perm(access.TICKET_ACCESS)
    assert user.get_all_permissions() == User.objects.get(pk=agent.pk).get_all_permissions()
