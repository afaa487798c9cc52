"""Per-channel automation (R14–R20), held as data that the routing engine reads.

What a channel kind offers is `helpdesk.channel_kinds` (its `AssignMode` is re-exported here);
`AUTOMATION_SETTINGS` declares the settings once, for the audit log, the form and the config.
"""

from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import FileExtensionValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy

from helpdesk.channel_kinds import AssignMode, policy_for
from helpdesk.models import Channel, Skill, Team, User
from helpdesk.models.availability import Weekday
from helpdesk.models.users import validate_time_zone

AUDIO_EXTENSIONS = ["mp3", "wav", "ogg", "m4a"]
AUDIO_MAX_BYTES = 5 * 1024 * 1024


def validate_audio_size(upload) -> None:
    if upload.size > AUDIO_MAX_BYTES:
        raise ValidationError(
            gettext("The audio file is %(value)s KiB; the limit is %(value2)s KiB.")
            % {"value": upload.size // 1024, "value2": AUDIO_MAX_BYTES // 1024}
        )


AUDIO_VALIDATORS = [FileExtensionValidator(AUDIO_EXTENSIONS), validate_audio_size]


class Distribution(models.TextChoices):
    LOAD_BALANCED = "load_balanced", gettext_lazy("Load balanced")
    ROUND_ROBIN = "round_robin", gettext_lazy("Round robin")
    RANDOM = "random", gettext_lazy("Random")


class AiFallback(models.TextChoices):
    NONE = "none", gettext_lazy("None")
    SPECIFIC = "specific", gettext_lazy("Specific users and teams")


class SkillFallback(models.TextChoices):
    LEAVE_UNASSIGNED = "leave_unassigned", gettext_lazy("Leave the ticket unassigned")
    UNSKILLED = "unskilled", gettext_lazy("Route to the other candidates")


# ---------------------------------------------------------------------------------------
# The settings of the Automation tab, declared once
# ---------------------------------------------------------------------------------------

SCALAR, SELECTION, ROWS, FILE = "scalar", "selection", "rows", "file"


@dataclass(frozen=True)
class AutomationSetting:
    """One setting of a channel's automation. The audit log (`services`), the Automation form
    and its groups of fields (`forms`) and the routing config all derive from this list."""

    name: str
    label: str  # how the audit log names it
    store: str = SCALAR  # a column; SELECTION: users or teams; ROWS: related rows; FILE
    choices: type[models.TextChoices] | None = None
    # The `helpdesk.channel_kinds.KindPolicy` flag a kind needs for the form to show it
    # ("" = every kind).
    needs: str = ""
    # The group of fields it belongs to on the form (`forms.groups`: when the group applies).
    group: str = ""


AUTOMATION_SETTINGS = (  # in the order of the page and of the audit log
    AutomationSetting(
        name="assign_mode",
        label=gettext_lazy("Assign incoming tickets to"),
        choices=AssignMode,
        needs="assign_rule",
    ),
    AutomationSetting(
        name="chat_assignment_enabled",
        label=gettext_lazy("Assign conversations automatically"),
        needs="chat_toggle",
    ),
    AutomationSetting(
        name="ai_fallback",
        label=gettext_lazy("If AI can't answer, assign to"),
        choices=AiFallback,
        needs="customer_agent",
        group="ai",
    ),
    AutomationSetting(
        name="fallback_users",
        label=gettext_lazy("If AI can't answer: users"),
        store=SELECTION,
        needs="customer_agent",
        group="fallback",
    ),
    AutomationSetting(
        name="fallback_teams",
        label=gettext_lazy("If AI can't answer: teams"),
        store=SELECTION,
        needs="customer_agent",
        group="fallback",
    ),
    AutomationSetting(name="users", label=gettext_lazy("Users"), store=SELECTION, group="pool"),
    AutomationSetting(name="teams", label=gettext_lazy("Teams"), store=SELECTION, group="pool"),
    AutomationSetting(
        name="distribution",
        label=gettext_lazy("Distribution"),
        choices=Distribution,
        group="distribution",
    ),
    AutomationSetting(
        name="available_only",
        label=gettext_lazy("Assign only to available users"),
        group="available",
    ),
    AutomationSetting(
        name="reroute_when_available",
        label=gettext_lazy("Route again when an agent becomes available"),
        group="reroute",
    ),
    AutomationSetting(
        name="skill_routing",
        label=gettext_lazy("Skill-based routing"),
        needs="skill_routing",
        group="skills",
    ),
    AutomationSetting(
        name="skill_rules",
        label=gettext_lazy("Skill rules"),
        store=ROWS,
        needs="skill_routing",
        group="skill_rules",
    ),
    AutomationSetting(
        name="skill_fallback",
        label=gettext_lazy("When no eligible user has the skill"),
        choices=SkillFallback,
        needs="skill_routing",
        group="skill_rules",
    ),
    AutomationSetting(
        name="opening_hours_time_zone",
        label=gettext_lazy("Opening hours time zone"),
        needs="opening_hours",
    ),
    AutomationSetting(
        name="opening_hours", label=gettext_lazy("Opening hours"), store=ROWS, needs="opening_hours"
    ),
    AutomationSetting(
        name="unanswered_call_audio",
        label=gettext_lazy("Audio message for unanswered calls"),
        store=FILE,
        needs="voicemail",
    ),
    AutomationSetting(
        name="after_hours_message", label=gettext_lazy("Voicemail message"), needs="voicemail"
    ),
    AutomationSetting(
        name="voicemail_greeting",
        label=gettext_lazy("Recorded voicemail greeting"),
        store=FILE,
        needs="voicemail",
    ),
)
SETTINGS_BY_NAME = {s.name: s for s in AUTOMATION_SETTINGS}


def setting_names(*stores: str) -> tuple[str, ...]:
    """The names of the settings kept in these ways, in page order."""
    return tuple(s.name for s in AUTOMATION_SETTINGS if s.store in stores)


class ChannelAutomation(models.Model):
    """Every routing setting of one channel. Saved explicitly; applies to tickets that arrive
    after the save (R20) — `version` lets a form tell a second admin the settings changed."""

    channel = models.OneToOneField(Channel, on_delete=models.CASCADE, related_name="automation")
    assign_mode = models.CharField(max_length=16, choices=AssignMode, default=AssignMode.NONE)
    users = models.ManyToManyField(User, blank=True, related_name="+")
    teams = models.ManyToManyField(Team, blank=True, related_name="+")
    distribution = models.CharField(
        max_length=16, choices=Distribution, default=Distribution.LOAD_BALANCED
    )
    available_only = models.BooleanField(
        default=True,
        help_text=gettext_lazy(
            "Route only to available users; with nobody available the ticket stays unassigned."
        ),
    )
    ai_fallback = models.CharField(max_length=16, choices=AiFallback, default=AiFallback.NONE)
    fallback_users = models.ManyToManyField(User, blank=True, related_name="+")
    fallback_teams = models.ManyToManyField(Team, blank=True, related_name="+")
    skill_routing = models.BooleanField(default=False)
    skill_fallback = models.CharField(
        max_length=16, choices=SkillFallback, default=SkillFallback.LEAVE_UNASSIGNED
    )
    chat_assignment_enabled = models.BooleanField(
        default=False, help_text=gettext_lazy("Chatflow: assign conversations automatically.")
    )
    reroute_when_available = models.BooleanField(
        default=False,
        help_text=gettext_lazy(
            "Route tickets left unassigned again when an agent becomes available."
        ),
    )
    opening_hours_time_zone = models.CharField(
        max_length=64, default="UTC", validators=[validate_time_zone]
    )
    unanswered_call_audio = models.FileField(
        upload_to="calling/unanswered/", blank=True, validators=AUDIO_VALIDATORS
    )
    voicemail_greeting = models.FileField(
        upload_to="calling/voicemail/", blank=True, validators=AUDIO_VALIDATORS
    )
    after_hours_message = models.TextField(
        blank=True, help_text=gettext_lazy("Calling: the voicemail message played after hours.")
    )
    version = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = gettext_lazy("channel automation")

    def __str__(self) -> str:
        return gettext("Automation of %(channel)s") % {"channel": self.channel}

    @classmethod
    def default_for(cls, channel: Channel) -> "ChannelAutomation":
        """A channel's automation before its first save: the defaults of its kind."""
        return cls(channel=channel, assign_mode=policy_for(channel.kind).default_mode)

    def clean(self) -> None:
        if not policy_for(self.channel.kind).offers(self.assign_mode):
            raise ValidationError(
                {
                    "assign_mode": gettext("%(kind)s channels cannot use “%(assign_mode)s”.")
                    % {
                        "kind": self.channel.get_kind_display(),
                        "assign_mode": self.get_assign_mode_display(),
                    }
                }
            )
        selection = self._selection()
        if selection is None:
            return
        validate_selection(
            mode=self.assign_mode, users=selection["users"], teams=selection["teams"]
        )
        if (
            self.assign_mode == AssignMode.CUSTOMER_AGENT
            and self.ai_fallback == AiFallback.SPECIFIC
        ):
            validate_selection(
                mode=AssignMode.SPECIFIC,
                users=selection["fallback_users"],
                teams=selection["fallback_teams"],
                fields=("fallback_users", "fallback_teams"),
            )

    SELECTION_FIELDS = setting_names(SELECTION)

    def _selection(self) -> dict | None:
        """The chosen users and teams: those a form is about to save (it sets
        `pending_selection` before validating), else the saved ones."""
        pending = getattr(self, "pending_selection", None)
        if pending is not None:
            return {f: list(pending.get(f) or []) for f in self.SELECTION_FIELDS}
        if self.pk is None:
            return None
        return {f: list(getattr(self, f).all()) for f in self.SELECTION_FIELDS}


def validate_selection(*, mode, users, teams, fields=("users", "teams")) -> None:
    """The rules every chosen user and team must satisfy (R7, R8, R14). Used by the model,
    the admin and the settings forms alike."""
    users_field, teams_field = fields
    errors: dict[str, list[str]] = {}
    if mode == AssignMode.SPECIFIC:
        users = list(users)
        seated = set(
            User.objects.filter(pk__in=[u.pk for u in users], seat__isnull=False).values_list(
                "pk", flat=True
            )
        )
        for user in users:
            if user.pk not in seated:
                errors.setdefault(users_field, []).append(
                    gettext("%(user)s has no helpdesk seat; only seated users can be routed to.")
                    % {"user": user}
                )
            elif not user.has_ticket_access:
                errors.setdefault(users_field, []).append(
                    gettext("%(user)s has no ticket access; give them the Agents group first.")
                    % {"user": user}
                )
        if not users and not list(teams):
            errors.setdefault(users_field, []).append(gettext("Choose at least one user or team."))
    elif mode == AssignMode.TEAM_ONLY:
        teams = list(teams)
        if len(teams) != 1:
            errors.setdefault(teams_field, []).append(gettext("Choose exactly one team."))
        for team in teams:
            if not team.memberships.filter(user__seat__isnull=False).exists():
                errors.setdefault(teams_field, []).append(
                    gettext(
                        "%(team)s has no member with a seat; give one a seat or choose another "
                        "team."
                    )
                    % {"team": team}
                )
    if errors:
        raise ValidationError(errors)


class OpeningHours(models.Model):
    """Calling channels: business hours per weekday, in the automation's time zone (R19)."""

    automation = models.ForeignKey(
        ChannelAutomation, on_delete=models.CASCADE, related_name="opening_hours"
    )
    weekday = models.PositiveSmallIntegerField(choices=Weekday)
    start = models.TimeField()
    end = models.TimeField()

    class Meta:
        ordering = ["weekday", "start"]
        verbose_name_plural = gettext_lazy("opening hours")
        constraints = [
            models.CheckConstraint(
                condition=Q(end__gt=F("start")), name="opening_hours_end_after_start"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.start:%H:%M}–{self.end:%H:%M}"


class SkillRule(models.Model):
    """A condition on an incoming ticket that makes a skill required (R17)."""

    class Condition(models.TextChoices):
        LANGUAGE_IS = "language_is", gettext_lazy("Language is")
        TEXT_CONTAINS = "text_contains", gettext_lazy("Subject or message contains")
        PRIORITY_IS = "priority_is", gettext_lazy("Priority is")

    automation = models.ForeignKey(
        ChannelAutomation, on_delete=models.CASCADE, related_name="skill_rules"
    )
    condition = models.CharField(max_length=16, choices=Condition)
    value = models.CharField(max_length=120)
    skill = models.ForeignKey(Skill, on_delete=models.CASCADE, related_name="+")

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.get_condition_display()} “{self.value}” → {self.skill}"


class ChannelSettingsChange(models.Model):
    """The audit log of the channel settings pages: one row per save that changed something —
    who, when, and every change as before → after in plain words (M2M changes included)."""

    class Section(models.TextChoices):
        CREATED = "created", gettext_lazy("Channel connected")
        DETAILS = "details", gettext_lazy("Details")
        AUTOMATION = "automation", gettext_lazy("Automation")

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="settings_changes")
    section = models.CharField(max_length=16, choices=Section)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    actor_name = models.CharField(
        max_length=150, blank=True, help_text=gettext_lazy("Kept when the account is deleted.")
    )
    version = models.PositiveIntegerField(
        null=True, blank=True, help_text=gettext_lazy("The automation's version after this save.")
    )
    # [{"field": label, "before": text, "after": text, "added": [...], "removed": [...]}]
    changes = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = gettext_lazy("channel settings change")
        indexes = [
            models.Index(fields=["channel", "-created_at"], name="settings_change_channel_idx")
        ]

    def __str__(self) -> str:
        return gettext("%(section)s of channel %(channel)s by %(actor)s") % {
            "section": self.get_section_display(),
            "channel": self.channel_id,
            "actor": self.actor_name,
        }
