"""Dry run for the settings page: who would receive the next tickets of a channel now, with
the settings as entered (before Save), and who is left out and why.

It runs the engine's dry run once (`routing.engine.dry_run`: the snapshot read without locks,
the same pure `decide()` as a real decision, nothing written), then plays the distribution
forward in memory for the following tickets (each pick adds one to that user's load and moves
them to the back of the turn).
"""

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.utils import timezone

from helpdesk.channel_kinds import policy_for
from helpdesk.models import Channel
from routing import engine
from routing.config import RoutingConfig
from routing.decision import Decision
from routing.eligibility import Exclusion, TicketFacts
from routing.strategies import pick


@dataclass
class Preview:
    recipients: list[str] = field(default_factory=list)  # names, one per coming ticket
    summary: str = ""  # the first decision in plain words
    excluded: list[Exclusion] = field(default_factory=list)
    candidates: int = 0
    team: str = ""


def preview_next(
    *,
    config: RoutingConfig,
    channel: Channel | None,
    count: int = 5,
    at: datetime | None = None,
    facts: TicketFacts | None = None,
    rng: random.Random | None = None,
) -> Preview:
    at = at or timezone.now()
    kind = config.channel_kind
    facts = facts or TicketFacts(ticket_type=policy_for(kind).ticket_type)
    rng = rng or random.Random(0)
    decision: Decision = engine.dry_run(
        config=config, facts=facts, at=at, channel_id=channel.pk if channel else None, rng=rng
    )
    result = Preview(
        summary=decision.summary, excluded=decision.excluded, candidates=len(decision.candidates)
    )
    if decision.team_id:
        result.team = decision.summary
        return result
    if decision.owner_id is None:
        return result
    pool = list(decision.candidates)
    chosen = next(c for c in pool if c.user_id == decision.owner_id)
    for step in range(count):
        if step:
            chosen = pick(config.distribution, pool, rng)
        result.recipients.append(chosen.name)
        given_at = at + timedelta(seconds=step + 1)  # newer than any real turn
        pool = [
            c._replace(load=c.load + 1, last_assigned_at=given_at, last_turn_at=given_at)
            if c.user_id == chosen.user_id
            else c
            for c in pool
        ]
    return result
