"""The routing decision without the database: `routing.decision.decide` over snapshots built
by hand (no `django_db` mark, so any query would fail the test) — every assign-to mode (R14,
R18, R19), eligibility (R7–R9, R11, R16, R17), capacity, the distributions (R10, R13, R15)
and the words of the explanation."""

import random
from datetime import UTC, datetime, time, timedelta

from channels_cfg.models import AiFallback, AssignMode, Distribution, SkillRule
from helpdesk.availability import AVAILABLE, AWAY, OUT_OF_OFFICE
from helpdesk.models import Channel
from routing.config import HoursRange, RoutingConfig, SkillCondition
from routing.decision import Decision, Snapshot, TeamFacts, decide, route_of
from routing.eligibility import Load, Membership, PoolUser, TicketFacts
from routing.models import RoutingDecision

Kind = Channel.Kind
Outcome = RoutingDecision.Outcome
MONDAY_NOON = datetime(2026, 3, 2, 12, tzinfo=UTC)
MAIN, ADDITIONAL = "main", "additional"


def config(kind=Kind.TEAM_EMAIL, **kwargs) -> RoutingConfig:
    kwargs.setdefault("mode", AssignMode.SPECIFIC)
    return RoutingConfig(channel_kind=kind, **kwargs)


def person(user_id: int, name: str = "", *, access=True, seat=True) -> PoolUser:
    return PoolUser(user_id, name or f"User {user_id}", access, seat)


def snapshot(settings: RoutingConfig, *users: PoolUser, **parts) -> Snapshot:
    """A snapshot as the engine reads it: everyone available unless `availability` says
    otherwise."""
    parts.setdefault("availability", {u.user_id: AVAILABLE for u in users})
    parts.setdefault("facts", TicketFacts(ticket_type="email"))
    parts.setdefault("at", MONDAY_NOON)
    return Snapshot(config=settings, users=tuple(users), **parts)


def codes(decision: Decision) -> dict[int, str]:
    return {e.user_id: e.code for e in decision.excluded}


# ---------------------------------------------------------------------------------------
# Modes that look at nobody
# ---------------------------------------------------------------------------------------


def test_r14_none_leaves_the_ticket_for_triage_without_looking_at_anyone():
    decision = decide(snapshot(config(mode=AssignMode.NONE, user_ids=(1,)), person(1)))
    assert (decision.outcome, decision.owner_id, decision.mode) == (
        Outcome.UNASSIGNED,
        None,
        "none",
    )
    assert decision.summary == (
        "Left unassigned: this channel assigns nobody (Assign incoming tickets to: None), "
        "so the ticket waits in Unassigned for triage."
    )


def test_r18_a_chat_assigns_only_when_its_toggle_is_on():
    off = config(Kind.CHATFLOW, mode=AssignMode.NONE, user_ids=(1,))
    decision = decide(snapshot(off, person(1)))
    assert decision.outcome == Outcome.UNASSIGNED
    assert "automatic assignment is off in this chat's settings" in decision.summary
    on = config(Kind.CUSTOM_CHAT, mode=AssignMode.NONE, user_ids=(1,), chat_assignment_enabled=True)
    decision = decide(snapshot(on, person(1)))
    assert (decision.outcome, decision.owner_id, decision.mode) == (Outcome.ASSIGNED, 1, "specific")


def test_r19_a_call_after_hours_goes_to_voicemail():
    calls = config(
        Kind.CALLING,
        user_ids=(1,),
        opening_hours=(HoursRange(0, time(8), time(16)),),
        opening_hours_time_zone="Europe/Oslo",
    )
    facts = TicketFacts(ticket_type="calls")
    assert decide(snapshot(calls, person(1), facts=facts)).owner_id == 1
    night = decide(snapshot(calls, person(1), facts=facts, at=MONDAY_NOON + timedelta(hours=6)))
    assert night.outcome == Outcome.UNASSIGNED
    assert night.summary == "Left unassigned: the call came after hours, so it went to voicemail."


def test_r14_customer_agent_without_fallback_waits_and_with_one_routes_to_its_users():
    none = config(mode=AssignMode.CUSTOMER_AGENT, ai_fallback=AiFallback.NONE, user_ids=(1,))
    assert "its fallback is None" in decide(snapshot(none, person(1))).summary
    fallback = config(
        mode=AssignMode.CUSTOMER_AGENT,
        ai_fallback=AiFallback.SPECIFIC,
        user_ids=(1,),
        fallback_user_ids=(2,),
    )
    decision = decide(snapshot(fallback, person(1), person(2)))
    assert decision.owner_id == 2  # the fallback users, not the rule's
    assert decision.summary.startswith("Customer agent fallback. Assigned to User 2 by load")


