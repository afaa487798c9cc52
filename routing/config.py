"""The routing settings of a channel as plain data.

The engine reads a `RoutingConfig`, never the forms or the model directly, so the same code
decides for a saved `ChannelAutomation` and for settings still being edited (the preview).
"""

from dataclasses import asdict, dataclass, field
from datetime import datetime, time
from zoneinfo import ZoneInfo

from channels_cfg.models import AiFallback, AssignMode, ChannelAutomation, Distribution
from helpdesk.models import Channel

CHAT_KINDS = (Channel.Kind.CHATFLOW, Channel.Kind.CUSTOM_CHAT)


@dataclass(frozen=True)
class SkillCondition:
    condition: str  # channels_cfg.models.SkillRule.Condition
    value: str
    skill_id: int
    skill_name: str


@dataclass(frozen=True)
class HoursRange:
    weekday: int
    start: time
    end: time


@dataclass(frozen=True)
class RoutingConfig:
    channel_kind: str
    mode: str = AssignMode.NONE
    user_ids: tuple[int, ...] = ()
    team_ids: tuple[int, ...] = ()
    distribution: str = Distribution.LOAD_BALANCED
    available_only: bool = True
    ai_fallback: str = AiFallback.NONE
    fallback_user_ids: tuple[int, ...] = ()
    fallback_team_ids: tuple[int, ...] = ()
    skill_routing: bool = False
    skill_rules: tuple[SkillCondition, ...] = ()
    skill_fallback_unskilled: bool = False
    chat_assignment_enabled: bool = False
    reroute_when_available: bool = False
    opening_hours: tuple[HoursRange, ...] = field(default=())
    opening_hours_time_zone: str = "UTC"

    @classmethod
    def from_automation(cls, automation: ChannelAutomation) -> "RoutingConfig":
        """Build from a saved automation, reading only what its mode and kind use."""

        def ids(name: str) -> tuple[int, ...]:
            return tuple(sorted(getattr(automation, name).values_list("pk", flat=True)))

        uses_fallback = automation.assign_mode == AssignMode.CUSTOMER_AGENT
        rules = ()
        if automation.skill_routing:
            rules = tuple(
                SkillCondition(r.condition, r.value, r.skill_id, r.skill.name)
                for r in automation.skill_rules.select_related("skill")
            )
        hours = ()
        if automation.channel.kind == Channel.Kind.CALLING:
            hours = tuple(
                HoursRange(h.weekday, h.start, h.end) for h in automation.opening_hours.all()
            )
        uses_pool = automation.assign_mode in (AssignMode.SPECIFIC, AssignMode.TEAM_ONLY) or (
            automation.channel.kind in CHAT_KINDS
        )
        return cls(
            channel_kind=automation.channel.kind,
            mode=automation.assign_mode,
            user_ids=ids("users") if uses_pool else (),
            team_ids=ids("teams") if uses_pool else (),
            distribution=automation.distribution,
            available_only=automation.available_only,
            ai_fallback=automation.ai_fallback,
            fallback_user_ids=ids("fallback_users") if uses_fallback else (),
            fallback_team_ids=ids("fallback_teams") if uses_fallback else (),
            skill_routing=automation.skill_routing,
            skill_rules=rules,
            skill_fallback_unskilled=automation.skill_fallback == "unskilled",
            chat_assignment_enabled=automation.chat_assignment_enabled,
            reroute_when_available=automation.reroute_when_available,
            opening_hours=hours,
            opening_hours_time_zone=automation.opening_hours_time_zone,
        )

    @classmethod
    def unconfigured(cls, channel: Channel) -> "RoutingConfig":
        return cls(channel_kind=channel.kind)

    def snapshot(self) -> dict:
        """JSON-ready copy kept with each decision."""
        data = asdict(self)
        data["opening_hours"] = [
            {"weekday": h.weekday, "start": h.start.isoformat(), "end": h.end.isoformat()}
            for h in self.opening_hours
        ]
        return data

    def is_open_at(self, at: datetime) -> bool:
        """Calling channels: inside the opening hours? No hours configured means always."""
        if not self.opening_hours:
            return True
        local = at.astimezone(ZoneInfo(self.opening_hours_time_zone))
        now = local.time()
        return any(
            h.weekday == local.weekday() and h.start <= now < h.end for h in self.opening_hours
        )
