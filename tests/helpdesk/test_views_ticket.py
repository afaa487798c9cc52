"""The ticket workspace: thread, contact, history, the Ticket owner control (R3, R5) with
htmx and as a plain form, Send (R4) and Add note, status and priority, conflicts between two
agents, access, CSRF and hostile message bodies."""

import re

import pytest
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import reverse

from helpdesk.models import AssignmentEvent, Attachment, Message, OutboundMessage, Ticket
from helpdesk.selectors import ticket_thread
from helpdesk.services import add_inbound_message, assign, reply, set_priority
from tests.factories import (
    AgentFactory,
    ContactFactory,
    MessageFactory,
    TicketFactory,
)

HTMX = {"HTTP_HX_REQUEST": "true"}


def url(name: str, ticket: Ticket) -> str:
    return reverse(name, args=[ticket.pk])


def refreshed(ticket: Ticket) -> Ticket:
    return Ticket.objects.get(pk=ticket.pk)


# --- access -------------------------------------------------------------------------------


def test_r8_anonymous_is_sent_to_login(client, db):
    ticket = TicketFactory()
    response = client.get(url("ticket", ticket))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_r8_user_without_ticket_access_gets_403(outsider):
    ticket = TicketFactory()
    client = Client()
    client.force_login(outsider)
    assert client.get(url("ticket", ticket)).status_code == 403
    response = client.post(url("ticket-owner", ticket), {"unassign": "1", "version": 1})
    assert response.status_code == 403
    assert refreshed(ticket).version == ticket.version


def test_unknown_ticket_is_404(agent_client):
    response = agent_client.get("/tickets/987654/")
    assert response.status_code == 404
    assert b"Nothing here" in response.content
    assert agent_client.post("/tickets/987654/owner/", {"version": 1}).status_code == 404


@pytest.mark.parametrize(
    "name", ["ticket-owner", "ticket-reply", "ticket-status", "ticket-priority"]
)
def test_state_changes_refuse_get(agent_client, name):
    assert agent_client.get(url(name, TicketFactory())).status_code == 405


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("ticket-owner", {"unassign": "1"}),
        ("ticket-reply", {"body": "hi", "action": "send"}),
        ("ticket-status", {"status": "closed"}),
        ("ticket-priority", {"priority": 4}),
    ],
)
def test_state_changes_need_a_csrf_token(agent, name, data):
    ticket = TicketFactory()
    client = Client(enforce_csrf_checks=True)
    client.force_login(agent)
    response = client.post(url(name, ticket), {**data, "version": ticket.version})
    assert response.status_code == 403
    assert refreshed(ticket).version == ticket.version


# --- the page -----------------------------------------------------------------------------


def test_r2_ticket_page_shows_thread_contact_properties_and_history(
    agent_client, agent, other_agent
):
    owner = AgentFactory(first_name="Connie", last_name="Owner")
    contact = ContactFactory(name="Kim Customer", email="kim@example.com", owner=owner)
    ticket = TicketFactory(subject="Printer on fire", contact=contact)
    MessageFactory(ticket=ticket, body="It is burning")
    assign(ticket=ticket, owner=other_agent, actor=agent, cause=AssignmentEvent.Cause.MANUAL)
    reply(ticket=ticket, author=other_agent, body="Water, quickly")
    MessageFactory(ticket=ticket, direction=Message.Direction.NOTE, author=agent, body="Hmm")
    response = agent_client.get(url("ticket", ticket) + "?from=unassigned")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Printer on fire" in html
    assert 'class="hd-msg hd-msg-inbound"' in html
    assert 'class="hd-msg hd-msg-outbound"' in html
    assert 'class="hd-msg hd-msg-note"' in html
    assert "internal note — agents only" in html
    assert "Kim Customer" in html and "kim@example.com" in html
    assert "data-contact-owner>Connie Owner<" in html
    assert "Assigned manually" in html and "by Ada Agent" in html
    assert 'id="owner-control"' in html
    assert '<section id="routing-explanation">' in html
    assert "‹ Unassigned" in html


