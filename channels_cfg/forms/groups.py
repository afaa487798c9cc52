"""Which groups of fields the Automation form shows, per channel kind (R14–R19).

`_rules_for(kind)` says when each group of fields applies, from the kind's policy
(`helpdesk.channel_kinds`); `static/js/channel_settings.js` reads the very same rules
(rendered with `json_script`), so the page works the same with JavaScript off.
"""

from channels_cfg.models import AUTOMATION_SETTINGS, AiFallback, AssignMode
from helpdesk.channel_kinds import Assignment, policy_for

# The form field each on/off assignment is edited with (R18, R19); its state is ON or "".
TOGGLE_FIELD = {
    Assignment.CHAT_TOGGLE: "chat_assignment_enabled",
    Assignment.CALLING_HOURS: "call_routing",
}
# Form field → its group: the settings' own, and the form's "team" (Team only's one team).
FIELD_GROUPS = {s.name: s.group for s in AUTOMATION_SETTINGS if s.group} | {"team": "team"}
ON = "on"  # what a ticked checkbox contributes to the state the rules read


def _rules_for(kind: str) -> dict[str, list[dict[str, list[str]]]]:
    """Group → alternatives (any may hold) → {state variable: accepted values} (all must)."""
    policy = policy_for(kind)
    skills_on = {"skill_routing": [ON]}
    if policy.assign_rule:
        specific = {"assign_mode": [AssignMode.SPECIFIC]}
        fallback = {
            "assign_mode": [AssignMode.CUSTOMER_AGENT],
            "ai_fallback": [AiFallback.SPECIFIC],
        }
        owner = {"assign_mode": [AssignMode.CONTACT_OWNER]}
        routes_to_users = [specific, fallback, owner]
        rules = {
            "pool": [specific],
            "team": [{"assign_mode": [AssignMode.TEAM_ONLY]}],
            "ai": [{"assign_mode": [AssignMode.CUSTOMER_AGENT]}],
            "fallback": [fallback],
            "owner_note": [owner],
            "distribution": [specific, fallback],
            "reroute": [specific, fallback],
            "available": routes_to_users,
        }
    else:
        routes_to_users = [{TOGGLE_FIELD[policy.assignment]: [ON]}]
        rules = {g: list(routes_to_users) for g in ("pool", "distribution", "available", "reroute")}
    if policy.skill_routing:
        rules |= {
            "skills": routes_to_users,
            "skill_rules": [{**alt, **skills_on} for alt in routes_to_users],
        }
    return rules


def groups_in_effect(rules: dict, state: dict[str, str]) -> set[str]:
    return {
        group
        for group, alternatives in rules.items()
        if any(all(state.get(var, "") in ok for var, ok in alt.items()) for alt in alternatives)
    }
