"""The routing engine: decide who gets a ticket, apply it safely, keep the explanation.

Concurrency. A decision runs in one transaction that takes its locks in a fixed order:
1. the ticket row (`SELECT … FOR NO KEY UPDATE`) — the same lock every helpdesk service
   takes before changing a ticket, so the router and a person serialise and the router,
   finding the ticket assigned, does nothing;
2. the rows of the eligible users, in id order (`FOR NO KEY UPDATE` too) — so two
   decisions that could pick the same agent (also from two channels sharing agents) run
   one after the other, and the second counts loads after the first has committed (read
   committed: every statement sees what was committed before it started). Decisions with
   disjoint pools run in parallel.
Why NO KEY: every insert of a row with a foreign key to a user or a ticket (a
notification, an assignment event, a message, a routing decision) checks it with
`FOR KEY SHARE` on the referenced row — at commit, in insertion order, since Django's
foreign keys are deferred. `FOR UPDATE` conflicts with KEY SHARE, so such a commit
referencing a later candidate and then an earlier one deadlocked with a decision (seen under
load); `FOR NO KEY UPDATE` does not conflict with KEY SHARE, and still conflicts with itself, so
decisions and services keep serialising among themselves (`tests/routing/test_deadlock.py`).
The claim itself is a conditional update (only while the ticket is open, without owner
and team, and pending), so even a path that skipped the lock could not overwrite anyone.
"""

import random
import time
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from channels_cfg.models import AiFallback, AssignMode, ChannelAutomation
from helpdesk import events, jobs, services
from helpdesk.models import AssignmentEvent, Channel, Message, Team, Ticket, TicketType, User
from routing import eligibility
from routing.config import CHAT_KINDS, RoutingConfig
from routing.eligibility import Exclusion, TicketFacts
from routing.models import RoundRobinTurn, RoutingDecision, WaitingTicket
from routing.strategies import Candidate, pick
from routing.tasks import email_submission_to_owner_task

Outcome = RoutingDecision.Outcome
STRATEGY_WORDS = {
    "load_balanced": "load balancing",
    "round_robin": "round robin",
    "random": "random choice",
}


@dataclass
class Decision:
    outcome: str
    summary: str
    mode: str = ""
    strategy: str = ""
    owner_id: int | None = None
    team_id: int | None = None
    candidates: list[Candidate] = field(default_factory=list)
    excluded: list[Exclusion] = field(default_factory=list)
    required_skills: list[str] = field(default_factory=list)
    email_owner_id: int | None = None  # form + contact owner offline (R14)
    owner: User | None = None
    waiting_for_agent: bool = False  # nobody available; may be routed again later


def load_config(channel: Channel | None) -> RoutingConfig | None:
    if channel is None:
        return None
    automation = ChannelAutomation.objects.select_related("channel").filter(channel=channel).first()
    if automation is None:
        return RoutingConfig.unconfigured(channel)
    return RoutingConfig.from_automation(automation)


