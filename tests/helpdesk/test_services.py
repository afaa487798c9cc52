"""The verbs that change tickets, seats and contacts (helpdesk.services), on the database."""

import pytest
from django.core.exceptions import ValidationError

from helpdesk.models import AssignmentEvent, Contact, Message, Seat, Ticket
from helpdesk.services import (
    TicketChanged,
    add_inbound_message,
    add_note,
    assign,
    claim_for_routing,
    close,
    contact_for_email,
    create_ticket,
    give_seat,
    reopen,
    reply,
    set_priority,
)
from tests.factories import (
    AccountSettingsFactory,
    ChannelFactory,
    ContactFactory,
    TeamFactory,
    TicketFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

Cause = AssignmentEvent.Cause


def fresh(ticket: Ticket) -> Ticket:
    return Ticket.objects.get(pk=ticket.pk)


def unassigned_ticket(**fields) -> Ticket:
    return TicketFactory(owner=None, team=None, **fields)


# --- create_ticket ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "expected_type"),
    [
        ("team_email", "email"),
        ("form", "email"),
        ("whatsapp", "messages"),
        ("chatflow", "messages"),
        ("custom_chat", "messages"),
        ("calling", "calls"),
    ],
)
def test_r12_create_ticket_derives_type_from_channel(kind, expected_type):
    channel = ChannelFactory(kind=kind)
    ticket, created = create_ticket(subject="Help", body="Hello", channel=channel)
    assert created
    assert fresh(ticket).ticket_type == expected_type


def test_r1_create_ticket_from_channel_is_unassigned_and_pending_routing(captured_events):
    channel = ChannelFactory(kind="team_email")
    contact = ContactFactory()
    ticket, created = create_ticket(
        subject="  Printer on fire  ",
        body="It is burning.",
        channel=channel,
        contact=contact,
        external_id="<m1@mail.example>",
        language="no",
    )
    ticket = fresh(ticket)
    assert created
    assert ticket.subject == "Printer on fire"
    assert (ticket.owner, ticket.team, ticket.assigned_at) == (None, None, None)
    assert ticket.status == Ticket.Status.NEW
    assert ticket.routing_state == Ticket.RoutingState.PENDING
    assert ticket.source == Ticket.Source.CHANNEL
    assert ticket.contact == contact
    assert ticket.language == "no"
    [message] = ticket.messages.all()
    assert message.direction == Message.Direction.INBOUND
    assert message.body == "It is burning."
    assert message.channel == channel
    assert message.external_id == "<m1@mail.example>"
    assert captured_events.names == ["ticket_created"]
    [sent] = captured_events.of("ticket_created")
    assert sent["ticket"].pk == ticket.pk
    assert sent["actor"] is None


def test_r12_create_ticket_without_channel_is_email_other_and_skips_routing(agent):
    ticket, created = create_ticket(
        subject="Phoned in", body="Notes", source=Ticket.Source.MANUAL, actor=agent
    )
    ticket = fresh(ticket)
    assert created
    assert ticket.channel is None
    assert ticket.ticket_type == "email"
    assert ticket.source == Ticket.Source.MANUAL
    assert ticket.routing_state == Ticket.RoutingState.SKIPPED


def test_create_ticket_sends_the_actor(agent, captured_events):
    ticket, _ = create_ticket(subject="By hand", body="x", actor=agent)
    [sent] = captured_events.of("ticket_created")
    assert sent == {"ticket": ticket, "actor": agent}


def test_create_ticket_redelivery_returns_the_same_ticket_and_creates_nothing(captured_events):
    channel = ChannelFactory(kind="whatsapp")
    first, created = create_ticket(
        subject="Hi", body="Hello", channel=channel, external_id="wamid.42"
    )
    assert created
    captured_events.clear()

    again, created_again = create_ticket(
        subject="Hi", body="Hello", channel=channel, external_id="wamid.42"
    )

    assert not created_again
    assert again.pk == first.pk
    assert Ticket.objects.count() == 1
    assert Message.objects.count() == 1
    assert captured_events == []


