"""Defaults aimed at an audience (R26, R27): a superadmin sets defaults for everyone, a team
(its main members) or one user. Precedence, strongest first: the user's own choice > a
default aimed at the user > the default of their main team > the default for everyone > the
built-in default. `effective_preferences` and `recipients_by_medium` answer in a fixed
number of queries whatever the number of users, teams and defaults."""

import pytest
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction

from helpdesk.models import TeamMembership, User
from notifications import services
from notifications.catalog import BUILT_IN, Event, Medium
from notifications.forms import source_label
from notifications.models import DefaultPreference
from notifications.services import Effective, Source
from tests.factories import AgentFactory, TeamFactory, TeamMembershipFactory
from tests.notifications.conftest import PREFERENCE_QUERIES

pytestmark = pytest.mark.django_db

CELL = (Event.ASSIGNED_TO_ME, Medium.EMAIL)  # built-in: on
OTHER = (Event.TICKET_UNASSIGNED, Medium.EMAIL)  # built-in: off
ADDITIONAL = TeamMembership.Role.ADDITIONAL


@pytest.fixture
def support(db):
    return TeamFactory(name="Support")


@pytest.fixture
def member(support):
    """Kari, a main member of Support."""
    user = AgentFactory(first_name="Kari", last_name="Nordmann")
    TeamMembershipFactory(team=support, user=user)
    return user


def wanted(event: str, medium: str, users: list[User]) -> set[int]:
    chosen = services.recipients_by_medium(event, User.objects.filter(pk__in=[u.pk for u in users]))
    return {u.pk for u in chosen[medium]}


# ---------------------------------------------------------------------------------------
# Precedence (R27)
# ---------------------------------------------------------------------------------------

# Each level set on top of those below it, with a value opposite to the one below, so the
# outcome shows which level won. The built-in default of CELL is on.
LEVELS = [
    ("account", False, Source.ACCOUNT_DEFAULT),
    ("team", True, Source.TEAM_DEFAULT),
    ("user", False, Source.USER_DEFAULT),
    ("own", True, Source.OWN),
]


def set_level(level: str, enabled: bool, *, actor, user, team) -> None:
    change = {CELL: enabled}
    if level == "account":
        services.update_default_preferences(actor=actor, changes=change)
    elif level == "team":
        services.update_default_preferences(actor=actor, changes=change, team=team)
    elif level == "user":
        services.update_default_preferences(actor=actor, changes=change, user=user)
    else:
        services.update_preferences(user=user, changes=change)


@pytest.mark.parametrize("top", range(len(LEVELS) + 1))
def test_r27_each_level_beats_the_next(top, superadmin, member, support):
    for level, enabled, _ in LEVELS[:top]:
        set_level(level, enabled, actor=superadmin, user=member, team=support)
    if top == 0:
        expected = Effective(BUILT_IN[CELL], Source.BUILT_IN)
    else:
        _, enabled, source = LEVELS[top - 1]
        expected = Effective(enabled, source, "Support" if source == Source.TEAM_DEFAULT else "")
    assert services.effective_preferences(member)[CELL] == expected
    # The sender's bulk form follows the same rule.
    assert wanted(*CELL, [member]) == ({member.pk} if expected.enabled else set())


@pytest.mark.parametrize("level", ["team", "user"])
def test_r27_a_level_applies_without_the_ones_below_it(level, superadmin, member, support):
    """No account default needed: a team or user default alone beats the built-in one."""
    set_level(level, False, actor=superadmin, user=member, team=support)
    effective = services.effective_preferences(member)[CELL]
    assert effective.enabled is False
    assert effective.source == (Source.TEAM_DEFAULT if level == "team" else Source.USER_DEFAULT)
    assert wanted(*CELL, [member]) == set()


def test_r27_a_user_default_beats_the_team_default_without_an_account_default(
    superadmin, member, support
):
    services.update_default_preferences(actor=superadmin, changes={CELL: False}, team=support)
    services.update_default_preferences(actor=superadmin, changes={CELL: True}, user=member)
    assert services.effective_preferences(member)[CELL] == Effective(True, Source.USER_DEFAULT)


def test_r27_only_the_main_team_counts(superadmin, member, support):
    billing = TeamFactory(name="Billing")
    TeamMembershipFactory(team=billing, user=member, role=ADDITIONAL)
    only_additional = AgentFactory()
    TeamMembershipFactory(team=billing, user=only_additional, role=ADDITIONAL)
    services.update_default_preferences(actor=superadmin, changes={CELL: False}, team=billing)

    # Billing's default reaches neither: one of them has it only as an additional team.
    for user in (member, only_additional):
        assert services.effective_preferences(user)[CELL] == Effective(True, Source.BUILT_IN)
    assert wanted(*CELL, [member, only_additional]) == {member.pk, only_additional.pk}

    # The main team's default does.
    services.update_default_preferences(actor=superadmin, changes={CELL: False}, team=support)
    assert services.effective_preferences(member)[CELL] == Effective(
        False, Source.TEAM_DEFAULT, "Support"
    )
    assert wanted(*CELL, [member, only_additional]) == {only_additional.pk}