def decide(
    *,
    config: RoutingConfig,
    facts: TicketFacts,
    at: datetime,
    channel_id: int | None,
    contact_owner_id: int | None = None,
    rng: random.Random | None = None,
    lock: bool = False,
) -> Decision:
    """Pure in effect: reads, never writes. With `lock`, the candidates' rows are locked
    (inside the caller's transaction) before their loads are counted."""
    mode = config.mode
    kind = config.channel_kind
    if kind in CHAT_KINDS:
        if not config.chat_assignment_enabled:
            return Decision(
                Outcome.UNASSIGNED,
                "Left unassigned: automatic assignment is off "
                "in this chat's settings, so conversations wait in Unassigned.",
                mode=mode,
            )
        mode = AssignMode.SPECIFIC
    if kind == Channel.Kind.CALLING and mode == AssignMode.SPECIFIC and not config.is_open_at(at):
        return Decision(
            Outcome.UNASSIGNED,
            "Left unassigned: the call came after hours, so it went to voicemail.",
            mode=mode,
        )

    if mode == AssignMode.NONE:
        return Decision(
            Outcome.UNASSIGNED,
            "Left unassigned: this channel assigns nobody "
            "(Assign incoming tickets to: None), so the ticket waits in Unassigned "
            "for triage.",
            mode=mode,
        )
    if mode == AssignMode.TEAM_ONLY:
        return _decide_team_only(config)
    if mode == AssignMode.CONTACT_OWNER:
        return _decide_contact_owner(config, facts, at, contact_owner_id)
    user_ids, team_ids, prefix = config.user_ids, config.team_ids, ""
    if mode == AssignMode.CUSTOMER_AGENT:
        if config.ai_fallback == AiFallback.NONE:
            return Decision(
                Outcome.UNASSIGNED,
                "Left unassigned: the customer agent handles "
                "this channel, and its fallback is None, so tickets it cannot "
                "answer wait in Unassigned.",
                mode=mode,
            )
        user_ids, team_ids = config.fallback_user_ids, config.fallback_team_ids
        prefix = "Customer agent fallback. "
    return _decide_specific(
        config, facts, at, channel_id, user_ids, team_ids, prefix, rng, lock, mode
    )


def _decide_specific(config, facts, at, channel_id, user_ids, team_ids, prefix, rng, lock, mode):
    users, excluded = eligibility.pool_for(user_ids, team_ids)
    screening = eligibility.screen(users, config, facts, at, excluded)
    pool = screening.users
    if lock and pool:
        list(
            User.objects.select_for_update(no_key=True)
            .filter(pk__in=[u.pk for u in pool])
            .order_by("pk")
            .values_list("pk", flat=True)
        )
    candidates, at_capacity = eligibility.rank(pool, config, facts.ticket_type, channel_id, at)
    excluded = screening.excluded + at_capacity
    chosen = pick(config.distribution, candidates, rng)
    decision = Decision(
        Outcome.ASSIGNED if chosen else Outcome.UNASSIGNED,
        "",
        mode=mode,
        strategy=config.distribution,
        owner_id=chosen.user_id if chosen else None,
        candidates=candidates,
        excluded=excluded,
        required_skills=screening.required_skills,
    )
    if chosen is not None:
        decision.owner = next(u for u in pool if u.pk == chosen.user_id)
    decision.summary = prefix + _explain(config, facts, chosen, candidates, screening, excluded)
    decision.waiting_for_agent = chosen is None and any(
        e.code in ("unavailable", "at_capacity") for e in excluded
    )
    return decision


def _explain(config, facts, chosen, candidates, screening, excluded) -> str:
    type_label = TicketType(facts.ticket_type).label
    skills = ""
    if screening.required_skills:
        skills = f" The ticket needs the skill(s) {', '.join(screening.required_skills)}"
        skills += (
            ": nobody eligible has them, so it went to the others."
            if screening.skill_fallback_used
            else "."
        )
    if chosen is None:
        if screening.pool_size == 0:
            return "Left unassigned: the rule names no user and its teams have no main members."
        reasons = _count_reasons(excluded)
        return (
            f"Left unassigned: none of the {screening.pool_size} users of this rule could "
            f"take it ({reasons}).{skills}"
        )
    n = len(candidates)
    if config.distribution == "load_balanced":
        why = (
            f"{chosen.name} had the fewest open {type_label} tickets assigned in the last "
            f"30 days ({chosen.load})"
        )
        ties = [c for c in candidates if c.load == chosen.load]
        if len(ties) > 1:
            why += (
                f", tied with {len(ties) - 1} other(s); ties go to whoever has waited "
                "longest since their last one"
            )
    elif config.distribution == "round_robin":
        why = f"it was {chosen.name}'s turn (their last round-robin ticket was the oldest)"
    else:
        why = f"{chosen.name} was picked at random"
    return (
        f"Assigned to {chosen.name} by {STRATEGY_WORDS[config.distribution]} among {n} "
        f"eligible user{'s' if n != 1 else ''}: {why}.{skills}"
    )