def test_create_ticket_same_external_id_on_another_channel_is_a_new_ticket():
    first, _ = create_ticket(subject="A", body="a", channel=ChannelFactory(), external_id="x1")
    second, created = create_ticket(
        subject="B", body="b", channel=ChannelFactory(), external_id="x1"
    )
    assert created
    assert second.pk != first.pk


def test_create_ticket_refuses_inactive_channel(captured_events):
    channel = ChannelFactory(is_active=False, name="Old inbox")
    with pytest.raises(ValidationError) as exc:
        create_ticket(subject="Hi", body="x", channel=channel)
    assert "channel" in exc.value.message_dict
    assert "Old inbox" in exc.value.message_dict["channel"][0]
    assert Ticket.objects.count() == 0
    assert captured_events == []


@pytest.mark.parametrize("subject", ["", "   "])
def test_create_ticket_refuses_blank_subject(subject):
    with pytest.raises(ValidationError) as exc:
        create_ticket(subject=subject, body="x", channel=ChannelFactory())
    assert "subject" in exc.value.message_dict
    assert Ticket.objects.count() == 0


# --- assign (R3, R5) ----------------------------------------------------------------------


def test_r3_assign_to_user_sets_owner_and_assigned_at_and_records_event(
    agent, other_agent, captured_events
):
    ticket = unassigned_ticket()
    version = ticket.version

    event = assign(ticket=ticket, owner=other_agent, actor=agent, cause=Cause.MANUAL)

    stored = fresh(ticket)
    assert stored.owner == other_agent
    assert stored.assigned_at == event.created_at
    assert stored.version == version + 1
    assert ticket.owner == other_agent  # the caller's copy is kept in step
    assert ticket.version == stored.version
    assert (event.from_owner, event.to_owner, event.actor, event.cause) == (
        None,
        other_agent,
        agent,
        "manual",
    )
    assert list(stored.assignments.all()) == [event]
    [sent] = captured_events.of("ticket_assigned")
    assert sent["assignment"] == event
    assert sent["actor"] == agent
    assert sent["ticket"].pk == ticket.pk


def test_r3_assign_to_team(agent, captured_events):
    team = TeamFactory()
    ticket = unassigned_ticket()
    event = assign(ticket=ticket, team=team, actor=agent, cause=Cause.MANUAL)
    stored = fresh(ticket)
    assert (stored.owner, stored.team, stored.assigned_at) == (None, team, None)
    assert (event.from_team, event.to_team) == (None, team)
    assert captured_events.names == ["ticket_assigned"]


def test_r5_reassign_to_another_user(agent, other_agent):
    ticket = unassigned_ticket()
    assign(ticket=ticket, owner=agent, actor=agent, cause=Cause.MANUAL)
    first_assigned_at = fresh(ticket).assigned_at

    event = assign(ticket=ticket, owner=other_agent, actor=agent, cause=Cause.MANUAL)

    stored = fresh(ticket)
    assert stored.owner == other_agent
    assert stored.assigned_at == event.created_at
    assert stored.assigned_at >= first_assigned_at
    assert (event.from_owner, event.to_owner) == (agent, other_agent)
    assert stored.assignments.count() == 2


def test_r5_reassign_from_user_to_team(agent):
    team = TeamFactory()
    ticket = unassigned_ticket()
    assign(ticket=ticket, owner=agent, actor=agent, cause=Cause.MANUAL)

    event = assign(ticket=ticket, team=team, actor=agent, cause=Cause.MANUAL)

    stored = fresh(ticket)
    assert (stored.owner, stored.team, stored.assigned_at) == (None, team, None)
    assert (event.from_owner, event.to_owner, event.from_team, event.to_team) == (
        agent,
        None,
        None,
        team,
    )


