"""factory-boy factories for every model.

Factories write rows directly (they are fixtures, not services): `AgentFactory` gives a seat
without the purchased-seats check so a test can build as many agents as it needs; tests
that are about the seat limit use `helpdesk.services.give_seat`.
"""

import datetime as dt

import factory
from django.contrib.auth.models import Group
from django.utils import timezone
from factory.django import DjangoModelFactory

from channels_cfg.models import (
    AssignMode,
    ChannelAutomation,
    OpeningHours,
    SkillRule,
)
from helpdesk.models import (
    AccountSettings,
    AgentSkill,
    ApiToken,
    AssignmentEvent,
    Channel,
    Contact,
    Message,
    OutOfOffice,
    Seat,
    Skill,
    Team,
    TeamMembership,
    Ticket,
    User,
    WorkingHours,
)
from helpdesk.models.availability import Weekday
from helpdesk.services.groups import AGENTS, ensure_default_groups

PASSWORD = "pw"


def _group(name: str) -> Group:
    found = Group.objects.filter(name=name).first()
    if found is None:
        ensure_default_groups()
        found = Group.objects.get(name=name)
    return found


class UserFactory(DjangoModelFactory):
    """A plain user (no group, no seat). Password "pw". `groups=["Agents"]` adds groups."""

    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Sequence(lambda n: f"First{n}")
    last_name = "Tester"
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    password = factory.django.Password(PASSWORD)
    time_zone = "UTC"

    @factory.post_generation
    def groups(obj, create, extracted, **kwargs):
        if create and extracted:
            obj.groups.add(*[_group(g) if isinstance(g, str) else g for g in extracted])


class AgentFactory(UserFactory):
    """A user in the Agents group (ticket access, R8) with a seat (R7).

    `AgentFactory(seat=False)` leaves the seat out.
    """

    username = factory.Sequence(lambda n: f"agent{n}")

    @factory.post_generation
    def groups(obj, create, extracted, **kwargs):
        if not create:
            return
        obj.groups.add(_group(AGENTS))
        if extracted:
            obj.groups.add(*[_group(g) if isinstance(g, str) else g for g in extracted])

    @factory.post_generation
    def seat(obj, create, extracted, **kwargs):
        if create and extracted is not False:
            Seat.objects.get_or_create(user=obj)


class SeatFactory(DjangoModelFactory):
    class Meta:
        model = Seat

    user = factory.SubFactory(UserFactory)
    given_by = None


class AccountSettingsFactory(DjangoModelFactory):
    """The single account row (pk=1); creating it again updates it."""

    class Meta:
        model = AccountSettings

    purchased_seats = 10

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        kwargs.pop("pk", None)
        kwargs.pop("id", None)
        account, _ = model_class.objects.update_or_create(pk=1, defaults=kwargs)
        return account


class ApiTokenFactory(DjangoModelFactory):
    """A token whose raw value is known: `token.raw_key` (set through `ApiToken.set_key`)."""

    class Meta:
        model = ApiToken

    user = factory.SubFactory(AgentFactory)
    name = factory.Sequence(lambda n: f"Token {n}")
    raw_key = factory.Sequence(lambda n: f"test-api-key-{n:04d}-0123456789abcdef")

    @classmethod
    def _build(cls, model_class, *args, **kwargs):
        raw = kwargs.pop("raw_key")
        token = model_class(*args, **kwargs)
        token.set_key(raw)
        token.raw_key = raw
        return token

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        token = cls._build(model_class, *args, **kwargs)
        token.save()
        return token


class TeamFactory(DjangoModelFactory):
    class Meta:
        model = Team

    name = factory.Sequence(lambda n: f"Team {n}")


class TeamMembershipFactory(DjangoModelFactory):
    class Meta:
        model = TeamMembership

    team = factory.SubFactory(TeamFactory)
    user = factory.SubFactory(AgentFactory)
    role = TeamMembership.Role.MAIN


class SkillFactory(DjangoModelFactory):
    class Meta:
        model = Skill

    name = factory.Sequence(lambda n: f"Skill {n}")


class AgentSkillFactory(DjangoModelFactory):
    class Meta:
        model = AgentSkill

    user = factory.SubFactory(AgentFactory)
    skill = factory.SubFactory(SkillFactory)


class WorkingHoursFactory(DjangoModelFactory):
    """Monday 09:00–17:00 in the user's time zone unless told otherwise."""

    class Meta:
        model = WorkingHours

    user = factory.SubFactory(AgentFactory)
    weekday = Weekday.MONDAY
    start = dt.time(9, 0)
    end = dt.time(17, 0)