def _count_reasons(excluded: list[Exclusion]) -> str:
    counts: dict[str, int] = {}
    for e in excluded:
        counts[e.reason] = counts.get(e.reason, 0) + 1
    return "; ".join(f"{n} {reason}" for reason, n in counts.items()) or "nobody eligible"


def _decide_team_only(config: RoutingConfig) -> Decision:
    if not config.team_ids:
        return Decision(
            Outcome.UNASSIGNED,
            "Left unassigned: Team only is set but no team is chosen.",
            mode=AssignMode.TEAM_ONLY,
        )
    team = Team.objects.filter(pk=config.team_ids[0]).first()
    if team is None or not eligibility.team_has_seated_member(team.pk):
        return Decision(
            Outcome.UNASSIGNED,
            "Left unassigned: the chosen team has no member with a seat.",
            mode=AssignMode.TEAM_ONLY,
        )
    return Decision(
        Outcome.TEAM,
        f"Assigned to the team {team} without an owner (Team only): "
        "it shows in the team's My team's unassigned view.",
        mode=AssignMode.TEAM_ONLY,
        team_id=team.pk,
    )


def _decide_contact_owner(config, facts, at, owner_id) -> Decision:
    mode = AssignMode.CONTACT_OWNER
    if owner_id is None:
        return Decision(
            Outcome.UNASSIGNED,
            "Left unassigned: the contact has no owner (or is not identified).",
            mode=mode,
        )
    users, _ = eligibility.pool_for([owner_id], [])
    screening = eligibility.screen(users, config, facts, at)
    candidates, at_capacity = eligibility.rank(screening.users, config, facts.ticket_type, None, at)
    excluded = screening.excluded + at_capacity
    owner = users[0] if users else None
    if candidates:
        return Decision(
            Outcome.ASSIGNED,
            f"Assigned to {owner}, the contact's owner.",
            mode=mode,
            owner_id=owner_id,
            owner=owner,
            candidates=candidates,
            excluded=excluded,
        )
    reason = excluded[0].reason if excluded else "not eligible"
    decision = Decision(
        Outcome.UNASSIGNED,
        f"Left unassigned: the contact's owner {owner} cannot take it ({reason}).",
        mode=mode,
        excluded=excluded,
    )
    if config.channel_kind == Channel.Kind.FORM and excluded and excluded[0].code == "unavailable":
        decision.email_owner_id = owner_id
        decision.summary += " The form submission was emailed to them."
    return decision


def facts_of(ticket: Ticket) -> TicketFacts:
    first = (
        Message.objects.filter(ticket=ticket, direction=Message.Direction.INBOUND)
        .values_list("body", flat=True)
        .first()
    )
    return TicketFacts(
        ticket.ticket_type, ticket.subject, first or "", ticket.language, ticket.priority
    )


def route_ticket(
    *, ticket_id: int, at: datetime | None = None, rng: random.Random | None = None
) -> RoutingDecision | None:
    """Route one pending ticket. Idempotent: a ticket already routed, assigned or closed is
    left alone and None is returned."""
    started = time.perf_counter()
    with transaction.atomic():
        ticket = (
            Ticket.objects.select_for_update(of=("self",), no_key=True)
            .select_related("channel", "contact")
            .filter(pk=ticket_id)
            .first()
        )
        if ticket is None:
            return None
        if ticket.routing_state == Ticket.RoutingState.SKIPPED:
            # A person was faster (their change ended the pending state): say so, once.
            if RoutingDecision.objects.filter(ticket=ticket).exists():
                return None
            return _record_nothing_to_do(ticket, started)
        if ticket.routing_state != Ticket.RoutingState.PENDING:
            return None  # routed before: a redelivered message changes nothing
        if not ticket.is_open or not ticket.is_unassigned or ticket.channel is None:
            services.mark_routed(ticket=ticket, state=Ticket.RoutingState.SKIPPED)
            return _record_nothing_to_do(ticket, started)
        at = at or timezone.now()
        config = load_config(ticket.channel)
        contact = ticket.contact
        owner_id = contact.owner_id if contact is not None and contact.is_identified else None
        decision = decide(
            config=config,
            facts=facts_of(ticket),
            at=at,
            channel_id=ticket.channel_id,
            contact_owner_id=owner_id,
            rng=rng,
            lock=True,
        )
        return _apply(ticket, config, decision, at, started)


