"""The channel settings forms (R14–R20): a channel's details, and its Automation form, whose
options follow the channel kind exactly as the spec lists them.

Validation and crispy layout only: `channels_cfg.services` saves. Fields that do not apply to
what is chosen (the users picker while "Assign incoming tickets to" is None, …) are hidden by
`static/js/channel_settings.js` and ignored here — not validated, and saved as they were — so
the page works the same with JavaScript off. `GROUP_RULES` says when each group of fields
applies; the script reads the very same rules (rendered with `json_script`).
"""

import zoneinfo
from itertools import pairwise

from crispy_bootstrap5.bootstrap5 import Switch
from crispy_forms.helper import FormHelper
from crispy_forms.layout import HTML, Div, Field, Fieldset, Layout
from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db.models import Count, Exists, OuterRef, Q

from channels_cfg.models import (
    AUDIO_EXTENSIONS,
    AUDIO_MAX_BYTES,
    AUDIO_VALIDATORS,
    MODES_BY_KIND,
    AiFallback,
    AssignMode,
    ChannelAutomation,
    Distribution,
    SkillFallback,
    SkillRule,
    validate_selection,
)
from channels_cfg.services import SCALAR_FIELDS as SCALARS
from channels_cfg.services import automation_state
from helpdesk.models import Channel, Skill, Team, TeamMembership, Ticket, User
from helpdesk.models.availability import Weekday
from helpdesk.selectors import annotate_helpdesk_roles

Kind = Channel.Kind
ASSIGN_KINDS = (Kind.TEAM_EMAIL, Kind.WHATSAPP, Kind.FORM)  # "Assign incoming tickets to" (R14)
CHAT_KINDS = (Kind.CHATFLOW, Kind.CUSTOM_CHAT)  # an assignment toggle (R18)
# Skill rules look at the ticket's language, text and priority; calls carry none of them when
# they are routed, and R19 lists calling's options without skills.
SKILL_KINDS = (*ASSIGN_KINDS, *CHAT_KINDS)

# ---------------------------------------------------------------------------------------
# What each option does, in the spec's terms (shown under each option)
# ---------------------------------------------------------------------------------------

MODE_HELP = {
    AssignMode.CUSTOMER_AGENT: "An AI customer agent answers first. Tickets it can't answer "
    "follow “If AI can't answer, assign to”.",
    AssignMode.SPECIFIC: "Route each ticket to one of the chosen users or to a main member "
    "of the chosen teams, by the distribution below.",
    AssignMode.TEAM_ONLY: "Set the team and leave the owner empty: tickets show in the "
    "team's My team's unassigned and My team's open views. Only teams with at least one "
    "seated user can be chosen.",
    AssignMode.CONTACT_OWNER: "Assign to the owner of the contact. The contact must have an "
    "owner and be identified (tracked by a cookie, or known by email or phone); otherwise "
    "the ticket waits in Unassigned.",
    AssignMode.NONE: "Nobody is assigned: tickets go to the Unassigned view for triage.",
}
FORM_OWNER_HELP = (
    " If the owner is offline (with “Assign only to available users” ticked), the form "
    "submission is sent to the owner by email."
)
AI_FALLBACK_HELP = {
    AiFallback.NONE: "The ticket goes to the Unassigned view.",
    AiFallback.SPECIFIC: "Route it to the users and teams chosen below.",
}
DISTRIBUTION_HELP = {
    Distribution.LOAD_BALANCED: "To whoever has the fewest open tickets of the same type "
    "(calls, messages or email/other) assigned in the last 30 days.",
    Distribution.ROUND_ROBIN: "In a rotating, sequential order: whoever's turn is oldest "
    "gets the next ticket.",
    Distribution.RANDOM: "To an eligible user picked at random.",
}
SKILL_FALLBACK_HELP = {
    SkillFallback.LEAVE_UNASSIGNED: "Nobody gets the ticket; it waits in Unassigned.",
    SkillFallback.UNSKILLED: "Route it among the eligible users who lack the skill.",
}
AVAILABLE_HELP = (
    "Tickets go only to available agents (working hours, out of office, or the status they "
    "set). When none is available the ticket stays unassigned. Untick to route regardless "
    "of availability."
)
REROUTE_HELP = (
    "A ticket left unassigned because nobody was available (or everyone was at capacity) is "
    "routed again as soon as one of these agents becomes available."
)
POOL_HELP = "Teams route only to their main members (R9); additional members are skipped."
USERS_HELP = "Only users with a helpdesk seat and ticket access can receive tickets."