def test_the_route_tells_the_reader_what_to_read():
    assert route_of(config(mode=AssignMode.NONE), MONDAY_NOON, None).why == "assigns_nobody"
    assert (
        route_of(config(mode=AssignMode.TEAM_ONLY, team_ids=(4, 7)), MONDAY_NOON, None).team_id == 4
    )
    owner = route_of(config(mode=AssignMode.CONTACT_OWNER), MONDAY_NOON, 9)
    assert owner.owner_id == 9
    pool = route_of(config(user_ids=(1,), team_ids=(2,)), MONDAY_NOON, None)
    assert (pool.user_ids, pool.team_ids, pool.customer_agent_fallback) == ((1,), (2,), False)


# ---------------------------------------------------------------------------------------
# Team only and contact owner
# ---------------------------------------------------------------------------------------


def test_r14_team_only_needs_a_chosen_team_with_a_seated_member():
    none_chosen = decide(snapshot(config(mode=AssignMode.TEAM_ONLY)))
    assert none_chosen.summary == "Left unassigned: Team only is set but no team is chosen."
    team_only = config(mode=AssignMode.TEAM_ONLY, team_ids=(5,))
    gone = decide(snapshot(team_only, team=None))
    assert gone.summary == "Left unassigned: the chosen team has no member with a seat."
    unseated = decide(snapshot(team_only, team=TeamFacts(5, "Billing", has_seated_member=False)))
    assert unseated.outcome == Outcome.UNASSIGNED
    decision = decide(snapshot(team_only, team=TeamFacts(5, "Billing", has_seated_member=True)))
    assert (decision.outcome, decision.team_id, decision.owner_id) == (Outcome.TEAM, 5, None)
    assert decision.summary == (
        "Assigned to the team Billing without an owner (Team only): "
        "it shows in the team's My team's unassigned view."
    )


def test_r14_contact_owner_gets_it_when_eligible():
    owner_rule = config(mode=AssignMode.CONTACT_OWNER)
    assert "the contact has no owner" in decide(snapshot(owner_rule)).summary
    decision = decide(snapshot(owner_rule, person(3, "Olga Owner"), contact_owner_id=3))
    assert (decision.outcome, decision.owner_id) == (Outcome.ASSIGNED, 3)
    assert decision.summary == "Assigned to Olga Owner, the contact's owner."


def test_r14_an_offline_contact_owner_of_a_form_is_emailed_the_submission():
    away = {3: AWAY}
    form = config(Kind.FORM, mode=AssignMode.CONTACT_OWNER)
    decision = decide(
        snapshot(form, person(3, "Olga Owner"), contact_owner_id=3, availability=away)
    )
    assert (decision.outcome, decision.email_owner_id) == (Outcome.UNASSIGNED, 3)
    assert decision.summary == (
        "Left unassigned: the contact's owner Olga Owner cannot take it (set to away). "
        "The form submission was emailed to them."
    )
    email = config(Kind.TEAM_EMAIL, mode=AssignMode.CONTACT_OWNER)
    decision = decide(snapshot(email, person(3), contact_owner_id=3, availability=away))
    assert decision.email_owner_id is None and "emailed" not in decision.summary


def test_a_contact_owner_at_capacity_is_not_emailed():
    form = config(Kind.FORM, mode=AssignMode.CONTACT_OWNER)
    decision = decide(
        snapshot(
            form,
            person(3, "Olga Owner"),
            contact_owner_id=3,
            loads={3: Load(window=1, open_total=2)},
            limits={None: 2},
        )
    )
    assert decision.email_owner_id is None
    assert decision.summary == (
        "Left unassigned: the contact's owner Olga Owner cannot take it "
        "(at capacity (2 of 2 open Email/other tickets))."
    )


# ---------------------------------------------------------------------------------------
# Who is eligible
# ---------------------------------------------------------------------------------------


