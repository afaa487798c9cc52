"""The routing settings of a channel as plain data.

The engine reads a `RoutingConfig`, never the forms or the model directly, so the same code
decides for a saved `ChannelAutomation` and for settings still being edited (the preview).
One builder, `RoutingConfig.from_settings`, makes it from the settings dict — the saved one
(`channels_cfg.services.SavedSettings`) or the one an Automation form is about to save
(`AutomationForm.automation_data()`) — so the preview and the engine cannot differ.
"""

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, time
from zoneinfo import ZoneInfo

from channels_cfg.models import (
    AiFallback,
    AssignMode,
    ChannelAutomation,
    Distribution,
    SkillFallback,
    SkillRule,
)
from channels_cfg.services import SavedSettings
from helpdesk.channel_kinds import policy_for
from helpdesk.models import Channel


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
    def from_settings(cls, *, kind: str, settings: Mapping) -> "RoutingConfig":
        """The one builder: from the settings of a channel of this kind, as saved or as
        entered, reading only what its mode and kind use (the saved ones are read lazily,
        so a decision queries only those)."""
        policy, mode = policy_for(kind), settings["assign_mode"]

        def ids(name: str) -> tuple[int, ...]:  # of models, or ids already
            return tuple(sorted(getattr(obj, "pk", obj) for obj in settings[name]))

        uses_fallback = mode == AssignMode.CUSTOMER_AGENT
        uses_pool = mode in (AssignMode.SPECIFIC, AssignMode.TEAM_ONLY) or policy.chat_toggle
        rules = ()
        if settings["skill_routing"]:
            rules = tuple(
                SkillCondition(r["condition"], r["value"], r["skill"].pk, r["skill"].name)
                for r in settings["skill_rules"]
            )
        hours = ()
        if policy.opening_hours:
            rows = sorted(settings["opening_hours"], key=lambda h: (h["weekday"], h["start"]))
            hours = tuple(HoursRange(h["weekday"], h["start"], h["end"]) for h in rows)
        return cls(
            channel_kind=kind,
            mode=mode,
            user_ids=ids("users") if uses_pool else (),
            team_ids=ids("teams") if uses_pool else (),
            distribution=settings["distribution"],
            available_only=settings["available_only"],
            ai_fallback=settings["ai_fallback"],
            fallback_user_ids=ids("fallback_users") if uses_fallback else (),
            fallback_team_ids=ids("fallback_teams") if uses_fallback else (),
            skill_routing=settings["skill_routing"],
            skill_rules=rules,
            skill_fallback_unskilled=settings["skill_fallback"] == SkillFallback.UNSKILLED,
            chat_assignment_enabled=settings["chat_assignment_enabled"],
            reroute_when_available=settings["reroute_when_available"],
            opening_hours=hours,
            opening_hours_time_zone=settings["opening_hours_time_zone"],
        )

    @classmethod
    def from_automation(cls, automation: ChannelAutomation) -> "RoutingConfig":
        """From a saved automation (its channel loaded with it)."""
        settings = SavedSettings(automation, pks_only=True)
        return cls.from_settings(kind=automation.channel.kind, settings=settings)

    @classmethod
    def unconfigured(cls, channel: Channel) -> "RoutingConfig":
        """A channel whose automation was never saved: the defaults of its kind."""
        return cls.from_automation(ChannelAutomation.default_for(channel))

    @property
    def reads_text(self) -> bool:
        """Do the skill rules look at the ticket's text (so a decision reads the first
        message)?"""
        return self.skill_routing and any(
            r.condition == SkillRule.Condition.TEXT_CONTAINS for r in self.skill_rules
        )

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
