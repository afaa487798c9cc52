"""The three distributions (R15), as pure functions over eligible candidates.

Each takes the candidates (already filtered by eligibility) and returns the one chosen, or
None when there is nobody. No database here: they are tested alone.

Tie-breaks are deterministic:
- load balanced: fewest open tickets of the type assigned in the last 30 days (R10, R13);
  on a tie, the one who has waited longest since their last such assignment (never beats
  any time), then the lowest user id;
- round robin: the one whose last round-robin turn on this channel is oldest (never first),
  then the lowest user id — a rotation kept as timestamps, so it survives restarts,
  membership changes and many workers, and an agent back from being away gets one turn,
  not a burst;
- random: uniform over the candidates, from the given random generator (seedable).
"""

import random as _random
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import NamedTuple

NEVER = datetime.min.replace(tzinfo=UTC)


class Candidate(NamedTuple):
    user_id: int
    name: str
    load: int = 0
    last_assigned_at: datetime | None = None  # newest open ticket of the type in the window
    last_turn_at: datetime | None = None  # round robin on this channel


def load_balanced(candidates: Sequence[Candidate]) -> Candidate | None:
    if not candidates:
        return None
    return min(candidates, key=lambda c: (c.load, c.last_assigned_at or NEVER, c.user_id))


def round_robin(candidates: Sequence[Candidate]) -> Candidate | None:
    if not candidates:
        return None
    return min(candidates, key=lambda c: (c.last_turn_at or NEVER, c.user_id))


def pick_random(
    candidates: Sequence[Candidate], rng: _random.Random | None = None
) -> Candidate | None:
    if not candidates:
        return None
    ordered = sorted(candidates, key=lambda c: c.user_id)
    return (rng or _random.SystemRandom()).choice(ordered)


STRATEGIES = {
    "load_balanced": lambda candidates, rng: load_balanced(candidates),
    "round_robin": lambda candidates, rng: round_robin(candidates),
    "random": pick_random,
}


def pick(distribution: str, candidates: Sequence[Candidate], rng=None) -> Candidate | None:
    return STRATEGIES[distribution](candidates, rng)