def test_r9_team_rules_route_to_main_members_and_list_additional_ones_first():
    team = (Membership(1, MAIN, "Support"), Membership(2, ADDITIONAL, "Support"))
    decision = decide(
        snapshot(
            config(team_ids=(9,)), person(1), person(2), person(3, seat=False), memberships=team
        )
    )
    assert decision.owner_id == 1
    assert [(e.user_id, e.code) for e in decision.excluded] == [(2, "not_main_member")]
    assert decision.excluded[0].reason == (
        "only an additional member of Support; team rules route to main members"
    )


def test_r9_a_chosen_user_who_is_also_an_additional_member_stays_in():
    team = (Membership(1, ADDITIONAL, "Support"),)
    decision = decide(snapshot(config(user_ids=(1,), team_ids=(9,)), person(1), memberships=team))
    assert decision.owner_id == 1 and decision.excluded == []


def test_r7_r8_users_without_ticket_access_or_seat_are_left_out():
    rule = config(user_ids=(1, 2, 3))
    decision = decide(
        snapshot(rule, person(1, access=False, seat=False), person(2, seat=False), person(3))
    )
    assert decision.owner_id == 3
    assert {e.user_id: e.reason for e in decision.excluded} == {
        1: "no ticket access",  # access is checked first
        2: "no helpdesk seat",
    }


def test_r16_only_available_users_unless_unticked():
    rule = config(user_ids=(1, 2))
    availability = {1: AWAY, 2: OUT_OF_OFFICE}
    decision = decide(snapshot(rule, person(1), person(2), availability=availability))
    assert decision.outcome == Outcome.UNASSIGNED
    assert [e.reason for e in decision.excluded] == ["set to away", "out of office"]
    assert decision.summary == (
        "Left unassigned: none of the 2 users of this rule could take it "
        "(1 set to away; 1 out of office)."
    )
    assert decision.waiting_for_agent is True
    anyone = config(user_ids=(1, 2), available_only=False)
    assert decide(snapshot(anyone, person(1), person(2), availability={})).owner_id == 1


def test_r17_skill_rules_require_the_skills_they_name():
    norwegian = SkillCondition(SkillRule.Condition.LANGUAGE_IS, "no", 7, "Norwegian")
    billing = SkillCondition(SkillRule.Condition.TEXT_CONTAINS, "invoice", 8, "Billing")
    rule = config(user_ids=(1, 2, 3), skill_routing=True, skill_rules=(norwegian, billing))
    facts = TicketFacts(ticket_type="email", subject="My INVOICE", language="no")
    held = {1: frozenset({7, 8}), 2: frozenset({7})}
    decision = decide(snapshot(rule, person(1), person(2), person(3), facts=facts, skills=held))
    assert decision.owner_id == 1
    assert decision.required_skills == ["Billing", "Norwegian"]
    assert {e.user_id: e.reason for e in decision.excluded} == {
        2: "missing skill Billing",
        3: "missing skill Billing, Norwegian",
    }
    assert decision.summary.endswith("The ticket needs the skill(s) Billing, Norwegian.")


def test_r17_without_a_skilled_user_the_channel_may_fall_back_to_the_others():
    billing = SkillCondition(SkillRule.Condition.PRIORITY_IS, "high", 8, "Billing")
    facts = TicketFacts(ticket_type="email", priority=3)  # High
    strict = config(user_ids=(1,), skill_routing=True, skill_rules=(billing,))
    decision = decide(snapshot(strict, person(1), facts=facts))
    assert decision.outcome == Outcome.UNASSIGNED and codes(decision) == {1: "missing_skill"}
    assert decision.waiting_for_agent is False  # a skill does not come back by itself
    lenient = config(
        user_ids=(1,), skill_routing=True, skill_rules=(billing,), skill_fallback_unskilled=True
    )
    decision = decide(snapshot(lenient, person(1), facts=facts))
    assert decision.owner_id == 1 and decision.excluded == []
    assert "nobody eligible has them, so it went to the others." in decision.summary


def test_capacity_leaves_out_users_at_their_own_limit_else_the_account_default():
    rule = config(user_ids=(1, 2, 3))
    decision = decide(
        snapshot(
            rule,
            person(1),
            person(2),
            person(3),
            loads={1: Load(0, 2), 2: Load(0, 4), 3: Load(5, 9)},
            limits={1: 2, 3: 10, None: 4},  # 1: own limit reached; 2: the default; 3: own, below
        )
    )
    assert decision.owner_id == 3
    assert [(e.user_id, e.reason) for e in decision.excluded] == [
        (1, "at capacity (2 of 2 open Email/other tickets)"),
        (2, "at capacity (4 of 4 open Email/other tickets)"),
    ]


