"""The two readers of a decision agree (issue 14): on PostgreSQL the engine reads through
`routing.reads` (hand-written SQL, plain rows), elsewhere through the ORM. Both run here on
PostgreSQL over the same data — every check's inputs at once — and must give equal snapshots
and configs, so what SQLite (`make run`) decides is what production decides."""

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from channels_cfg.models import AssignMode, Distribution, SkillFallback, SkillRule
from helpdesk import services
from helpdesk.models import Channel, TeamMembership, User
from routing import engine, reads
from routing.config import RoutingConfig
from routing.decision import Snapshot, decide
from routing.eligibility import TicketFacts
from routing.models import CapacityLimit, RoundRobinTurn
from tests.factories import (
    AgentFactory,
    AgentSkillFactory,
    ChannelAutomationFactory,
    ChannelFactory,
    OpeningHoursFactory,
    OutOfOfficeFactory,
    SkillFactory,
    SkillRuleFactory,
    TeamFactory,
    TeamMembershipFactory,
    TicketFactory,
    UserFactory,
    WorkingHoursFactory,
)

# Each test compares the hand-written PostgreSQL reader with the ORM's, or reads through it.
pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

MONDAY_NOON = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def a_bit_of_everything(distribution):
    """A rule naming two teams and users directly, with someone for every check."""
    support, billing = TeamFactory(name="Support"), TeamFactory(name="Billing")
    main = [TeamMembershipFactory(team=support).user for _ in range(3)]
    TeamMembershipFactory(team=billing)  # a main member of the other team
    # main in one team, additional in the other
    TeamMembershipFactory(team=billing, user=main[0], role=TeamMembership.Role.ADDITIONAL)
    additional = TeamMembershipFactory(team=billing, role=TeamMembership.Role.ADDITIONAL).user
    TeamMembershipFactory(team=support, user=additional, role=TeamMembership.Role.ADDITIONAL)
    unseated = AgentFactory(seat=False)
    no_access = UserFactory()
    away = AgentFactory(first_name="Ada", last_name="Away")
    services.set_status(user=away, status=User.Status.AWAY)
    on_leave = AgentFactory()
    OutOfOfficeFactory(  # two periods now: the one ending first is the one an explanation names
        user=on_leave,
        start=MONDAY_NOON - timedelta(days=1),
        end=MONDAY_NOON + timedelta(days=2),
        note="Holiday",
    )
    OutOfOfficeFactory(
        user=on_leave, start=MONDAY_NOON - timedelta(hours=2), end=MONDAY_NOON + timedelta(hours=1)
    )
    working, off_hours = AgentFactory(time_zone="Europe/Oslo"), AgentFactory()
    for user, start in ((working, time(9)), (off_hours, time(14))):
        user.availability_mode = User.AvailabilityMode.WORKING_HOURS
        user.save()
        WorkingHoursFactory(user=user, start=start, end=time(18))
    skill, other_skill = SkillFactory(name="Norwegian"), SkillFactory(name="Legal")
    for user in (main[0], main[1], working):
        AgentSkillFactory(user=user, skill=skill)
    AgentSkillFactory(user=main[2], skill=other_skill)
    CapacityLimit.objects.create(user=main[1], ticket_type="email", max_open=1)
    CapacityLimit.objects.create(user=None, ticket_type="email", max_open=5)
    TicketFactory(channel=ChannelFactory(), owner=main[1], assigned_at=MONDAY_NOON)
    TicketFactory(
        channel=ChannelFactory(), owner=main[0], assigned_at=MONDAY_NOON - timedelta(days=40)
    )
    auto = ChannelAutomationFactory(
        channel=ChannelFactory(kind=Channel.Kind.TEAM_EMAIL),
        assign_mode=AssignMode.SPECIFIC,
        distribution=distribution,
        teams=[support, billing],
        users=[unseated, no_access, away, on_leave, working, off_hours],
        skill_routing=True,
        skill_fallback=SkillFallback.UNSKILLED,
    )
    SkillRuleFactory(automation=auto, skill=skill, value="no")
    SkillRuleFactory(
        automation=auto, skill=other_skill, condition=SkillRule.Condition.TEXT_CONTAINS, value="x"
    )
    RoundRobinTurn.objects.create(channel=auto.channel, user=main[0], last_assigned_at=MONDAY_NOON)
    return auto


