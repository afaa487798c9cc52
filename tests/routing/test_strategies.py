"""R15: the three distributions as pure functions (no database)."""

import random
from collections import Counter
from datetime import UTC, datetime, timedelta

from routing.strategies import Candidate, load_balanced, pick, pick_random, round_robin

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def test_r10_load_balanced_picks_fewest_open_tickets():
    cands = [Candidate(1, "a", load=3), Candidate(2, "b", load=1), Candidate(3, "c", load=2)]
    assert load_balanced(cands).user_id == 2


def test_r10_load_balanced_tie_goes_to_longest_waiting_then_lowest_id():
    cands = [
        Candidate(1, "a", load=1, last_assigned_at=T0 + timedelta(hours=2)),
        Candidate(2, "b", load=1, last_assigned_at=T0),
        Candidate(3, "c", load=1, last_assigned_at=T0),
        Candidate(4, "d", load=5, last_assigned_at=None),
    ]
    assert load_balanced(cands).user_id == 2
    never = [Candidate(7, "x", load=0), Candidate(5, "y", load=0, last_assigned_at=T0)]
    assert load_balanced(never).user_id == 7  # never assigned has waited longest


def test_r15_round_robin_picks_oldest_turn_and_never_first():
    cands = [
        Candidate(1, "a", last_turn_at=T0 + timedelta(minutes=2)),
        Candidate(2, "b", last_turn_at=T0 + timedelta(minutes=1)),
        Candidate(3, "c", last_turn_at=None),
    ]
    assert round_robin(cands).user_id == 3


def test_r15_round_robin_rotates_sequentially_and_survives_membership_changes():
    turns = {1: None, 2: None, 3: None}
    order = []
    for i in range(6):
        cands = [Candidate(uid, str(uid), last_turn_at=t) for uid, t in turns.items()]
        chosen = round_robin(cands)
        order.append(chosen.user_id)
        turns[chosen.user_id] = T0 + timedelta(seconds=i)
        if i == 2:
            turns[4] = None  # a new member joins: gets one turn next, not a burst
    assert order == [1, 2, 3, 4, 1, 2]


def test_r15_round_robin_returning_agent_gets_one_turn_not_a_burst():
    turns = {1: T0, 2: T0 + timedelta(seconds=1), 3: T0 + timedelta(seconds=2)}
    away = {1}
    order = []
    for i in range(3, 9):
        if i == 6:
            away.clear()  # agent 1 is back
        cands = [Candidate(u, str(u), last_turn_at=t) for u, t in turns.items() if u not in away]
        chosen = round_robin(cands)
        order.append(chosen.user_id)
        turns[chosen.user_id] = T0 + timedelta(seconds=i)
    # while away: 2, 3, 2; back: 1 once, then the rotation continues
    assert order == [2, 3, 2, 1, 3, 2]


def test_r15_random_is_uniform_and_seedable():
    cands = [Candidate(i, str(i)) for i in range(1, 5)]
    first = [pick_random(cands, random.Random(7)).user_id for _ in range(3)]
    again = [pick_random(cands, random.Random(7)).user_id for _ in range(3)]
    assert first == again
    rng = random.Random(1)
    counts = Counter(pick_random(cands, rng).user_id for _ in range(4000))
    assert set(counts) == {1, 2, 3, 4}
    assert all(900 < n < 1100 for n in counts.values()), counts


def test_r16_no_candidates_means_nobody():
    assert load_balanced([]) is None
    assert round_robin([]) is None
    assert pick_random([]) is None
    assert pick("load_balanced", []) is None