def test_r26_defaults_for_one_user_or_team_leave_everyone_else_alone(superadmin, member, support):
    outsider_of_support = AgentFactory()
    services.update_default_preferences(actor=superadmin, changes={CELL: False}, user=member)
    services.update_default_preferences(actor=superadmin, changes={OTHER: True}, team=support)
    assert services.effective_preferences(outsider_of_support)[CELL].source == Source.BUILT_IN
    assert services.effective_preferences(outsider_of_support)[OTHER].source == Source.BUILT_IN
    assert services.default_preferences()[CELL] == Effective(True, Source.BUILT_IN)


def test_r27_labels_name_where_each_value_comes_from(superadmin, member, support):
    services.update_default_preferences(actor=superadmin, changes={CELL: False}, team=support)
    services.update_default_preferences(actor=superadmin, changes={OTHER: True}, user=member)
    effective = services.effective_preferences(member)
    assert source_label(effective[CELL]) == "Default for team Support"
    assert source_label(effective[OTHER]) == "Default set for you"
    services.update_default_preferences(
        actor=superadmin, changes={(Event.CUSTOMER_REPLY, Medium.EMAIL): False}
    )
    cell = services.effective_preferences(member)[(Event.CUSTOMER_REPLY, Medium.EMAIL)]
    assert source_label(cell) == "Default for everyone"
    assert source_label(effective[(Event.REASSIGNED_AWAY, Medium.EMAIL)]) == "Built-in default"


def test_r26_default_preferences_per_audience(superadmin, member, support):
    services.update_default_preferences(actor=superadmin, changes={CELL: False})
    services.update_default_preferences(actor=superadmin, changes={OTHER: True}, team=support)
    services.update_default_preferences(actor=superadmin, changes={CELL: True}, user=member)

    everyone = services.default_preferences()
    assert everyone[CELL] == Effective(False, Source.ACCOUNT_DEFAULT)
    assert everyone[OTHER] == Effective(False, Source.BUILT_IN)

    team = services.default_preferences(services.Audience(team=support))
    assert team[CELL] == Effective(False, Source.ACCOUNT_DEFAULT)
    assert team[OTHER] == Effective(True, Source.TEAM_DEFAULT, "Support")

    user = services.default_preferences(services.Audience(user=member))
    assert user[CELL] == Effective(True, Source.USER_DEFAULT)
    assert user[OTHER] == Effective(True, Source.TEAM_DEFAULT, "Support")


# ---------------------------------------------------------------------------------------
# Writing (R26): one audience at a time, superadmins only
# ---------------------------------------------------------------------------------------


def test_r26_update_and_reset_touch_one_audience(superadmin, member, support):
    for whom in ({}, {"team": support}, {"user": member}):
        services.update_default_preferences(
            actor=superadmin, changes={CELL: False, OTHER: True}, **whom
        )
    assert DefaultPreference.objects.count() == 6
    # Saving again updates the audience's row, never another audience's.
    services.update_default_preferences(actor=superadmin, changes={CELL: True}, team=support)
    assert DefaultPreference.objects.count() == 6
    assert DefaultPreference.objects.get(team=support, event=CELL[0], medium=CELL[1]).enabled
    assert not DefaultPreference.objects.get(
        team=None, user=None, event=CELL[0], medium=CELL[1]
    ).enabled

    assert services.reset_default_preferences(actor=superadmin, event=CELL[0], team=support) == 1
    assert services.reset_default_preferences(actor=superadmin, user=member) == 2
    remaining = set(DefaultPreference.objects.values_list("team_id", "user_id", "event"))
    assert remaining == {
        (None, None, CELL[0]),
        (None, None, OTHER[0]),
        (support.pk, None, OTHER[0]),
    }
    assert services.reset_default_preferences(actor=superadmin) == 2
    assert set(DefaultPreference.objects.values_list("team_id", "event")) == {
        (support.pk, OTHER[0])
    }


def test_r26_one_audience_at_a_time(superadmin, member, support):
    with pytest.raises(ValueError):
        services.update_default_preferences(
            actor=superadmin, changes={CELL: False}, team=support, user=member
        )
    with pytest.raises(ValueError):
        services.reset_default_preferences(actor=superadmin, team=support, user=member)
    assert not DefaultPreference.objects.exists()


