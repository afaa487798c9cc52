"""The engine's `RoutingConfig` for settings still being edited (the preview, before Save).

`channels_cfg.forms.AutomationForm.automation_data()` gives every setting as entered (and the
rest as saved) — the very dict `channels_cfg.services.save_automation` would save. This turns
it into the same `RoutingConfig` that `RoutingConfig.from_automation` builds once it is saved,
reading only what the mode and kind use, so the preview and a real decision cannot differ.
"""

from channels_cfg.models import AssignMode, SkillFallback
from helpdesk.models import Channel
from routing.config import CHAT_KINDS, HoursRange, RoutingConfig, SkillCondition


def config_from_form_data(*, channel: Channel, data: dict) -> RoutingConfig:
    kind, mode = channel.kind, data["assign_mode"]

    def ids(name: str) -> tuple[int, ...]:
        return tuple(sorted(obj.pk for obj in data[name]))

    uses_fallback = mode == AssignMode.CUSTOMER_AGENT
    uses_pool = mode in (AssignMode.SPECIFIC, AssignMode.TEAM_ONLY) or kind in CHAT_KINDS
    rules = ()
    if data["skill_routing"]:
        rules = tuple(
            SkillCondition(r["condition"], r["value"], r["skill"].pk, r["skill"].name)
            for r in data["skill_rules"]
        )
    hours = ()
    if kind == Channel.Kind.CALLING:
        rows = sorted(data["opening_hours"], key=lambda h: (h["weekday"], h["start"]))
        hours = tuple(HoursRange(h["weekday"], h["start"], h["end"]) for h in rows)
    return RoutingConfig(
        channel_kind=kind,
        mode=mode,
        user_ids=ids("users") if uses_pool else (),
        team_ids=ids("teams") if uses_pool else (),
        distribution=data["distribution"],
        available_only=data["available_only"],
        ai_fallback=data["ai_fallback"],
        fallback_user_ids=ids("fallback_users") if uses_fallback else (),
        fallback_team_ids=ids("fallback_teams") if uses_fallback else (),
        skill_routing=data["skill_routing"],
        skill_rules=rules,
        skill_fallback_unskilled=data["skill_fallback"] == SkillFallback.UNSKILLED,
        chat_assignment_enabled=data["chat_assignment_enabled"],
        reroute_when_available=data["reroute_when_available"],
        opening_hours=hours,
        opening_hours_time_zone=data["opening_hours_time_zone"],
    )
