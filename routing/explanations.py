"""Every sentence the routing engine writes, in one place.

The decision (`routing.decision`), the rules (`routing.eligibility`) and the engine
(`routing.engine`) pass facts — who was chosen, by which distribution, among how many, who
was left out and why — and this module turns them into the words kept on the
`RoutingDecision` (and as the reason of the routing's `AssignmentEvent`), shown on the ticket
page ("Why was this assigned to …?") and in the settings page's preview. Pure: no database.
"""

from collections.abc import Iterable
from datetime import datetime, timedelta
from enum import StrEnum

from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy, ngettext

from helpdesk.channel_kinds import TicketType
from routing.strategies import Candidate

STRATEGY_WORDS = {
    "load_balanced": gettext_lazy("load balancing"),
    "round_robin": gettext_lazy("round robin"),
    "random": gettext_lazy("random choice"),
}


class Unassigned(StrEnum):
    """Why a ticket was left unassigned before any user was looked at, or by a team or
    contact owner that cannot take it."""

    CHAT_TOGGLE_OFF = "chat_toggle_off"
    AFTER_HOURS = "after_hours"
    ASSIGNS_NOBODY = "assigns_nobody"
    CUSTOMER_AGENT_WITHOUT_FALLBACK = "customer_agent_without_fallback"
    NO_TEAM_CHOSEN = "no_team_chosen"
    TEAM_WITHOUT_SEAT = "team_without_seat"
    CONTACT_WITHOUT_OWNER = "contact_without_owner"
    EMPTY_RULE = "empty_rule"


UNASSIGNED = {
    Unassigned.CHAT_TOGGLE_OFF: gettext_lazy(
        "Left unassigned: automatic assignment is off in this chat's "
        "settings, so conversations wait in Unassigned."
    ),
    Unassigned.AFTER_HOURS: gettext_lazy(
        "Left unassigned: the call came after hours, so it went to voicemail."
    ),
    Unassigned.ASSIGNS_NOBODY: gettext_lazy(
        "Left unassigned: this channel assigns nobody (Assign incoming "
        "tickets to: None), so the ticket waits in Unassigned for triage."
    ),
    Unassigned.CUSTOMER_AGENT_WITHOUT_FALLBACK: gettext_lazy(
        "Left unassigned: the customer agent handles "
        "this channel, and its fallback is None, so tickets it cannot answer wait in Unassigned."
    ),
    Unassigned.NO_TEAM_CHOSEN: gettext_lazy(
        "Left unassigned: Team only is set but no team is chosen."
    ),
    Unassigned.TEAM_WITHOUT_SEAT: gettext_lazy(
        "Left unassigned: the chosen team has no member with a seat."
    ),
    Unassigned.CONTACT_WITHOUT_OWNER: gettext_lazy(
        "Left unassigned: the contact has no owner (or is not identified)."
    ),
    Unassigned.EMPTY_RULE: gettext_lazy(
        "Left unassigned: the rule names no user and its teams have no main members."
    ),
}

CUSTOMER_AGENT_FALLBACK = gettext_lazy("Customer agent fallback.")
ROUTED_AGAIN_WHEN_AVAILABLE = gettext_lazy(
    "It will be routed again when an agent becomes available."
)


def unassigned(why: Unassigned) -> str:
    return str(UNASSIGNED[why])


def customer_agent_fallback(summary: str) -> str:
    """A decision taken by the customer agent's fallback users and teams."""
    return f"{CUSTOMER_AGENT_FALLBACK} {summary}"


def routed_again_when_available(summary: str) -> str:
    """Nobody could take it, and the channel routes again when an agent becomes available."""
    return f"{summary} {ROUTED_AGAIN_WHEN_AVAILABLE}"


# ---------------------------------------------------------------------------------------
# Teams and contact owners
# ---------------------------------------------------------------------------------------


def assigned_to_team(team_name: str) -> str:
    return gettext(
        "Assigned to the team %(team_name)s without an owner (Team only): "
        "it shows in the team's My team's unassigned view."
    ) % {"team_name": team_name}


def assigned_to_contact_owner(owner_name: str) -> str:
    return gettext("Assigned to %(owner_name)s, the contact's owner.") % {"owner_name": owner_name}


def contact_owner_cannot_take_it(
    owner_name: str | None, reason: str | None, *, emailed: bool
) -> str:
    """`reason`: the first reason the owner was left out (None: no reason recorded)."""
    values = {"owner_name": owner_name, "reason": reason or gettext("not eligible")}
    if emailed:
        return (
            gettext(
                "Left unassigned: the contact's owner %(owner_name)s cannot take it "
                "(%(reason)s). The form submission was emailed to them."
            )
            % values
        )
    return (
        gettext("Left unassigned: the contact's owner %(owner_name)s cannot take it (%(reason)s).")
        % values
    )


# ---------------------------------------------------------------------------------------
# A pool of users and a distribution
# ---------------------------------------------------------------------------------------