# ---------------------------------------------------------------------------------------
# When each group of fields applies
# ---------------------------------------------------------------------------------------

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


# ---------------------------------------------------------------------------------------
# Widgets: options with their help, and pickers that show why a choice is disabled
# ---------------------------------------------------------------------------------------


class DescribedRadioSelect(forms.RadioSelect):
    """Radio buttons, each with what it does (`option.data.description`)."""

    def __init__(self, *args, descriptions=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.attrs.setdefault("class", "form-check-input")
        self.descriptions = descriptions or {}

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        option["description"] = self.descriptions.get(str(value), "")
        if option["description"]:
            option["attrs"]["aria-describedby"] = f"{option['attrs']['id']}_help"
        return option


class PickerMixin:
    """Options carry a `detail` (e.g. "3 main members") and a `reason` why they cannot be
    chosen; an option with a reason is rendered disabled."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.attrs.setdefault("class", "form-check-input")
        self.reasons: dict[str, str] = {}
        self.details: dict[str, str] = {}

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        key = str(value)
        option["reason"] = self.reasons.get(key, "")
        option["detail"] = self.details.get(key, "")
        if option["reason"]:
            option["attrs"]["disabled"] = True
            option["attrs"]["aria-describedby"] = f"{option['attrs']['id']}_reason"
        return option


class PickerCheckboxes(PickerMixin, forms.CheckboxSelectMultiple):
    pass


class PickerRadios(PickerMixin, forms.RadioSelect):
    pass


class ObjectsField(forms.MultipleChoiceField):
    """Checkboxes over objects read once by the form; cleans to a list of those objects."""

    widget = PickerCheckboxes

    def __init__(self, *args, empty_text="", **kwargs):
        super().__init__(*args, **kwargs)
        self.objects: dict[str, object] = {}
        self.empty_text = empty_text

    def set_objects(self, objects, reasons=None, details=None) -> None:
        self.objects = {str(o.pk): o for o in objects}
        self.choices = [(str(o.pk), str(o)) for o in objects]
        self.widget.reasons = reasons or {}
        self.widget.details = details or {}

    def clean(self, value):
        return [self.objects[v] for v in super().clean(value)]

    def prepare_value(self, value):
        return [str(getattr(v, "pk", v)) for v in value or []]


class ObjectField(forms.ChoiceField):
    """One object out of a list, as radio buttons (cleans to the object or None)."""

    widget = PickerRadios

    def __init__(self, *args, empty_text="", **kwargs):
        super().__init__(*args, **kwargs)
        self.objects: dict[str, object] = {}
        self.empty_text = empty_text

    def set_objects(self, objects, reasons=None, details=None) -> None:
        self.objects = {str(o.pk): o for o in objects}
        self.choices = [(str(o.pk), str(o)) for o in objects]
        self.widget.reasons = reasons or {}
        self.widget.details = details or {}

    def clean(self, value):
        value = super().clean(value)
        return self.objects.get(value) if value else None

    def prepare_value(self, value):
        return str(getattr(value, "pk", value)) if value else ""


def described(choices, descriptions: dict, **kwargs) -> forms.ChoiceField:
    return forms.ChoiceField(
        choices=choices, widget=DescribedRadioSelect(descriptions=descriptions), **kwargs
    )


# ---------------------------------------------------------------------------------------
# Audio uploads (R19)
# ---------------------------------------------------------------------------------------

AUDIO_ACCEPT = "audio/*," + ",".join(f".{ext}" for ext in AUDIO_EXTENSIONS)


def looks_like_audio(head: bytes) -> bool:
    """MP3 (ID3 tag or an MPEG frame), WAV (RIFF/WAVE), OGG, or M4A (an ISO media box)."""
    return (
        head.startswith(b"ID3")
        or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0)
        or (head.startswith(b"RIFF") and head[8:12] == b"WAVE")
        or head.startswith(b"OggS")
        or head[4:8] == b"ftyp"
    )


def validate_audio_content(upload) -> None:
    """The file's own bytes (and the type the browser gave) must be audio, whatever its name."""
    content_type = (getattr(upload, "content_type", "") or "").lower()
    upload.seek(0)
    head = upload.read(16)
    upload.seek(0)
    allowed_types = ("audio/", "video/mp4", "application/octet-stream", "application/ogg")
    if (content_type and not content_type.startswith(allowed_types)) or not looks_like_audio(head):
        raise ValidationError(
            "This file is not audio. Upload an MP3, WAV, OGG or M4A file "
            f"(at most {AUDIO_MAX_BYTES // (1024 * 1024)} MiB)."
        )


def audio_field(label: str, help_text: str) -> forms.FileField:
    return forms.FileField(
        label=label,
        required=False,
        help_text=help_text,
        validators=[*AUDIO_VALIDATORS, validate_audio_content],
        widget=forms.ClearableFileInput(attrs={"accept": AUDIO_ACCEPT}),
    )


# ---------------------------------------------------------------------------------------
# Opening hours and skill rules (formsets)
# ---------------------------------------------------------------------------------------

SMALL_SELECT = {"class": "form-select form-select-sm"}
SMALL_INPUT = {"class": "form-control form-control-sm"}
WEEKDAY_SHORT = {d.value: d.label[:3] for d in Weekday}


class OpeningHoursForm(forms.Form):
    weekday = forms.TypedChoiceField(
        label="Day",
        choices=[("", "Day…"), *Weekday.choices],
        coerce=int,
        widget=forms.Select(attrs=SMALL_SELECT),
    )
    start = forms.TimeField(
        label="From", widget=forms.TimeInput(attrs={**SMALL_INPUT, "type": "time"}, format="%H:%M")
    )
    end = forms.TimeField(
        label="To", widget=forms.TimeInput(attrs={**SMALL_INPUT, "type": "time"}, format="%H:%M")
    )

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end and end <= start:
            self.add_error(
                "end",
                "The end must be after the start (a range ending at midnight ends at 23:59).",
            )
        return cleaned


class RowsFormSet(forms.BaseFormSet):
    def add_fields(self, form, index):
        super().add_fields(form, index)
        form.fields["DELETE"].label = "Remove"
        form.fields["DELETE"].widget.attrs["class"] = "form-check-input"

    def rows(self) -> list[dict]:
        """The rows to keep: filled in and not marked for removal."""
        return [
            {name: value for name, value in form.cleaned_data.items() if name != "DELETE"}
            for form in self.forms
            if form.cleaned_data and not self._should_delete_form(form)
        ]


class BaseOpeningHoursFormSet(RowsFormSet):
    def clean(self):
        if any(self.errors):
            return
        by_day: dict[int, list[dict]] = {}
        for row in self.rows():
            by_day.setdefault(row["weekday"], []).append(row)
        for day, rows in sorted(by_day.items()):
            rows.sort(key=lambda r: r["start"])
            for a, b in pairwise(rows):
                if b["start"] < a["end"]:
                    raise ValidationError(
                        f"{Weekday(day).label}: {a['start']:%H:%M}–{a['end']:%H:%M} overlaps "
                        f"{b['start']:%H:%M}–{b['end']:%H:%M}. Merge them or change one."
                    )


OpeningHoursFormSet = forms.formset_factory(
    OpeningHoursForm, formset=BaseOpeningHoursFormSet, extra=1, can_delete=True
)

PRIORITY_WORDS = {str(p.value) for p in Ticket.Priority} | {
    p.label.casefold() for p in Ticket.Priority
}
RULE_VALUE_HELP = {
    SkillRule.Condition.LANGUAGE_IS: "a language code such as no or es",
    SkillRule.Condition.TEXT_CONTAINS: "a word or phrase",
    SkillRule.Condition.PRIORITY_IS: "Low, Normal, High or Urgent",
}


class SkillRuleForm(forms.Form):
    condition = forms.ChoiceField(
        label="Condition",
        choices=[("", "Condition…"), *SkillRule.Condition.choices],
        widget=forms.Select(attrs=SMALL_SELECT),
    )
    value = forms.CharField(
        label="Value",
        max_length=120,
        widget=forms.TextInput(attrs={**SMALL_INPUT, "placeholder": "e.g. no, refund, Urgent"}),
    )
    skill = ObjectField(
        label="Skill", widget=forms.Select(attrs=SMALL_SELECT), choices=[("", "Skill…")]
    )

    def __init__(self, *args, skills=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["skill"].objects = {str(s.pk): s for s in skills}
        self.fields["skill"].choices = [("", "Skill…")] + [(str(s.pk), str(s)) for s in skills]

    def clean(self):
        cleaned = super().clean()
        condition, value = cleaned.get("condition"), (cleaned.get("value") or "").strip()
        if not condition or not value:
            return cleaned
        cleaned["value"] = value
        if condition == SkillRule.Condition.PRIORITY_IS and value.casefold() not in PRIORITY_WORDS:
            self.add_error("value", "A priority is Low, Normal, High or Urgent.")
        elif condition == SkillRule.Condition.LANGUAGE_IS and not (
            len(value) <= 16 and value.replace("-", "").isalpha()
        ):
            self.add_error("value", "A language is a code such as no, es or pt-BR.")
        return cleaned


class BaseSkillRuleFormSet(RowsFormSet):
    def clean(self):
        if any(self.errors):
            return
        seen = set()
        for row in self.rows():
            key = (row["condition"], row["value"].casefold(), row["skill"].pk)
            if key in seen:
                raise ValidationError(
                    f"The rule “{SkillRule.Condition(row['condition']).label} {row['value']} "
                    f"→ {row['skill']}” is listed twice."
                )
            seen.add(key)


SkillRuleFormSet = forms.formset_factory(
    SkillRuleForm, formset=BaseSkillRuleFormSet, extra=1, can_delete=True
)


class PreviewSampleForm(forms.Form):
    """A sample ticket for the routing preview, so skill rules can be tried (R17)."""

    language = forms.CharField(
        label="Language", required=False, max_length=16, widget=forms.TextInput(SMALL_INPUT)
    )
    text = forms.CharField(
        label="Subject or message",
        required=False,
        max_length=500,
        widget=forms.TextInput(SMALL_INPUT),
    )
    priority = forms.TypedChoiceField(
        label="Priority",
        choices=Ticket.Priority.choices,
        coerce=int,
        required=False,
        empty_value=Ticket.Priority.NORMAL,
        initial=Ticket.Priority.NORMAL,
        widget=forms.Select(SMALL_SELECT),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, prefix="sample", **kwargs)


# ---------------------------------------------------------------------------------------
# The Automation form
# ---------------------------------------------------------------------------------------

SELECTIONS = ChannelAutomation.SELECTION_FIELDS


def stored_settings(automation: ChannelAutomation) -> dict:
    """Everything `services.save_automation` accepts, as currently saved (defaults when the
    automation is not saved yet); files as None: keep them."""
    data = automation_state(automation)
    data["unanswered_call_audio"] = data["voicemail_greeting"] = None
    return data


class AutomationForm(forms.Form):
    """The Automation tab of one channel. `automation_data()` (after `is_valid()`) is what
    `services.save_automation` saves and what the routing preview runs on."""

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    assign_mode = described([], {}, label="Assign incoming tickets to")
    chat_assignment_enabled = forms.BooleanField(
        label="Assign conversations automatically",
        required=False,
        help_text="On: each new conversation is assigned to one of the users and teams below. "
        "Off: conversations wait in Unassigned (R18).",
    )
    call_routing = forms.BooleanField(
        label="Route calls during business hours",
        required=False,
        help_text="On: calls inside the opening hours go to the users and teams below. "
        "Off: every call waits in Unassigned.",
    )
    ai_fallback = described(
        AiFallback.choices,
        AI_FALLBACK_HELP,
        label="If AI can't answer, assign to",
        required=False,
    )
    fallback_users = ObjectsField(
        label="Users", required=False, empty_text="No users yet.", help_text=USERS_HELP
    )
    fallback_teams = ObjectsField(
        label="Teams", required=False, empty_text="No teams yet.", help_text=POOL_HELP
    )
    team = ObjectField(
        label="Team",
        required=False,
        empty_text="No teams yet: create a team with at least one seated member first.",
        help_text="The ticket gets this team and no owner.",
    )
    users = ObjectsField(
        label="Users", required=False, empty_text="No users yet.", help_text=USERS_HELP
    )
    teams = ObjectsField(
        label="Teams", required=False, empty_text="No teams yet.", help_text=POOL_HELP
    )
    distribution = described(
        Distribution.choices, DISTRIBUTION_HELP, label="Distribution", required=False
    )
    available_only = forms.BooleanField(
        label="Assign only to available users", required=False, help_text=AVAILABLE_HELP
    )
    reroute_when_available = forms.BooleanField(
        label="Route again when an agent becomes available",
        required=False,
        help_text=REROUTE_HELP,
    )
    skill_routing = forms.BooleanField(
        label="Route by skills",
        required=False,
        help_text="Tickets that match a rule go only to users who have its skill (R17). "
        "Skills are created and given to users in the admin.",
    )
    skill_fallback = described(
        SkillFallback.choices,
        SKILL_FALLBACK_HELP,
        label="When no eligible user has the skill",
        required=False,
    )
    opening_hours_time_zone = forms.ChoiceField(
        label="Time zone",
        choices=[(z, z) for z in sorted(zoneinfo.available_timezones())],
        help_text="The opening hours are read in this time zone.",
    )
    unanswered_call_audio = audio_field(
        "Audio message for unanswered calls",
        "Played when nobody answers; the call then goes to voicemail. "
        f"MP3, WAV, OGG or M4A, at most {AUDIO_MAX_BYTES // (1024 * 1024)} MiB.",
    )
    after_hours_message = forms.CharField(
        label="Voicemail message",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Read to callers after hours before they leave a voicemail (R19).",
    )
    voicemail_greeting = audio_field(
        "Recorded voicemail greeting",
        "Optional: played instead of reading the message above. "
        f"MP3, WAV, OGG or M4A, at most {AUDIO_MAX_BYTES // (1024 * 1024)} MiB.",
    )

    def __init__(self, data=None, files=None, *, channel: Channel, automation: ChannelAutomation):
        self.channel, self.kind, self.automation = channel, channel.kind, automation
        self.stored = stored_settings(automation)
        super().__init__(data, files, initial=self._initial())
        self.group_rules = _rules_for(self.kind)
        self._drop_fields_of_other_kinds()
        self._load_choices()
        self.hours = self.rules = None
        if self.kind == Kind.CALLING:
            self.hours = OpeningHoursFormSet(
                data, prefix="hours", initial=self.stored["opening_hours"]
            )
        if self.kind in SKILL_KINDS:
            skills = list(Skill.objects.order_by("name"))
            self.skills = skills
            self.rules = SkillRuleFormSet(
                data,
                prefix="rules",
                initial=[{**r, "skill": str(r["skill"].pk)} for r in self.stored["skill_rules"]],
                form_kwargs={"skills": skills},
            )
        self.helper = self._helper()

    # --- setup ------------------------------------------------------------------------

    def _initial(self) -> dict:
        s, a = self.stored, self.automation
        team_only = s["assign_mode"] == AssignMode.TEAM_ONLY
        return {
            **{name: s[name] for name in (*SCALARS, *SELECTIONS)},
            "version": a.version,
            "call_routing": s["assign_mode"] == AssignMode.SPECIFIC,
            "team": s["teams"][0] if team_only and s["teams"] else None,
            "unanswered_call_audio": a.unanswered_call_audio or None,
            "voicemail_greeting": a.voicemail_greeting or None,
        }

    def _drop_fields_of_other_kinds(self) -> None:
        kind = self.kind
        keep = {"version", "users", "teams", "distribution", "available_only"}
        keep.add("reroute_when_available")
        if kind in ASSIGN_KINDS:
            keep |= {"assign_mode", "team"}
            if AssignMode.CUSTOMER_AGENT in MODES_BY_KIND[kind]:
                keep |= {"ai_fallback", "fallback_users", "fallback_teams"}
        elif kind in CHAT_KINDS:
            keep.add("chat_assignment_enabled")
        if kind == Kind.CALLING:
            keep |= {
                "call_routing",
                "opening_hours_time_zone",
                "unanswered_call_audio",
                "after_hours_message",
                "voicemail_greeting",
            }
        if kind in SKILL_KINDS:
            keep |= {"skill_routing", "skill_fallback"}
        for name in list(self.fields):
            if name not in keep:
                del self.fields[name]
        if "assign_mode" in self.fields:
            modes = MODES_BY_KIND[kind]
            help_ = dict(MODE_HELP)
            if kind == Kind.FORM:
                help_[AssignMode.CONTACT_OWNER] += FORM_OWNER_HELP
            field = self.fields["assign_mode"]
            field.choices = [(m, AssignMode(m).label) for m in modes]
            field.widget.descriptions = {str(k): v for k, v in help_.items()}

    def _load_choices(self) -> None:
        """Every user and team once (two queries), with why some cannot be chosen (R7–R9)."""
        if "users" not in self.fields:
            return
        users = list(
            annotate_helpdesk_roles(User.objects.filter(is_active=True)).order_by(
                "first_name", "last_name", "username"
            )
        )
        reasons = {}
        for user in users:
            if not user.has_seat:
                reasons[str(user.pk)] = "no helpdesk seat"
            elif not user.has_ticket_access_db:
                reasons[str(user.pk)] = "no ticket access"
        users.sort(key=lambda u: str(u.pk) in reasons)  # choosable first, each part by name
        teams = list(
            Team.objects.annotate(
                main_members=Count(
                    "memberships", filter=Q(memberships__role=TeamMembership.Role.MAIN)
                ),
                seated=Exists(
                    TeamMembership.objects.filter(team=OuterRef("pk"), user__seat__isnull=False)
                ),
            ).order_by("name")
        )
        details = {
            str(t.pk): f"{t.main_members} main member{'s' if t.main_members != 1 else ''}"
            for t in teams
        }
        for name in ("users", "fallback_users"):
            if name in self.fields:
                self.fields[name].set_objects(users, reasons=reasons)
        for name in ("teams", "fallback_teams"):
            if name in self.fields:
                self.fields[name].set_objects(teams, details=details)
        if "team" in self.fields:
            unseated = {str(t.pk): "no member with a seat" for t in teams if not t.seated}
            self.fields["team"].set_objects(teams, reasons=unseated, details=details)

    # --- state and relevance ----------------------------------------------------------

    def state(self) -> dict[str, str]:
        """The values the group rules read: submitted ones when bound, else the initial."""
        state = {}
        for name in ("assign_mode", "ai_fallback"):
            if name in self.fields:
                value = self[name].value()
                state[name] = str(value) if value is not None else ""
        for name in ("chat_assignment_enabled", "call_routing", "skill_routing"):
            if name in self.fields:
                state[name] = ON if self[name].value() else ""
        return state

    def groups_in_effect(self) -> set[str]:
        return groups_in_effect(self.group_rules, self.state())

    def mode(self, cleaned: dict) -> str:
        if self.kind in ASSIGN_KINDS:
            return cleaned.get("assign_mode") or ""
        toggle = "chat_assignment_enabled" if self.kind in CHAT_KINDS else "call_routing"
        return AssignMode.SPECIFIC if cleaned.get(toggle) else AssignMode.NONE

    # --- validation -------------------------------------------------------------------

    def full_clean(self):
        super().full_clean()
        if not self.is_bound:
            return
        in_effect = self.groups_in_effect()
        for name, formset in (("hours", self.hours), ("skill_rules", self.rules)):
            if formset is None:
                continue
            if name == "skill_rules" and "skill_rules" not in in_effect:
                continue
            if not formset.is_valid():
                self._errors.setdefault(name, self.error_class()).append(
                    "Check the highlighted rows below."
                    if any(formset.errors)
                    else formset.non_form_errors()[0]
                )
        if (
            self.rules is not None
            and "skill_rules" in in_effect
            and not self.errors.get("skill_rules")
            and not self.rules.rows()
        ):
            self.add_error("skill_routing", "Add at least one rule, or turn skill routing off.")

    def clean(self):
        cleaned = super().clean()
        in_effect = self.groups_in_effect()
        self.in_effect = in_effect
        for name, group in FIELD_GROUPS.items():
            if name in self.fields and group not in in_effect:
                self._errors.pop(name, None)  # ignored: kept as saved
                cleaned[name] = self._stored_value(name)
        for name in ("distribution", "ai_fallback", "skill_fallback"):
            if name in self.fields and not cleaned.get(name):
                cleaned[name] = self.stored[name]  # left blank (radio buttons): as saved
        if any(name in self._errors for name in ("assign_mode", *SELECTIONS, "team")):
            return cleaned
        mode = self.mode(cleaned)
        try:
            if mode == AssignMode.SPECIFIC:
                validate_selection(
                    mode=mode, users=cleaned.get("users", []), teams=cleaned.get("teams", [])
                )
            elif mode == AssignMode.TEAM_ONLY:
                team = cleaned.get("team")
                validate_selection(
                    mode=mode, users=[], teams=[team] if team else [], fields=("users", "team")
                )
            elif mode == AssignMode.CUSTOMER_AGENT and cleaned.get("ai_fallback") == (
                AiFallback.SPECIFIC
            ):
                validate_selection(
                    mode=AssignMode.SPECIFIC,
                    users=cleaned.get("fallback_users", []),
                    teams=cleaned.get("fallback_teams", []),
                    fields=("fallback_users", "fallback_teams"),
                )
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                for message in messages:
                    self.add_error(field, message)
        return cleaned

    def _stored_value(self, name: str):
        if name == "team":
            return self.initial.get("team")
        return self.stored[name]

    def error_summary(self) -> list[tuple[str, str, str]]:
        """(label, message, id of the element to jump to) for every error, in page order."""
        pseudo = {
            "hours": ("Opening hours", "cs-hours"),
            "skill_rules": ("Skill rules", "cs-rules"),
        }
        order = [*self.fields, *pseudo, NON_FIELD_ERRORS]
        summary = []
        for name in sorted(self.errors, key=order.index):
            if name in self.fields:
                label, anchor = self.fields[name].label, f"div_{self[name].auto_id}"
            else:
                label, anchor = pseudo.get(name, ("", ""))
            summary += [(label, message, anchor) for message in self.errors[name]]
        return summary

    # --- the result -------------------------------------------------------------------

    def automation_data(self) -> dict:
        """The complete settings to save (and to preview): what applies as entered, the rest
        as saved. Files: an upload, False to remove the file, None to keep it."""
        cleaned = self.cleaned_data
        data = dict(self.stored)
        for name in (*SCALARS, *SELECTIONS):
            if name in self.fields:
                data[name] = cleaned[name]
        mode = self.mode(cleaned)
        data["assign_mode"] = mode
        if self.kind in CHAT_KINDS:
            data["chat_assignment_enabled"] = mode == AssignMode.SPECIFIC
        if mode == AssignMode.TEAM_ONLY:
            data["teams"] = [cleaned["team"]]
        if self.hours is not None:
            data["opening_hours"] = self.hours.rows()
        if self.rules is not None and "skill_rules" in self.in_effect:
            data["skill_rules"] = self.rules.rows()
        for name in ("unanswered_call_audio", "voicemail_greeting"):
            if name in self.fields:
                value = cleaned.get(name)
                data[name] = value if isinstance(value, UploadedFile) or value is False else None
        return data

    # --- layout -----------------------------------------------------------------------

    def _helper(self) -> FormHelper:
        helper = FormHelper()
        helper.form_tag = False
        helper.disable_csrf = True
        helper.layout = Layout(*self._sections())
        return helper

    def _sections(self) -> list:
        kind = self.kind
        sections = [Field("version")]
        if kind in ASSIGN_KINDS:
            sections.append(
                section(
                    "Assignment",
                    Field("assign_mode", template=OPTIONS),
                    group("owner_note", HTML(OWNER_NOTE)),
                    *(
                        [
                            group(
                                "ai",
                                Field("ai_fallback", template=OPTIONS),
                                group(
                                    "fallback",
                                    pickers("fallback_users", "fallback_teams"),
                                    applies="If AI can't answer: Specific users and teams.",
                                ),
                                css_class="cs-nested",
                                applies="For “Customer agent”.",
                            )
                        ]
                        if "ai_fallback" in self.fields
                        else []
                    ),
                    group(
                        "team",
                        Field("team", template=PICKER),
                        css_class="cs-nested",
                        applies="For “Team only”.",
                    ),
                    group(
                        "pool",
                        pickers("users", "teams"),
                        css_class="cs-nested",
                        applies="For “Specific users and teams”.",
                    ),
                )
            )
        elif kind in CHAT_KINDS:
            sections.append(
                section(
                    "Chat assignment",
                    Switch("chat_assignment_enabled"),
                    group(
                        "pool",
                        pickers("users", "teams"),
                        css_class="cs-nested",
                        applies="When conversations are assigned automatically.",
                    ),
                )
            )
        else:
            sections += [
                section(
                    "Opening hours",
                    Field("opening_hours_time_zone", css_class="form-select-sm cs-tz"),
                    HTML('{% include "channels_cfg/_hours.html" %}'),
                ),
                section(
                    "Routing during business hours",
                    Switch("call_routing"),
                    group(
                        "pool",
                        pickers("users", "teams"),
                        css_class="cs-nested",
                        applies="When calls are routed during business hours.",
                    ),
                ),
            ]
        sections.append(
            section(
                "Distribution and availability",
                group(
                    "distribution",
                    Field("distribution", template=OPTIONS),
                    applies="When tickets go to chosen users and teams.",
                ),
                group("available", "available_only"),
                group("reroute", "reroute_when_available"),
                HTML(NOTHING_TO_DISTRIBUTE),
                data_cs_section="distribution",
            )
        )
        if kind in SKILL_KINDS:
            sections.append(
                section(
                    "Skill-based routing",
                    group("skills", Switch("skill_routing")),
                    group(
                        "skill_rules",
                        HTML('{% include "channels_cfg/_rules.html" %}'),
                        Field("skill_fallback", template=OPTIONS),
                        css_class="cs-nested",
                        applies="When “Route by skills” is on.",
                    ),
                    HTML(SKILLS_NOT_USED),
                )
            )
        if kind == Kind.CALLING:
            sections += [
                section("Unanswered calls", Field("unanswered_call_audio")),
                section(
                    "Routing after hours",
                    HTML(AFTER_HOURS_NOTE),
                    "after_hours_message",
                    Field("voicemail_greeting"),
                ),
            ]
        return sections


OPTIONS = "channels_cfg/fields/options.html"
PICKER = "channels_cfg/fields/picker.html"
OWNER_NOTE = (
    '<p class="cs-note">Contact owner routing respects “Assign only to available users” below.</p>'
)
NOTHING_TO_DISTRIBUTE = (
    '<p class="cs-note cs-when-empty">Nothing to set here: the current choice above picks '
    "no user.</p>"
)
SKILLS_NOT_USED = (
    '<p class="cs-note cs-when-empty">Skills apply when tickets are routed to users; '
    "the current choice above routes to no user.</p>"
)
AFTER_HOURS_NOTE = (
    '<p class="cs-note">Calls outside the opening hours go to voicemail and wait in Unassigned.</p>'
)


def section(title: str, *fields, **attrs) -> Fieldset:
    return Fieldset(title, *fields, css_class="cs-section", **attrs)


def group(name: str, *fields, css_class: str = "", applies: str = "") -> Div:
    """Fields shown only while `name` is in effect (see `_rules_for`). `applies` says when,
    for the page without JavaScript, where every group shows."""
    caption = [HTML(f'<p class="cs-applies">{applies}</p>')] if applies else []
    return Div(*caption, *fields, css_class=f"cs-group {css_class}".strip(), data_cs_group=name)


def pickers(users: str, teams: str) -> Div:
    return Div(
        Div(Field(users, template=PICKER), css_class="col-md-6"),
        Div(Field(teams, template=PICKER), css_class="col-md-6"),
        css_class="row g-3",
    )


# ---------------------------------------------------------------------------------------
# Channel details
# ---------------------------------------------------------------------------------------


class ChannelDetailsForm(forms.ModelForm):
    class Meta:
        model = Channel
        fields = ["name", "address", "is_active"]
        labels = {"is_active": "Active"}
        help_texts = {
            "name": "Shown to agents in the queues and on tickets.",
            "is_active": "An inactive channel receives no new tickets; its tickets stay.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.disable_csrf = True
        self.helper.layout = Layout(
            Field("name", css_class="form-control-sm"),
            Field("address", css_class="form-control-sm"),
            Switch("is_active"),
        )


class ChannelCreateForm(ChannelDetailsForm):
    class Meta(ChannelDetailsForm.Meta):
        fields = ["kind", "name", "address", "is_active"]
        help_texts = {
            **ChannelDetailsForm.Meta.help_texts,
            "kind": "Decides the automation options: team email, forms and WhatsApp assign "
            "tickets; chats have an assignment toggle; calling has opening hours.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [("", "Choose a kind…"), *Channel.Kind.choices]
        self.helper.layout.fields.insert(0, Field("kind", css_class="form-select-sm"))