def test_everyone_left_out_is_listed_in_the_order_of_the_checks():
    team = (Membership(5, ADDITIONAL, "Ops"),)
    rule = config(user_ids=(1, 2, 3, 4), team_ids=(9,))
    decision = decide(
        snapshot(
            rule,
            person(1, seat=False),
            person(2),
            person(3),
            person(4),
            person(5),
            memberships=team,
            availability={2: AWAY, 3: AVAILABLE, 4: AVAILABLE},
            loads={4: Load(0, 1)},
            limits={None: 1},
        )
    )
    assert [(e.user_id, e.code) for e in decision.excluded] == [
        (5, "not_main_member"),
        (1, "no_seat"),
        (2, "unavailable"),
        (4, "at_capacity"),
    ]
    assert decision.owner_id == 3


def test_a_rule_naming_nobody_says_so():
    decision = decide(snapshot(config(team_ids=(9,))))
    assert decision.summary == (
        "Left unassigned: the rule names no user and its teams have no main members."
    )
    assert decision.waiting_for_agent is False


# ---------------------------------------------------------------------------------------
# The distributions and their explanation
# ---------------------------------------------------------------------------------------


def test_r10_r13_load_balanced_takes_the_fewest_and_explains_ties():
    rule = config(user_ids=(1, 2, 3))
    earlier = MONDAY_NOON - timedelta(days=2)
    loads = {1: Load(2, 2), 2: Load(1, 5, MONDAY_NOON - timedelta(hours=1)), 3: Load(1, 1, earlier)}
    decision = decide(snapshot(rule, person(1), person(2), person(3, "Cleo"), loads=loads))
    assert decision.owner_id == 3  # tied with 2 at 1; waited longest since their last one
    assert [(c.user_id, c.load) for c in decision.candidates] == [(1, 2), (2, 1), (3, 1)]
    assert decision.summary == (
        "Assigned to Cleo by load balancing among 3 eligible users: Cleo had the fewest open "
        "Email/other tickets assigned in the last 30 days (1), tied with 1 other(s); ties go "
        "to whoever has waited longest since their last one."
    )
    alone = decide(snapshot(config(user_ids=(1,)), person(1, "Ada")))
    assert alone.summary == (
        "Assigned to Ada by load balancing among 1 eligible user: Ada had the fewest open "
        "Email/other tickets assigned in the last 30 days (0)."
    )


def test_r15_round_robin_takes_the_oldest_turn_never_first():
    rule = config(user_ids=(1, 2, 3), distribution=Distribution.ROUND_ROBIN)
    turns = {1: MONDAY_NOON - timedelta(hours=1), 3: MONDAY_NOON - timedelta(hours=2)}
    people = (person(1), person(2, "Bo"), person(3))
    decision = decide(snapshot(rule, *people, turns=turns))
    assert (decision.owner_id, decision.strategy) == (2, "round_robin")
    assert decision.summary == (
        "Assigned to Bo by round robin among 3 eligible users: it was Bo's turn (their last "
        "round-robin ticket was the oldest)."
    )
    turns[2] = MONDAY_NOON
    assert decide(snapshot(rule, *people, turns=turns)).owner_id == 3


def test_r15_random_is_seedable_and_says_so():
    rule = config(user_ids=(1, 2, 3), distribution=Distribution.RANDOM)
    people = (person(1), person(2), person(3))
    picks = [
        decide(snapshot(rule, *people), rng=random.Random(seed)).owner_id for seed in range(30)
    ]
    assert set(picks) == {1, 2, 3}
    again = [
        decide(snapshot(rule, *people), rng=random.Random(seed)).owner_id for seed in range(30)
    ]
    assert picks == again
    decision = decide(snapshot(rule, *people), rng=random.Random(0))
    assert decision.summary.endswith(f"User {decision.owner_id} was picked at random.")


def test_nobody_free_waits_for_an_agent_but_nobody_seated_does_not():
    rule = config(user_ids=(1,))
    full = decide(snapshot(rule, person(1), loads={1: Load(0, 3)}, limits={1: 3}))
    assert full.waiting_for_agent is True
    unseated = decide(snapshot(rule, person(1, seat=False)))
    assert unseated.waiting_for_agent is False
