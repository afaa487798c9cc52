"""The eligibility rules alone (`routing.eligibility`), without the database: the pool of a
rule (R9), the checks of each user (R7, R8, R11, R16, R17) and the candidates with their
loads and turns; how the engine reads what they need is tested in test_engine.py."""

from datetime import UTC, datetime

import pytest

from channels_cfg.models import SkillRule
from helpdesk.availability import AVAILABLE, OFF_HOURS
from helpdesk.models import Channel, Ticket
from routing import eligibility
from routing.config import RoutingConfig, SkillCondition
from routing.eligibility import Load, Membership, PoolUser, TicketFacts

Condition = SkillRule.Condition
AT = datetime(2026, 3, 2, 12, tzinfo=UTC)


def person(user_id, *, access=True, seat=True) -> PoolUser:
    return PoolUser(user_id, f"User {user_id}", access, seat)


def test_r9_the_pool_is_the_chosen_users_and_the_main_members():
    memberships = [
        Membership(1, "main", "Support"),
        Membership(2, "additional", "Support"),
        Membership(3, "additional", "Support"),
        Membership(3, "main", "Billing"),  # main somewhere: in
    ]
    ids, extra = eligibility.pool_ids((4,), memberships)
    assert (ids, extra) == ({1, 3, 4}, {2: "Support"})
    pool, excluded = eligibility.split_pool(
        [person(1), person(2), person(3), person(4), person(9)], (4,), memberships
    )
    assert [u.user_id for u in pool] == [1, 3, 4]  # 9 is named by nothing: not listed
    assert [(e.user_id, e.code) for e in excluded] == [(2, "not_main_member")]


def test_r11_r16_availability_keeps_the_available_and_gives_the_reason_of_the_others():
    passed, excluded = eligibility.available([person(1), person(2)], {1: OFF_HOURS, 2: AVAILABLE})
    assert [u.user_id for u in passed] == [2]
    assert [(e.user_id, e.reason) for e in excluded] == [(1, "outside working hours")]


def skill_config(*rules, **kwargs) -> RoutingConfig:
    return RoutingConfig(
        channel_kind=Channel.Kind.TEAM_EMAIL, skill_routing=True, skill_rules=rules, **kwargs
    )


@pytest.mark.parametrize(
    ("rule", "facts", "matches"),
    [
        (("language_is", "NO "), {"language": "no"}, True),  # trimmed, either case
        (("language_is", "no"), {"language": "nb"}, False),
        (("text_contains", "invoice"), {"subject": "Wrong Invoice"}, True),
        (("text_contains", "invoice"), {"body": "about my INVOICE"}, True),
        (("text_contains", " "), {"body": "anything at all"}, False),  # empty never matches
        (("priority_is", "High"), {"priority": Ticket.Priority.HIGH}, True),
        (("priority_is", str(int(Ticket.Priority.HIGH))), {"priority": Ticket.Priority.HIGH}, True),
        (("priority_is", "high"), {"priority": Ticket.Priority.NORMAL}, False),
    ],
)
def test_r17_which_skill_rules_a_ticket_matches(rule, facts, matches):
    condition, value = rule
    config = skill_config(SkillCondition(condition, value, 7, "Skill"))
    needed = eligibility.required_skills(config, TicketFacts(ticket_type="email", **facts))
    assert needed == ({7: "Skill"} if matches else {})


def test_r17_skill_rules_count_only_when_skill_routing_is_on():
    rule = SkillCondition(Condition.LANGUAGE_IS, "no", 7, "Norwegian")
    off = RoutingConfig(channel_kind=Channel.Kind.TEAM_EMAIL, skill_rules=(rule,))
    assert eligibility.required_skills(off, TicketFacts("email", language="no")) == {}


def test_r17_users_missing_a_needed_skill_are_told_which():
    needed = {7: "Norwegian", 8: "Billing"}
    held = {1: frozenset({7, 8}), 2: frozenset({8})}
    users = [person(1), person(2), person(3)]
    passed, excluded, fallback = eligibility.skilled(users, needed, held, fallback_unskilled=False)
    assert [u.user_id for u in passed] == [1] and fallback is False
    assert [(e.user_id, e.reason) for e in excluded] == [
        (2, "missing skill Norwegian"),
        (3, "missing skill Billing, Norwegian"),
    ]
    # Someone has them: the fallback does not apply.
    assert eligibility.skilled(users, needed, held, fallback_unskilled=True)[2] is False
    nobody = eligibility.skilled(users[1:], needed, held, fallback_unskilled=True)
    assert ([u.user_id for u in nobody[0]], nobody[1], nobody[2]) == ([2, 3], [], True)


def test_screening_reads_availability_only_for_those_with_access_and_a_seat():
    """The engine reads availability for those users only: the screen never asks for more."""
    config = RoutingConfig(channel_kind=Channel.Kind.TEAM_EMAIL)
    users = [person(1, access=False), person(2, seat=False), person(3)]
    screening = eligibility.screen(
        users, config=config, facts=TicketFacts("email"), availability={3: AVAILABLE}, skills={}
    )
    assert [u.user_id for u in screening.users] == [3]
    assert screening.pool_size == 3


def test_candidates_carry_their_load_and_turn_and_users_at_capacity_are_left_out():
    turn = datetime(2026, 3, 1, tzinfo=UTC)
    candidates, excluded = eligibility.rank(
        [person(1), person(2), person(3)],
        ticket_type="messages",
        loads={1: Load(window=2, open_total=3, last_assigned_at=AT), 3: Load(0, 0)},
        limits={3: 0},  # a limit of 0: never routed to
        turns={2: turn},
    )
    assert [(c.user_id, c.load, c.last_assigned_at, c.last_turn_at) for c in candidates] == [
        (1, 2, AT, None),
        (2, 0, None, turn),  # no open tickets: load 0
    ]
    assert [(e.user_id, e.reason) for e in excluded] == [
        (3, "at capacity (0 of 0 open Messages tickets)")
    ]
