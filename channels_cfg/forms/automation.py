"""The Automation form of a channel, whose options follow the channel kind exactly as the
spec lists them (R14–R19).

Fields that do not apply to what is chosen are ignored here — not validated, and saved as they
were — see `channels_cfg.forms.groups` for when each group of fields applies.
"""

import zoneinfo

from crispy_bootstrap5.bootstrap5 import Switch
from crispy_forms.helper import FormHelper
from crispy_forms.layout import HTML, Field, Layout
from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db.models import Count, Exists, OuterRef, Q

from channels_cfg.forms.audio import audio_field
from channels_cfg.forms.formsets import OpeningHoursFormSet, SkillRuleFormSet
from channels_cfg.forms.groups import (
    ASSIGN_KINDS,
    CHAT_KINDS,
    FIELD_GROUPS,
    ON,
    SKILL_KINDS,
    Kind,
    _rules_for,
    groups_in_effect,
)
from channels_cfg.forms.help_texts import (
    AI_FALLBACK_HELP,
    AVAILABLE_HELP,
    DISTRIBUTION_HELP,
    FORM_OWNER_HELP,
    MODE_HELP,
    POOL_HELP,
    REROUTE_HELP,
    SKILL_FALLBACK_HELP,
    USERS_HELP,
)
from channels_cfg.forms.layout import (
    AFTER_HOURS_NOTE,
    NOTHING_TO_DISTRIBUTE,
    OPTIONS,
    OWNER_NOTE,
    PICKER,
    SKILLS_NOT_USED,
    group,
    pickers,
    section,
)
from channels_cfg.forms.widgets import ObjectField, ObjectsField, described
from channels_cfg.models import (
    AUDIO_MAX_BYTES,
    MODES_BY_KIND,
    AiFallback,
    AssignMode,
    ChannelAutomation,
    Distribution,
    SkillFallback,
    validate_selection,
)
from channels_cfg.services import SCALAR_FIELDS as SCALARS
from channels_cfg.services import automation_state
from helpdesk.models import Channel, Skill, Team, TeamMembership, User
from helpdesk.selectors import annotate_helpdesk_roles

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
        for name, group_name in FIELD_GROUPS.items():
            if name in self.fields and group_name not in in_effect:
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
