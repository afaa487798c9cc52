"""Which groups of fields the Automation form shows, per channel kind (R14–R19).

`_rules_for(kind)` says when each group of fields applies; `static/js/channel_settings.js` reads
the very same rules (rendered with `json_script`), so the page works the same with JavaScript off.
"""

from channels_cfg.models import AiFallback, AssignMode
from helpdesk.models import Channel

Kind = Channel.Kind
ASSIGN_KINDS = (Kind.TEAM_EMAIL, Kind.WHATSAPP, Kind.FORM)  # "Assign incoming tickets to" (R14)
CHAT_KINDS = (Kind.CHATFLOW, Kind.CUSTOM_CHAT)  # an assignment toggle (R18)
# Skill rules look at the ticket's language, text and priority; calls carry none of them when
# they are routed, and R19 lists calling's options without skills.
SKILL_KINDS = (*ASSIGN_KINDS, *CHAT_KINDS)

FIELD_GROUPS = {
    "users": "pool",
    "teams": "pool",
    "team": "team",
    "ai_fallback": "ai",
    "fallback_users": "fallback",
    "fallback_teams": "fallback",
    "distribution": "distribution",
    "available_only": "available",
    "reroute_when_available": "reroute",
    "skill_routing": "skills",
    "skill_fallback": "skill_rules",
}
ON = "on"  # what a ticked checkbox contributes to the state the rules read


def _rules_for(kind: str) -> dict[str, list[dict[str, list[str]]]]:
    """Group → alternatives (any may hold) → {state variable: accepted values} (all must)."""
    skills_on = {"skill_routing": [ON]}
    if kind in ASSIGN_KINDS:
        specific = {"assign_mode": [AssignMode.SPECIFIC]}
        fallback = {
            "assign_mode": [AssignMode.CUSTOMER_AGENT],
            "ai_fallback": [AiFallback.SPECIFIC],
        }
        owner = {"assign_mode": [AssignMode.CONTACT_OWNER]}
        routes_to_users = [specific, fallback, owner]
        return {
            "pool": [specific],
            "team": [{"assign_mode": [AssignMode.TEAM_ONLY]}],
            "ai": [{"assign_mode": [AssignMode.CUSTOMER_AGENT]}],
            "fallback": [fallback],
            "owner_note": [owner],
            "distribution": [specific, fallback],
            "reroute": [specific, fallback],
            "available": routes_to_users,
            "skills": routes_to_users,
            "skill_rules": [{**alt, **skills_on} for alt in routes_to_users],
        }
    toggle = {"chat_assignment_enabled" if kind in CHAT_KINDS else "call_routing": [ON]}
    rules = {g: [toggle] for g in ("pool", "distribution", "available", "reroute")}
    if kind in SKILL_KINDS:
        rules |= {"skills": [toggle], "skill_rules": [{**toggle, **skills_on}]}
    return rules


def groups_in_effect(rules: dict, state: dict[str, str]) -> set[str]:
    return {
        group
        for group, alternatives in rules.items()
        if any(all(state.get(var, "") in ok for var, ok in alt.items()) for alt in alternatives)
    }