def test_ticket_page_costs_fixed_queries(
    agent_client, agent, other_agent, django_assert_max_num_queries, django_assert_num_queries
):
    ticket = TicketFactory(contact=ContactFactory(owner=other_agent))
    MessageFactory(ticket=ticket)
    # 11 for the page (session, user, permissions in one, ticket, thread with its outbox rows
    # and attachments, history, teams, menu counts; the bell, the routing explanation, the
    # capacity limits); 1 for the top bar's availability. The owner control reads nobody: its
    # picker searches as the agent types (tests/helpdesk/test_owner_search.py).
    with django_assert_max_num_queries(12) as few:
        response = agent_client.get(url("ticket", ticket))
    assert response.status_code == 200
    assert (len(response.context["thread"]), len(response.context["history"])) == (1, 0)
    for i in range(20):
        MessageFactory(ticket=ticket, direction="note", author=AgentFactory())
        assign(
            ticket=ticket,
            owner=AgentFactory() if i % 2 else other_agent,
            actor=AgentFactory(),
            cause=AssignmentEvent.Cause.MANUAL,
        )
    with django_assert_num_queries(len(few)):
        response = agent_client.get(url("ticket", ticket))
    assert response.status_code == 200
    assert (len(response.context["thread"]), len(response.context["history"])) == (21, 20)


def test_thread_reads_authors_outbox_rows_and_attachments_in_one_query(
    agent, settings, tmp_path, django_assert_num_queries
):
    settings.MEDIA_ROOT = tmp_path
    ticket = TicketFactory()
    inbound = MessageFactory(ticket=ticket)
    sent = MessageFactory(ticket=ticket, direction=Message.Direction.OUTBOUND, author=agent)
    row = OutboundMessage.objects.create(message=sent, channel=ticket.channel)
    files = [
        Attachment.objects.create(
            message=inbound,
            file=ContentFile(b"x" * size, name=name),
            filename=name,
            content_type="application/pdf",
            size=size,
        )
        for name, size in [("b.pdf", 2), ("a.pdf", 1)]
    ]
    with django_assert_num_queries(1):
        thread = ticket_thread(ticket)
        authors = [message.author for message in thread]
    assert [message.pk for message in thread] == [inbound.pk, sent.pk]
    assert authors == [None, agent]
    assert [(f.pk, f.filename, f.size) for f in thread[0].mail_files] == [
        (f.pk, f.filename, f.size) for f in files
    ]
    assert thread[1].mail_files == []
    assert thread[0].delivery is None
    assert thread[1].delivery.pk == row.pk and thread[1].delivery.status == row.status


def test_hostile_message_body_is_escaped(agent_client):
    ticket = TicketFactory(subject='<img src=x onerror="alert(1)">')
    MessageFactory(
        ticket=ticket,
        body='<script>alert("pwned")</script>\n<img src=x onerror="alert(2)">\nline two',
    )
    html = agent_client.get(url("ticket", ticket)).content.decode()
    assert "<script>alert" not in html
    assert "<img src=x" not in html
    assert "&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt;<br>" in html
    assert "&lt;img src=x onerror=&quot;alert(2)&quot;&gt;<br>line two" in html
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in html


def test_hostile_subject_and_contact_are_escaped_in_the_queue(agent_client):
    TicketFactory(
        subject="<script>alert(1)</script>",
        contact=ContactFactory(name='<img src=x onerror="alert(2)">'),
    )
    html = agent_client.get(reverse("queue", args=["open"])).content.decode()
    assert "<script>alert(1)" not in html
    assert "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_pages_send_a_content_security_policy_without_inline_script(agent_client):
    ticket = TicketFactory()
    response = agent_client.get(url("ticket", ticket))
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    html = response.content.decode()
    assert "<script>" not in html  # every script has a src
    assert " style=" not in html


# --- the owner control (R3, R5) -----------------------------------------------------------


def test_r3_owner_control_is_a_search_field_that_lists_nobody(agent_client, agent, support):
    """The page names no candidate: the picker searches as the agent types (owner_search)."""
    AgentFactory(username="noseat", first_name="Nora", last_name="Noseat", seat=False)
    ticket = TicketFactory()
    html = agent_client.get(url("ticket", ticket)).content.decode()
    assert 'id="owner-input" name="owner"' in html
    assert f'data-search-url="{url("ticket-owner-search", ticket)}"' in html
    assert 'name="take" value="1" data-take' in html
    assert "data-unassign" not in html  # nothing to clear yet
    assert "<option" not in html.split('id="owner-control"')[1].split("</form>")[0]
    assert "Nora Noseat" not in html and "Support" not in html


def test_r5_unassign_button_shows_when_the_ticket_has_an_owner_or_team(agent_client, support):
    html = agent_client.get(url("ticket", TicketFactory(team=support))).content.decode()
    assert 'name="unassign" value="1" data-unassign' in html