def from_pool(
    *,
    distribution: str,
    ticket_type: str,
    load_window: timedelta,
    chosen: Candidate | None,
    candidates: list[Candidate],
    pool_size: int,
    exclusion_reasons: Iterable[str],
    required_skills: list[str],
    skill_fallback_used: bool,
) -> str:
    """Who got the ticket and why (or why nobody did), for a rule with users and teams.

    `pool_size` counts the users of the rule before anyone was left out;
    `exclusion_reasons` gives one reason per user left out."""
    skills = _skills_needed(required_skills, skill_fallback_used)
    if chosen is None:
        if pool_size == 0:
            return unassigned(Unassigned.EMPTY_RULE)
        summary = gettext(
            "Left unassigned: none of the %(pool_size)s users of this rule "
            "could take it (%(reasons)s)."
        ) % {"pool_size": pool_size, "reasons": _count_reasons(exclusion_reasons)}
        return f"{summary} {skills}" if skills else summary
    n = len(candidates)
    summary = ngettext(
        "Assigned to %(name)s by %(strategy)s among %(n)s eligible user: %(why)s.",
        "Assigned to %(name)s by %(strategy)s among %(n)s eligible users: %(why)s.",
        n,
    ) % {
        "name": chosen.name,
        "strategy": str(STRATEGY_WORDS[distribution]),
        "n": n,
        "why": _why_chosen(distribution, ticket_type, load_window, chosen, candidates),
    }
    return f"{summary} {skills}" if skills else summary


def _why_chosen(
    distribution: str,
    ticket_type: str,
    load_window: timedelta,
    chosen: Candidate,
    candidates: list[Candidate],
) -> str:
    """Why the distribution chose this user: the clause after the colon."""
    if distribution == "round_robin":
        return gettext("it was %(name)s's turn (their last round-robin ticket was the oldest)") % {
            "name": chosen.name
        }
    if distribution != "load_balanced":
        return gettext("%(name)s was picked at random") % {"name": chosen.name}
    values = {
        "name": chosen.name,
        "type": TicketType(ticket_type).label,
        "days": load_window.days,
        "load": chosen.load,
        "others": sum(1 for c in candidates if c.load == chosen.load) - 1,
    }
    if values["others"]:
        return (
            gettext(
                "%(name)s had the fewest open %(type)s tickets assigned in the last %(days)s "
                "days (%(load)s), tied with %(others)s other(s); ties go to whoever has "
                "waited longest since their last one"
            )
            % values
        )
    return (
        gettext(
            "%(name)s had the fewest open %(type)s tickets assigned in the last %(days)s days "
            "(%(load)s)"
        )
        % values
    )


def _skills_needed(required_skills: list[str], skill_fallback_used: bool) -> str:
    """The sentence about the skills the ticket needs ("" when it needs none)."""
    if not required_skills:
        return ""
    values = {"skills": ", ".join(required_skills)}
    if skill_fallback_used:
        return (
            gettext(
                "The ticket needs the skill(s) %(skills)s: nobody eligible has them, so it "
                "went to the others."
            )
            % values
        )
    return gettext("The ticket needs the skill(s) %(skills)s.") % values


def _count_reasons(reasons: Iterable[str]) -> str:
    counts: dict[str, int] = {}
    for reason in reasons:
        counts[reason] = counts.get(reason, 0) + 1
    return "; ".join(f"{n} {reason}" for reason, n in counts.items()) or gettext("nobody eligible")


# ---------------------------------------------------------------------------------------
# Why one user was left out (the reasons of `Exclusion`)
# ---------------------------------------------------------------------------------------

NO_ACCESS = gettext_lazy("no ticket access")
NO_SEAT = gettext_lazy("no helpdesk seat")


def not_main_member(team_name: str) -> str:
    return gettext(
        "only an additional member of %(team_name)s; team rules route to main members"
    ) % {"team_name": team_name}


def missing_skills(names: list[str]) -> str:
    return gettext("missing skill %(skills)s") % {"skills": ", ".join(names)}


def at_capacity(open_count: int, limit: int, ticket_type: str) -> str:
    return gettext("at capacity (%(open_count)s of %(limit)s open %(label)s tickets)") % {
        "open_count": open_count,
        "limit": limit,
        "label": TicketType(ticket_type).label,
    }


# ---------------------------------------------------------------------------------------
# Nothing to do: a person was faster, or the ticket has no channel
# ---------------------------------------------------------------------------------------

NO_CHANNEL = gettext_lazy("Not routed: the ticket has no channel, so no routing rule applies.")


def already_in_status(status_label: str) -> str:
    return gettext("Nothing to do: the ticket was already %(lower)s.") % {
        "lower": status_label.lower()
    }


def already_belonged_to(holder: object) -> str:
    """Assigned, but no assignment event says by whom (data from before events)."""
    return gettext("Nothing to do: the ticket already belonged to %(holder)s.") % {"holder": holder}


def already_assigned(
    *,
    to_owner: object,
    to_team: object,
    holder: object,
    by: object,
    by_hand: bool,
    cause: str,
    at: datetime,
) -> str:
    """The last assignment event: `to_owner` / `to_team` it went to (else the ticket's
    `holder`), `by` whom (None: nobody), by hand or with another `cause` (its label), `at`
    when (shown in the current time zone)."""
    values = {
        "to": to_owner or (gettext("the team %(team)s") % {"team": to_team} if to_team else holder),
        "by": by,
        "cause": cause.lower(),
        "when": timezone.localtime(at).strftime("%Y-%m-%d %H:%M %Z"),
    }
    if by and by_hand:
        text = gettext("Nothing to do: already assigned to %(to)s by %(by)s by hand at %(when)s.")
    elif by:
        text = gettext(
            "Nothing to do: already assigned to %(to)s by %(by)s (%(cause)s) at %(when)s."
        )
    elif by_hand:
        text = gettext("Nothing to do: already assigned to %(to)s by hand at %(when)s.")
    else:
        text = gettext("Nothing to do: already assigned to %(to)s (%(cause)s) at %(when)s.")
    return text % values