def test_r5_keep_team_and_set_owner(agent):
    team = TeamFactory()
    ticket = TicketFactory(team=team)
    event = assign(ticket=ticket, owner=agent, team=team, actor=agent, cause=Cause.MANUAL)
    stored = fresh(ticket)
    assert (stored.owner, stored.team) == (agent, team)
    assert (event.from_team, event.to_team) == (team, team)


def test_assign_with_nobody_clears_owner_and_team(agent):
    team = TeamFactory()
    ticket = TicketFactory(owner=agent, team=team)
    event = assign(ticket=ticket, actor=agent, cause=Cause.MANUAL)
    stored = fresh(ticket)
    assert (stored.owner, stored.team, stored.assigned_at) == (None, None, None)
    assert stored.is_unassigned
    assert (event.from_owner, event.to_owner, event.from_team, event.to_team) == (
        agent,
        None,
        team,
        None,
    )


def test_assign_to_current_owner_is_a_no_op(agent, captured_events):
    ticket = TicketFactory(owner=agent)
    version = ticket.version
    assert assign(ticket=ticket, owner=agent, actor=agent, cause=Cause.MANUAL) is None
    assert fresh(ticket).version == version
    assert AssignmentEvent.objects.count() == 0
    assert captured_events == []


def test_r8_assign_refuses_owner_without_ticket_access(agent, outsider, captured_events):
    ticket = unassigned_ticket()
    with pytest.raises(ValidationError) as exc:
        assign(ticket=ticket, owner=outsider, actor=agent, cause=Cause.MANUAL)
    assert "owner" in exc.value.message_dict
    assert fresh(ticket).owner is None
    assert AssignmentEvent.objects.count() == 0
    assert captured_events == []


def test_r8_assign_refuses_inactive_agent(agent):
    from tests.factories import AgentFactory

    gone = AgentFactory(is_active=False)
    with pytest.raises(ValidationError):
        assign(ticket=unassigned_ticket(), owner=gone, actor=agent, cause=Cause.MANUAL)


def test_assign_with_stale_version_raises_and_changes_nothing(agent, other_agent, captured_events):
    ticket = unassigned_ticket()
    seen_version = ticket.version
    # Someone else acts first.
    assign(ticket=fresh(ticket), owner=other_agent, actor=other_agent, cause=Cause.MANUAL)
    captured_events.clear()

    with pytest.raises(TicketChanged) as exc:
        assign(
            ticket=ticket,
            owner=agent,
            actor=agent,
            cause=Cause.MANUAL,
            expected_version=seen_version,
        )

    assert exc.value.ticket.pk == ticket.pk
    stored = fresh(ticket)
    assert stored.owner == other_agent
    assert stored.assignments.count() == 1
    assert captured_events == []


def test_assign_with_current_version_succeeds(agent):
    ticket = unassigned_ticket()
    assign(
        ticket=ticket,
        owner=agent,
        actor=agent,
        cause=Cause.MANUAL,
        expected_version=ticket.version,
    )
    assert fresh(ticket).owner == agent


def test_manual_assign_of_pending_ticket_stops_routing(agent):
    ticket, _ = create_ticket(subject="Hi", body="x", channel=ChannelFactory())
    assert fresh(ticket).routing_state == Ticket.RoutingState.PENDING
    assign(ticket=ticket, owner=agent, actor=agent, cause=Cause.MANUAL)
    assert fresh(ticket).routing_state == Ticket.RoutingState.SKIPPED


def test_claim_for_routing_keeps_the_routers_reason_on_the_assignment(agent, captured_events):
    ticket, _ = create_ticket(subject="Hi", body="x", channel=ChannelFactory())
    why = "Assigned to Ada Agent by load balancing: fewest open tickets."

    event = claim_for_routing(ticket=ticket, owner=agent, team=None, reason=why)

    stored = fresh(ticket)
    assert (stored.owner, stored.routing_state) == (agent, Ticket.RoutingState.DONE)
    assert (event.cause, event.actor, event.reason) == (Cause.ROUTING, None, why)
    assert AssignmentEvent.objects.get(pk=event.pk).reason == why
    [sent] = captured_events.of("ticket_assigned")
    assert sent["assignment"] == event
    assert claim_for_routing(ticket=fresh(ticket), owner=agent, team=None) is None  # taken