class OutOfOfficeFactory(DjangoModelFactory):
    """Away from an hour ago until a day later, unless told otherwise."""

    class Meta:
        model = OutOfOffice

    user = factory.SubFactory(AgentFactory)
    start = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(hours=1))
    end = factory.LazyAttribute(lambda o: o.start + dt.timedelta(days=1))
    note = ""


class ContactFactory(DjangoModelFactory):
    class Meta:
        model = Contact

    name = factory.Sequence(lambda n: f"Contact {n}")
    email = factory.Sequence(lambda n: f"contact{n}@customer.example")
    owner = None


class ChannelFactory(DjangoModelFactory):
    """A team email inbox unless `kind=` says otherwise."""

    class Meta:
        model = Channel

    kind = Channel.Kind.TEAM_EMAIL
    name = factory.Sequence(lambda n: f"Channel {n}")
    address = factory.Sequence(lambda n: f"support{n}@helpdesk.example")
    is_active = True


def _routing_state(ticket) -> str:
    if ticket.owner is not None or ticket.team is not None:
        return Ticket.RoutingState.DONE
    if ticket.channel is not None:
        return Ticket.RoutingState.PENDING
    return Ticket.RoutingState.SKIPPED


class TicketFactory(DjangoModelFactory):
    """A ticket as a channel would open it. The type follows the channel (R12); an owner
    comes with an `assigned_at` (the database requires it)."""

    class Meta:
        model = Ticket

    subject = factory.Sequence(lambda n: f"Ticket subject {n}")
    channel = factory.SubFactory(ChannelFactory)
    contact = factory.SubFactory(ContactFactory)
    ticket_type = factory.LazyAttribute(lambda o: Channel.ticket_type_for(o.channel))
    source = factory.LazyAttribute(
        lambda o: Ticket.Source.CHANNEL if o.channel is not None else Ticket.Source.MANUAL
    )
    status = Ticket.Status.NEW
    priority = Ticket.Priority.NORMAL
    owner = None
    team = None
    assigned_at = factory.LazyAttribute(lambda o: timezone.now() if o.owner else None)
    routing_state = factory.LazyAttribute(_routing_state)
    closed_at = factory.LazyAttribute(
        lambda o: timezone.now() if o.status == Ticket.Status.CLOSED else None
    )


class MessageFactory(DjangoModelFactory):
    class Meta:
        model = Message

    ticket = factory.SubFactory(TicketFactory)
    channel = factory.SelfAttribute("ticket.channel")
    direction = Message.Direction.INBOUND
    author = None
    body = factory.Sequence(lambda n: f"Message body {n}")
    external_id = ""


class AssignmentEventFactory(DjangoModelFactory):
    """A history row only: it does not change the ticket (use `services.assign` for that)."""

    class Meta:
        model = AssignmentEvent

    ticket = factory.SubFactory(TicketFactory)
    from_owner = None
    to_owner = factory.SubFactory(AgentFactory)
    from_team = None
    to_team = None
    actor = None
    cause = AssignmentEvent.Cause.MANUAL


class ChannelAutomationFactory(DjangoModelFactory):
    """`users=[…]`, `teams=[…]`, `fallback_users=[…]`, `fallback_teams=[…]` set the choices."""

    class Meta:
        model = ChannelAutomation
        skip_postgeneration_save = True

    channel = factory.SubFactory(ChannelFactory)
    assign_mode = AssignMode.NONE

    @factory.post_generation
    def users(obj, create, extracted, **kwargs):
        if create and extracted:
            obj.users.set(extracted)

    @factory.post_generation
    def teams(obj, create, extracted, **kwargs):
        if create and extracted:
            obj.teams.set(extracted)

    @factory.post_generation
    def fallback_users(obj, create, extracted, **kwargs):
        if create and extracted:
            obj.fallback_users.set(extracted)

    @factory.post_generation
    def fallback_teams(obj, create, extracted, **kwargs):
        if create and extracted:
            obj.fallback_teams.set(extracted)


class OpeningHoursFactory(DjangoModelFactory):
    """Monday 08:00–16:00 on a calling channel unless told otherwise (R19)."""

    class Meta:
        model = OpeningHours

    automation = factory.SubFactory(ChannelAutomationFactory, channel__kind=Channel.Kind.CALLING)
    weekday = Weekday.MONDAY
    start = dt.time(8, 0)
    end = dt.time(16, 0)


class SkillRuleFactory(DjangoModelFactory):
    """Language is "no" → the skill is required (R17)."""

    class Meta:
        model = SkillRule

    automation = factory.SubFactory(ChannelAutomationFactory)
    condition = SkillRule.Condition.LANGUAGE_IS
    value = "no"
    skill = factory.SubFactory(SkillFactory)