def test_r3_plain_form_assigns_to_a_team_then_redirects(agent_client, agent, support):
    ticket = TicketFactory()
    response = agent_client.post(
        url("ticket-owner", ticket),
        {"assignee": f"team:{support.pk}", "version": ticket.version, "from": "unassigned"},
    )
    assert response.status_code == 302
    assert response.url == url("ticket", ticket) + "?from=unassigned"
    ticket = refreshed(ticket)
    assert (ticket.owner, ticket.team) == (None, support)
    event = ticket.assignments.get()
    assert (event.actor, event.cause) == (agent, AssignmentEvent.Cause.MANUAL)
    page = agent_client.get(response.url).content.decode()
    assert "Ticket owner: the Support team (no owner yet)." in page


def test_r3_r22_team_assignment_moves_ticket_to_my_teams_unassigned(agent_client, support):
    ticket = TicketFactory()
    agent_client.post(url("ticket-owner", ticket), {"assignee": f"team:{support.pk}", "version": 1})
    team_queue = agent_client.get(reverse("queue", args=["team-unassigned"]))
    assert [t.pk for t in team_queue.context["tickets"]] == [ticket.pk]
    assert not agent_client.get(reverse("queue", args=["unassigned"])).context["tickets"]


def test_r3_htmx_swaps_the_control_without_a_reload(agent_client, other_agent, support):
    ticket = TicketFactory()
    response = agent_client.post(
        url("ticket-owner", ticket),
        {"assignee": f"user:{other_agent.pk}", "version": ticket.version},
        **HTMX,
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="owner-control"')
    assert "<html" not in html
    assert "Ticket owner: Otto Other." in html
    # Out-of-band fragments keep the rest of the page current, including the version.
    assert 'id="ticket-properties" aria-labelledby="properties-title" hx-swap-oob="true"' in html
    assert 'id="assignment-history"' in html
    assert 'id="queue-nav" class="hd-nav" aria-label="Queues" hx-swap-oob="true"' in html
    ticket = refreshed(ticket)
    assert ticket.owner == other_agent
    assert f'name="version" value="{ticket.version}" id="reply-version" hx-swap-oob="true"' in html
    assert 'data-count="unassigned">0<' in html


def test_r5_reassign_to_another_user_keeps_the_team_they_belong_to(
    agent_client, agent, other_agent, support
):
    ticket = TicketFactory(team=support, owner=other_agent)
    agent_client.post(
        url("ticket-owner", ticket), {"assignee": f"user:{agent.pk}", "version": ticket.version}
    )
    ticket = refreshed(ticket)
    assert (ticket.owner, ticket.team) == (agent, support)


def test_r5_reassign_to_a_user_outside_the_team_drops_the_team(agent_client, other_agent, support):
    ticket = TicketFactory(team=support)
    agent_client.post(
        url("ticket-owner", ticket),
        {"assignee": f"user:{other_agent.pk}", "version": ticket.version},
    )
    ticket = refreshed(ticket)
    assert (ticket.owner, ticket.team) == (other_agent, None)


def test_r5_clear_makes_the_ticket_unassigned_again(agent_client, agent, support):
    ticket = TicketFactory(owner=agent, team=support)
    response = agent_client.post(
        url("ticket-owner", ticket), {"unassign": "1", "version": ticket.version}, **HTMX
    )
    assert "Ticket owner: nobody (unassigned)." in response.content.decode()
    ticket = refreshed(ticket)
    assert (ticket.owner, ticket.team) == (None, None)


def test_assign_to_me_button(agent_client, agent):
    ticket = TicketFactory()
    agent_client.post(url("ticket-owner", ticket), {"take": "1", "version": ticket.version})
    assert refreshed(ticket).owner == agent


def test_owner_control_refuses_users_without_ticket_access(agent_client, outsider):
    ticket = TicketFactory()
    response = agent_client.post(
        url("ticket-owner", ticket), {"assignee": f"user:{outsider.pk}", "version": 1}
    )
    assert response.status_code == 400
    assert "Choose a team or a user from the list." in response.content.decode()
    assert refreshed(ticket).owner is None


# --- two agents at once: never a silent overwrite -----------------------------------------


def test_r5_second_agent_gets_a_clear_conflict_and_nothing_is_overwritten(
    agent_client, other_client, agent, other_agent, support
):
    ticket = TicketFactory()
    seen_version = ticket.version  # both agents opened the page at this version
    first = other_client.post(
        url("ticket-owner", ticket),
        {"assignee": f"user:{other_agent.pk}", "version": seen_version},
    )
    assert first.status_code == 302
    second = agent_client.post(
        url("ticket-owner", ticket), {"assignee": f"team:{support.pk}", "version": seen_version}
    )
    assert second.status_code == 409
    assert (
        "This ticket changed while you were looking at it: it is now owned by Otto Other. "
        "Review and try again." in second.content.decode()
    )
    ticket = refreshed(ticket)
    assert (ticket.owner, ticket.team) == (other_agent, None)
    assert ticket.assignments.count() == 1


def test_conflict_over_htmx_shows_the_message_in_the_control(agent_client, other_agent, support):
    ticket = TicketFactory()
    assign(ticket=ticket, owner=other_agent, actor=other_agent, cause="manual")
    response = agent_client.post(
        url("ticket-owner", ticket), {"assignee": f"team:{support.pk}", "version": 1}, **HTMX
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "it is now owned by Otto Other. Review and try again." in html
    assert "data-conflict" in html
    # The control now carries the new version, so trying again works.
    assert f'name="version" value="{refreshed(ticket).version}"' in html
    assert refreshed(ticket).team is None


def test_r4_reply_on_a_ticket_someone_just_took_is_not_sent_and_keeps_the_draft(
    agent_client, other_agent
):
    ticket = TicketFactory()
    assign(ticket=ticket, owner=other_agent, actor=other_agent, cause="manual")
    response = agent_client.post(
        url("ticket-reply", ticket),
        {"body": "My carefully written answer", "action": "send", "version": 1},
    )
    assert response.status_code == 409
    html = response.content.decode()
    assert "it is now owned by Otto Other. Review and try again." in html
    assert "My carefully written answer</textarea>" in html
    assert not Message.objects.filter(ticket=ticket, direction="outbound").exists()
    assert refreshed(ticket).owner == other_agent


def test_status_change_on_a_stale_page_conflicts(agent_client, other_agent):
    ticket = TicketFactory()
    assign(ticket=ticket, owner=other_agent, actor=other_agent, cause="manual")
    response = agent_client.post(url("ticket-status", ticket), {"status": "closed", "version": 1})
    assert response.status_code == 409
    assert refreshed(ticket).status == Ticket.Status.NEW


def test_priority_change_on_a_stale_page_conflicts(agent_client, other_agent):
    ticket = TicketFactory()
    assign(ticket=ticket, owner=other_agent, actor=other_agent, cause="manual")
    response = agent_client.post(url("ticket-priority", ticket), {"priority": 4, "version": 1})
    assert response.status_code == 409
    assert refreshed(ticket).priority == Ticket.Priority.NORMAL


# --- reply and note (R4) ------------------------------------------------------------------


def test_r4_send_on_unassigned_ticket_assigns_it_to_the_sender(
    agent_client, agent, captured_events
):
    ticket = TicketFactory()
    response = agent_client.post(
        url("ticket-reply", ticket),
        {"body": "On it!", "action": "send", "version": ticket.version, "from": "unassigned"},
    )
    assert response.status_code == 302
    ticket = refreshed(ticket)
    assert ticket.owner == agent
    assert ticket.assignments.get().cause == AssignmentEvent.Cause.REPLY
    message = ticket.messages.get(direction=Message.Direction.OUTBOUND)
    assert (message.author, message.body) == (agent, "On it!")
    # Delivery to the contact hangs on this event (the channel intake work).
    assert "message_added" in captured_events.names
    assert "The ticket is now yours" in agent_client.get(response.url).content.decode()
    mine = agent_client.get(reverse("queue", args=["mine"]))
    assert [t.pk for t in mine.context["tickets"]] == [ticket.pk]


def test_r4_send_on_a_team_ticket_keeps_the_team(agent_client, agent, support):
    ticket = TicketFactory(team=support)
    agent_client.post(
        url("ticket-reply", ticket), {"body": "Hi", "action": "send", "version": ticket.version}
    )
    ticket = refreshed(ticket)
    assert (ticket.owner, ticket.team) == (agent, support)


def test_r4_send_on_someone_elses_ticket_leaves_the_owner(agent_client, other_agent):
    ticket = TicketFactory(owner=other_agent)
    agent_client.post(
        url("ticket-reply", ticket), {"body": "Hi", "action": "send", "version": ticket.version}
    )
    assert refreshed(ticket).owner == other_agent


def test_add_note_neither_assigns_nor_sends(agent_client, agent, captured_events):
    ticket = TicketFactory()
    agent_client.post(
        url("ticket-reply", ticket),
        {"body": "Customer is VIP", "action": "note", "version": ticket.version},
    )
    ticket = refreshed(ticket)
    assert ticket.owner is None
    note = ticket.messages.get(direction=Message.Direction.NOTE)
    assert note.author == agent
    assert not ticket.messages.filter(direction=Message.Direction.OUTBOUND).exists()


def test_empty_reply_is_refused_with_a_message(agent_client):
    ticket = TicketFactory()
    response = agent_client.post(
        url("ticket-reply", ticket), {"body": "   ", "action": "send", "version": 1}
    )
    assert response.status_code == 400
    assert "Write a message first." in response.content.decode()
    assert refreshed(ticket).owner is None


# --- status and priority ------------------------------------------------------------------


def test_close_and_reopen(agent_client):
    ticket = TicketFactory()
    agent_client.post(url("ticket-status", ticket), {"status": "closed", "version": 1})
    ticket = refreshed(ticket)
    assert ticket.status == Ticket.Status.CLOSED and ticket.closed_at
    closed = agent_client.get(reverse("queue", args=["closed"]))
    assert [t.pk for t in closed.context["tickets"]] == [ticket.pk]
    agent_client.post(
        url("ticket-status", ticket), {"status": "waiting_on_us", "version": ticket.version}
    )
    ticket = refreshed(ticket)
    assert ticket.status == Ticket.Status.WAITING_ON_US and ticket.closed_at is None


def test_move_between_open_states(agent_client):
    ticket = TicketFactory()
    response = agent_client.post(
        url("ticket-status", ticket), {"status": "waiting_on_contact", "version": 1}
    )
    assert response.status_code == 302
    assert refreshed(ticket).status == Ticket.Status.WAITING_ON_CONTACT


def test_set_priority(agent_client):
    ticket = TicketFactory()
    agent_client.post(url("ticket-priority", ticket), {"priority": 4, "version": 1})
    assert refreshed(ticket).priority == Ticket.Priority.URGENT


@pytest.mark.parametrize(
    ("name", "data"),
    [("ticket-status", {"status": "deleted"}), ("ticket-priority", {"priority": 99})],
)
def test_bad_status_or_priority_is_refused_not_a_500(agent_client, name, data):
    ticket = TicketFactory()
    response = agent_client.post(url(name, ticket), {**data, "version": 1})
    assert response.status_code == 302
    assert refreshed(ticket).version == 1


def test_the_ticket_page_says_opened_just_now_not_now_ago(agent_client):
    ticket = TicketFactory(channel=None)
    page = agent_client.get(url("ticket", ticket)).content.decode()
    assert "opened just now" in page and "now ago" not in page


# --- a reply meeting a newer version (issue 13) ---------------------------------------------


def seen_on(agent_client, ticket) -> dict:
    """The reply form's hidden fields as the page drew them."""
    html = agent_client.get(url("ticket", ticket)).content.decode()
    fields = dict(re.findall(r'<input type="hidden" name="(version|seen)" value="([^"]*)"', html))
    return {"version": int(fields["version"]), "seen": fields["seen"]}


def test_a_priority_change_meanwhile_does_not_cost_the_reply(agent_client, agent, other_agent):
    ticket = TicketFactory(channel=None)
    form = seen_on(agent_client, ticket)
    set_priority(ticket=ticket, priority=Ticket.Priority.URGENT, actor=other_agent)
    response = agent_client.post(
        url("ticket-reply", ticket), {"body": "On it.", "action": "send", **form}, follow=True
    )
    assert response.status_code == 200
    assert Message.objects.filter(ticket=ticket, direction="outbound").count() == 1
    assert "Reply sent. Meanwhile the priority is now Urgent." in response.content.decode()
    assert refreshed(ticket).priority == Ticket.Priority.URGENT  # the other change stays


def test_a_new_customer_message_meanwhile_keeps_the_draft_and_names_it(agent_client, agent):
    ticket = TicketFactory(channel=None, contact=ContactFactory(name="Kim Larsen"))
    form = seen_on(agent_client, ticket)
    add_inbound_message(ticket=ticket, body="Never mind, it works now.", sender_name="Kim Larsen")
    response = agent_client.post(
        url("ticket-reply", ticket), {"body": "Have you tried…", "action": "send", **form}
    )
    assert response.status_code == 409
    html = response.content.decode()
    assert "This ticket changed while you were writing: a new message from Kim Larsen" in html
    assert "Have you tried…" in html  # the draft is kept
    assert not Message.objects.filter(ticket=ticket, direction="outbound").exists()


def test_an_owner_change_meanwhile_is_named(agent_client, other_agent):
    ticket = TicketFactory(channel=None)
    form = seen_on(agent_client, ticket)
    assign(ticket=ticket, owner=other_agent, actor=other_agent, cause="manual")
    response = agent_client.post(
        url("ticket-reply", ticket), {"body": "Mine?", "action": "send", **form}
    )
    assert response.status_code == 409
    assert f"the owner is now {other_agent}" in response.content.decode()