def test_a_persons_assignment_has_no_reason(agent):
    event = assign(ticket=unassigned_ticket(), owner=agent, actor=agent, cause=Cause.MANUAL)
    assert AssignmentEvent.objects.get(pk=event.pk).reason == ""


def test_routing_assign_leaves_routing_state_to_the_engine(agent):
    ticket, _ = create_ticket(subject="Hi", body="x", channel=ChannelFactory())
    assign(ticket=ticket, owner=agent, actor=None, cause=Cause.ROUTING)
    stored = fresh(ticket)
    assert stored.owner == agent
    assert stored.routing_state == Ticket.RoutingState.PENDING


# --- reply (R4) ---------------------------------------------------------------------------


def test_r4_reply_assigns_unassigned_ticket_to_sender(agent, captured_events):
    ticket, _ = create_ticket(subject="Hi", body="x", channel=ChannelFactory())
    captured_events.clear()

    message = reply(ticket=ticket, author=agent, body="  We are on it.  ")

    stored = fresh(ticket)
    assert stored.owner == agent
    assert stored.assigned_at is not None
    assert stored.status == Ticket.Status.WAITING_ON_CONTACT
    assert stored.routing_state == Ticket.RoutingState.SKIPPED
    assert stored.last_activity_at == message.created_at
    [event] = stored.assignments.all()
    assert (event.to_owner, event.actor, event.cause) == (agent, agent, "reply")
    assert message.direction == Message.Direction.OUTBOUND
    assert message.body == "We are on it."
    assert message.author == agent
    assert message.channel == stored.channel
    assert captured_events.names == ["ticket_assigned", "message_added"]
    [added] = captured_events.of("message_added")
    assert added["message"] == message


def test_r4_reply_keeps_an_existing_owner(agent, other_agent, captured_events):
    ticket = TicketFactory(owner=other_agent)
    reply(ticket=ticket, author=agent, body="Chiming in")
    stored = fresh(ticket)
    assert stored.owner == other_agent
    assert stored.assignments.count() == 0
    assert "ticket_assigned" not in captured_events.names
    assert stored.status == Ticket.Status.WAITING_ON_CONTACT


def test_r4_reply_on_team_ticket_without_owner_keeps_the_team(agent):
    team = TeamFactory()
    ticket = TicketFactory(team=team)
    reply(ticket=ticket, author=agent, body="Taking it")
    stored = fresh(ticket)
    assert (stored.owner, stored.team) == (agent, team)


@pytest.mark.parametrize("body", ["", "   \n "])
def test_r4_reply_refuses_empty_body(agent, body, captured_events):
    ticket = unassigned_ticket()
    with pytest.raises(ValidationError) as exc:
        reply(ticket=ticket, author=agent, body=body)
    assert "body" in exc.value.message_dict
    stored = fresh(ticket)
    assert stored.owner is None
    assert stored.messages.filter(direction=Message.Direction.OUTBOUND).count() == 0
    assert captured_events == []


def test_r8_reply_refuses_user_without_ticket_access(outsider):
    ticket = unassigned_ticket()
    with pytest.raises(ValidationError):
        reply(ticket=ticket, author=outsider, body="Let me in")
    assert fresh(ticket).owner is None


def test_reply_with_stale_version_changes_nothing(agent, other_agent):
    ticket = unassigned_ticket()
    seen = ticket.version
    reply(ticket=fresh(ticket), author=other_agent, body="First")
    with pytest.raises(TicketChanged):
        reply(ticket=ticket, author=agent, body="Second", expected_version=seen)
    stored = fresh(ticket)
    assert stored.owner == other_agent
    assert list(stored.messages.filter(direction="outbound").values_list("body", flat=True)) == [
        "First"
    ]