@pytest.mark.parametrize("distribution", [Distribution.LOAD_BALANCED, Distribution.ROUND_ROBIN])
@pytest.mark.parametrize("available_only", [True, False])
def test_the_sql_and_orm_readers_give_equal_snapshots(distribution, available_only):
    auto = a_bit_of_everything(distribution)
    auto.available_only = available_only
    auto.save()
    config = RoutingConfig.from_automation(auto)
    facts = TicketFacts("email", "Hei", "", language="no")
    snapshot = Snapshot(config=config, facts=facts, at=MONDAY_NOON, channel_id=auto.channel_id)
    args = (snapshot, config.user_ids, config.team_ids)
    kwargs = {"lock": False, "turns_channel_id": auto.channel_id}
    by_sql, _ = engine._read_users_sql(*args, **kwargs)
    by_orm, _ = engine._read_users_orm(*args, **kwargs)
    assert by_sql == by_orm
    # the data reached every check, so the comparison means something
    assert by_sql.availability if available_only else not by_sql.availability
    assert by_sql.skills and by_sql.loads and by_sql.limits
    assert bool(by_sql.turns) == (distribution == Distribution.ROUND_ROBIN)
    assert {m.role for m in by_sql.memberships} == {"main", "additional"}
    assert decide(by_sql).summary == decide(by_orm).summary
    # The screening the reader kept is the one `decide` would run itself.
    assert by_sql.screened is not None
    assert decide(by_sql) == decide(replace(by_sql, screened=None))


@pytest.mark.parametrize(
    "kind", [Channel.Kind.TEAM_EMAIL, Channel.Kind.CALLING, Channel.Kind.CHATFLOW]
)
def test_the_sql_and_orm_readers_give_equal_configs(kind):
    auto = a_bit_of_everything(Distribution.ROUND_ROBIN)
    auto.channel.kind = kind
    auto.channel.save()
    auto.chat_assignment_enabled = True
    auto.opening_hours_time_zone = "Europe/Oslo"
    auto.save()
    if kind == Channel.Kind.CALLING:
        OpeningHoursFactory(automation=auto, start=time(13), end=time(15))
        OpeningHoursFactory(automation=auto)
    auto.fallback_users.set([AgentFactory()])
    expected = RoutingConfig.from_automation(auto)
    assert engine.config_of(auto.channel_id) == expected
    assert expected.skill_rules and expected.user_ids and expected.team_ids
    assert bool(expected.opening_hours) == (kind == Channel.Kind.CALLING)


def test_a_channel_never_configured_reads_its_kinds_defaults():
    channel = ChannelFactory(kind=Channel.Kind.FORM)
    assert engine.config_of(channel.pk) == RoutingConfig.unconfigured(channel)
    assert engine.config_of(channel.pk + 10_000) is None


def test_the_pool_is_one_statement_whatever_its_size():
    """The reader's statement count does not grow with the pool (issue 14)."""
    counts = {}
    for n in (3, 60):
        team = TeamFactory()
        for _ in range(n):
            TeamMembershipFactory(team=team)
        with CaptureQueriesContext(connection) as ctx:
            rows, _ = reads.pool_rows(
                user_ids=[],
                team_ids=[team.pk],
                needed_skill_ids=[1],
                ticket_type="email",
                at=MONDAY_NOON,
            )
        assert len(rows) == n
        counts[n] = len(ctx.captured_queries)
    assert counts == {3: 1, 60: 1}


def test_the_locked_ticket_carries_its_identified_contacts_owner_and_its_channels_settings():
    owner = AgentFactory()
    ticket = TicketFactory(channel=ChannelFactory(), contact__owner=owner)
    anonymous = TicketFactory(channel=ChannelFactory(), contact__owner=owner, contact__email="")
    locked, config = reads.lock_ticket(ticket.pk, generic_plans=False)
    assert locked.contact_owner_id == owner.pk
    assert config == reads.config_row(ticket.channel_id)
    assert config.kind == ticket.channel.kind
    locked, _ = reads.lock_ticket(anonymous.pk, generic_plans=True)
    assert locked.contact_owner_id is None
    assert (locked.pk, locked.subject, locked.version) == (
        anonymous.pk,
        anonymous.subject,
        anonymous.version,
    )
    assert reads.lock_ticket(anonymous.pk + 10_000, generic_plans=False) is None
    assert reads.lock_ticket(TicketFactory(channel=None).pk, generic_plans=False)[1] is None