def test_r26_only_superadmins_set_team_and_user_defaults(agent, admin_user, member, support):
    for actor in (agent, admin_user, member):
        for whom in ({"team": support}, {"user": member}):
            with pytest.raises(PermissionDenied):
                services.update_default_preferences(actor=actor, changes={CELL: False}, **whom)
            with pytest.raises(PermissionDenied):
                services.reset_default_preferences(actor=actor, **whom)
    assert not DefaultPreference.objects.exists()


def test_r26_the_database_keeps_one_row_per_audience_and_cell(superadmin, member, support):
    def row(**kwargs):
        DefaultPreference.objects.create(event=CELL[0], medium=CELL[1], enabled=True, **kwargs)

    for whom in ({}, {"team": support}, {"team": TeamFactory()}, {"user": member}):
        row(**whom)
    for whom in ({}, {"team": support}, {"user": member}, {"team": support, "user": member}):
        with pytest.raises(IntegrityError), transaction.atomic():
            row(**whom)


def test_audiences_with_defaults_lists_each_audience_with_its_rows(superadmin, member, support):
    assert services.audiences_with_defaults() == []
    services.update_default_preferences(
        actor=superadmin, changes={CELL: False, (CELL[0], Medium.IN_APP): True}, team=support
    )
    services.update_default_preferences(actor=superadmin, changes={OTHER: True}, team=support)
    services.update_default_preferences(actor=superadmin, changes={CELL: False}, user=member)
    services.update_default_preferences(actor=superadmin, changes={CELL: False})
    found = [(a.name, a.events, a.query) for a in services.audiences_with_defaults()]
    assert found == [
        ("Everyone", 1, ""),
        ("Team Support", 2, f"?team={support.pk}"),
        ("Kari Nordmann", 1, f"?user={member.pk}"),
    ]


# ---------------------------------------------------------------------------------------
# Fixed query counts
# ---------------------------------------------------------------------------------------


def many_audiences(superadmin, *, teams: int, per_team: int) -> list[User]:
    """`teams` teams, each with a default and `per_team` main members; every other member
    has a default of their own and every third their own choice."""
    users = []
    for t in range(teams):
        team = TeamFactory()
        services.update_default_preferences(
            actor=superadmin, changes={CELL: t % 2 == 0, OTHER: t % 3 == 0}, team=team
        )
        for _ in range(per_team):
            user = AgentFactory()
            TeamMembershipFactory(team=team, user=user)
            users.append(user)
    for i, user in enumerate(users):
        if i % 2:
            services.update_default_preferences(actor=superadmin, changes={OTHER: True}, user=user)
        if i % 3 == 0:
            services.update_preferences(user=user, changes={CELL: i % 2 == 0})
    services.update_default_preferences(actor=superadmin, changes={CELL: False, OTHER: False})
    return users


@pytest.mark.parametrize("teams", [1, 20])
def test_r27_effective_preferences_costs_two_queries(
    teams, superadmin, member, support, django_assert_num_queries
):
    many_audiences(superadmin, teams=teams, per_team=1)
    services.update_default_preferences(actor=superadmin, changes={CELL: True}, team=support)
    services.update_default_preferences(actor=superadmin, changes={OTHER: True}, user=member)
    # The defaults that reach the user (main team as a subquery), their own choices.
    with django_assert_num_queries(2):
        effective = services.effective_preferences(member)
    assert effective[CELL] == Effective(True, Source.TEAM_DEFAULT, "Support")
    assert effective[OTHER] == Effective(True, Source.USER_DEFAULT)


@pytest.mark.parametrize(("teams", "per_team"), [(1, 1), (5, 4)])
def test_r27_recipients_by_medium_costs_fixed_queries_for_1_or_20_recipients(
    teams, per_team, superadmin, django_assert_num_queries
):
    users = many_audiences(superadmin, teams=teams, per_team=per_team)
    for event in (CELL[0], OTHER[0]):
        recipients = User.objects.filter(pk__in=[u.pk for u in users])
        # The users, then their main teams, the defaults that can reach them, their own choices.
        with django_assert_num_queries(1 + PREFERENCE_QUERIES):
            chosen = services.recipients_by_medium(event, recipients)
        # …and it agrees with the one-user form, user by user.
        for medium in Medium.values:
            expected = {
                u.pk for u in users if services.effective_preferences(u)[(event, medium)].enabled
            }
            assert {u.pk for u in chosen[medium]} == expected, (event, medium)
    # A list of users already loaded costs one query less.
    with django_assert_num_queries(PREFERENCE_QUERIES):
        services.recipients_by_medium(CELL[0], users)