# --- notes and inbound messages -----------------------------------------------------------


def test_add_note_changes_neither_owner_nor_status(agent, captured_events):
    ticket = unassigned_ticket(status=Ticket.Status.WAITING_ON_US)
    note = add_note(ticket=ticket, author=agent, body="Check the invoice first")
    stored = fresh(ticket)
    assert stored.owner is None
    assert stored.status == Ticket.Status.WAITING_ON_US
    assert stored.assignments.count() == 0
    assert note.direction == Message.Direction.NOTE
    assert note.author == agent
    assert stored.last_activity_at == note.created_at
    assert captured_events.names == ["message_added"]


def test_add_note_refuses_empty_body_and_outsiders(agent, outsider):
    ticket = unassigned_ticket()
    with pytest.raises(ValidationError):
        add_note(ticket=ticket, author=agent, body="  ")
    with pytest.raises(ValidationError):
        add_note(ticket=ticket, author=outsider, body="Hello")
    assert not ticket.messages.filter(direction=Message.Direction.NOTE).exists()


def test_add_inbound_message_reopens_a_closed_ticket(agent, captured_events):
    ticket = TicketFactory(owner=agent, status=Ticket.Status.CLOSED)
    assert ticket.closed_at is not None

    message, created = add_inbound_message(ticket=ticket, body="It broke again", external_id="m2")

    assert created
    stored = fresh(ticket)
    assert stored.status == Ticket.Status.WAITING_ON_US
    assert stored.closed_at is None
    assert stored.owner == agent
    assert message.direction == Message.Direction.INBOUND
    assert message.channel == stored.channel
    assert captured_events.names == ["message_added"]


def test_add_inbound_message_redelivery_is_recognised(captured_events):
    ticket = unassigned_ticket()
    first, created = add_inbound_message(ticket=ticket, body="Again", external_id="wamid.7")
    assert created
    captured_events.clear()
    version = fresh(ticket).version

    again, created_again = add_inbound_message(ticket=ticket, body="Again", external_id="wamid.7")

    assert not created_again
    assert again.pk == first.pk
    assert ticket.messages.filter(external_id="wamid.7").count() == 1
    assert fresh(ticket).version == version
    assert captured_events == []


# --- status and priority ------------------------------------------------------------------


def test_close_and_reopen_change_the_status_and_the_version(agent):
    ticket = TicketFactory(owner=agent)
    version = fresh(ticket).version
    close(ticket=ticket, actor=agent)
    stored = fresh(ticket)
    assert stored.status == Ticket.Status.CLOSED
    assert stored.closed_at is not None
    assert not stored.is_open
    assert stored.version == version + 1

    reopen(ticket=ticket, actor=agent)
    stored = fresh(ticket)
    assert stored.status == Ticket.Status.WAITING_ON_US
    assert stored.closed_at is None
    assert stored.version == version + 2


def test_closing_a_closed_ticket_sends_nothing(agent, captured_events):
    ticket = TicketFactory(status=Ticket.Status.CLOSED)
    version = ticket.version
    close(ticket=ticket, actor=agent)
    assert captured_events == []
    assert fresh(ticket).version == version


def test_close_with_stale_version_raises(agent):
    ticket = TicketFactory()
    with pytest.raises(TicketChanged):
        close(ticket=ticket, actor=agent, expected_version=ticket.version + 1)
    assert fresh(ticket).status == Ticket.Status.NEW


def test_set_priority_changes_the_priority_once(agent):
    ticket = TicketFactory(priority=Ticket.Priority.NORMAL)
    version = fresh(ticket).version
    set_priority(ticket=ticket, priority=Ticket.Priority.URGENT, actor=agent)
    stored = fresh(ticket)
    assert (stored.priority, stored.version) == (Ticket.Priority.URGENT, version + 1)

    set_priority(ticket=ticket, priority=Ticket.Priority.URGENT, actor=agent)
    assert fresh(ticket).version == version + 1  # the same priority again changes nothing