def _record_nothing_to_do(ticket: Ticket, started: float) -> RoutingDecision:
    return RoutingDecision.objects.create(
        ticket=ticket,
        channel_id=ticket.channel_id,
        outcome=Outcome.SKIPPED,
        summary=_nothing_to_do(ticket),
        duration_ms=round((time.perf_counter() - started) * 1000, 3),
    )


def _nothing_to_do(ticket: Ticket) -> str:
    """Why the router left a pending ticket alone: someone was faster, or it has no channel."""
    if ticket.channel_id is None:
        return "Not routed: the ticket has no channel, so no routing rule applies."
    if not ticket.is_open:
        return f"Nothing to do: the ticket was already {ticket.get_status_display().lower()}."
    last = (
        AssignmentEvent.objects.filter(ticket=ticket)
        .select_related("actor", "to_owner", "to_team")
        .order_by("-created_at", "-id")
        .first()
    )
    holder = ticket.owner or ticket.team
    if last is None:
        return f"Nothing to do: the ticket already belonged to {holder}."
    to = last.to_owner or (f"the team {last.to_team}" if last.to_team else holder)
    if last.cause == AssignmentEvent.Cause.MANUAL:
        how = "by hand"
    else:
        how = f"({last.get_cause_display().lower()})"
    by = f" by {last.actor}" if last.actor else ""
    at = timezone.localtime(last.created_at).strftime("%Y-%m-%d %H:%M %Z")
    return f"Nothing to do: already assigned to {to}{by} {how} at {at}."


def _apply(ticket, config, decision: Decision, at, started) -> RoutingDecision:
    owner = decision.owner
    team = Team.objects.get(pk=decision.team_id) if decision.team_id else None
    if owner or team:
        services.claim_for_routing(ticket=ticket, owner=owner, team=team)
        if owner and decision.strategy == "round_robin":
            # Taken now, under the locks, so turns are ordered as the decisions commit.
            turn_at = timezone.now()
            RoundRobinTurn.objects.bulk_create(
                [
                    RoundRobinTurn(
                        channel_id=ticket.channel_id, user=owner, last_assigned_at=turn_at
                    )
                ],
                update_conflicts=True,
                unique_fields=["channel", "user"],
                update_fields=["last_assigned_at"],
            )
    else:
        services.mark_routed(ticket=ticket, state=Ticket.RoutingState.DONE)
    waiting = decision.waiting_for_agent and config.reroute_when_available
    if waiting:
        WaitingTicket.objects.update_or_create(ticket=ticket, defaults={"since": at})
        decision.summary += " It will be routed again when an agent becomes available."
    record = RoutingDecision.objects.create(
        ticket=ticket,
        channel_id=ticket.channel_id,
        outcome=decision.outcome,
        owner=owner,
        team=team,
        mode=decision.mode,
        strategy=decision.strategy,
        summary=decision.summary,
        settings_snapshot=config.snapshot(),
        candidates=[
            {"user_id": c.user_id, "name": c.name, "load": c.load} for c in decision.candidates
        ],
        excluded=[e.as_json() for e in decision.excluded],
        required_skills=decision.required_skills,
        duration_ms=round((time.perf_counter() - started) * 1000, 3),
        created_at=at,
    )
    events.ticket_routed.send(
        sender=Ticket, ticket=ticket, outcome=decision.outcome, summary=decision.summary
    )
    if decision.email_owner_id:
        jobs.enqueue(
            email_submission_to_owner_task,
            key=f"email_submission_to_owner:{record.pk}",
            decision_id=record.pk,
        )
    return record