def test_set_priority_refuses_unknown_priority(agent):
    ticket = TicketFactory()
    with pytest.raises(ValidationError):
        set_priority(ticket=ticket, priority=99, actor=agent)
    assert fresh(ticket).priority == Ticket.Priority.NORMAL


# --- seats (R7) ---------------------------------------------------------------------------


def test_r7_give_seat_refuses_more_than_purchased(superadmin):
    AccountSettingsFactory(purchased_seats=Seat.objects.count() + 1)
    seated = UserFactory()
    give_seat(user=seated, by=superadmin)
    unlucky = UserFactory()

    with pytest.raises(ValidationError) as exc:
        give_seat(user=unlucky, by=superadmin)

    assert exc.value.code == "seat_limit"
    assert "purchased seats" in exc.value.messages[0]
    assert not Seat.objects.filter(user=unlucky).exists()
    assert Seat.objects.get(user=seated).given_by == superadmin


def test_r7_give_seat_twice_is_idempotent_even_when_full():
    user = UserFactory()
    AccountSettingsFactory(purchased_seats=Seat.objects.count() + 1)
    first = give_seat(user=user)
    second = give_seat(user=user)  # all seats are taken now, but this user has one
    assert first.pk == second.pk
    assert Seat.objects.filter(user=user).count() == 1


def test_r7_removing_a_seat_frees_it():
    from helpdesk.services import remove_seat

    AccountSettingsFactory(purchased_seats=Seat.objects.count() + 1)
    first, second = UserFactory(), UserFactory()
    give_seat(user=first)
    assert remove_seat(user=first)
    give_seat(user=second)
    assert Seat.objects.filter(user=second).exists()


# --- tokens and manual status (R11) --------------------------------------------------------


def test_api_token_is_stored_hashed_and_finds_its_user(agent):
    from helpdesk.models import ApiToken
    from helpdesk.services import create_api_token, user_for_token

    raw = create_api_token(user=agent, name="CI")
    token = ApiToken.objects.get(user=agent)
    assert raw not in (token.key_hash, token.prefix)
    assert token.prefix == raw[:8]
    assert user_for_token(raw) == agent
    assert user_for_token(raw + "x") is None
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_r11_set_status_changes_the_manual_status(agent):
    from helpdesk.models import User
    from helpdesk.services import set_status

    set_status(user=agent, status=User.Status.AWAY)
    assert agent.status == "away"
    assert User.objects.get(pk=agent.pk).status == "away"
    with pytest.raises(ValidationError):
        set_status(user=agent, status="asleep")
    assert User.objects.get(pk=agent.pk).status == "away"


# --- contacts -----------------------------------------------------------------------------


def test_contact_for_email_reuses_the_contact_case_insensitively():
    first = contact_for_email(email="Ann@Example.com", name="Ann")
    again = contact_for_email(email="  ann@EXAMPLE.com ")
    assert again.pk == first.pk
    assert first.email == "ann@example.com"
    assert Contact.objects.count() == 1


def test_contact_for_email_finds_a_contact_stored_with_capitals():
    """A contact entered by hand (admin, import) keeps the capitals it was typed with; mail
    from the same address must still find it rather than create a duplicate."""
    existing = ContactFactory(email="Bob.Smith@Example.com", name="Bob")
    found = contact_for_email(email="bob.smith@example.com")
    assert found.pk == existing.pk
    assert Contact.objects.count() == 1


def test_contact_for_email_fills_a_blank_name_but_keeps_a_known_one():
    contact = contact_for_email(email="c@example.com")
    assert contact.name == ""
    assert contact_for_email(email="c@example.com", name=" Cleo ").name == "Cleo"
    assert contact_for_email(email="c@example.com", name="Other").name == "Cleo"
