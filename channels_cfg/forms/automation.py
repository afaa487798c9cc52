"""The Automation form of a channel, whose options follow the channel kind's policy
(`helpdesk.channel_kinds`) exactly as the spec lists them (R14–R19).

Put together from one part per concern: how assignment is decided (`assignment`), who is
routed to and how one is picked (`recipients`), skills (`skills`), opening hours and voicemail
(`hours_voicemail`). Which settings a kind shows comes from `AUTOMATION_SETTINGS` and the
policy. Fields that do not apply to what is chosen are ignored here — not validated, and saved
as they were — see `channels_cfg.forms.groups` for when each group of fields applies.
"""

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Field, Layout
from django import forms
from django.core.exceptions import NON_FIELD_ERRORS
from django.utils.translation import gettext

from channels_cfg.forms.assignment import AssignmentFields
from channels_cfg.forms.groups import FIELD_GROUPS, ON, TOGGLE_FIELD, _rules_for, groups_in_effect
from channels_cfg.forms.hours_voicemail import HoursAndVoicemailFields
from channels_cfg.forms.recipients import RecipientFields
from channels_cfg.forms.skills import SkillFields
from channels_cfg.models import (
    AUTOMATION_SETTINGS,
    SCALAR,
    SELECTION,
    AssignMode,
    ChannelAutomation,
    setting_names,
)
from channels_cfg.services import automation_state
from helpdesk.channel_kinds import policy_for
from helpdesk.models import Channel

EDITED = setting_names(SCALAR, SELECTION)  # taken from the form as entered, when shown
SELECTIONS = ChannelAutomation.SELECTION_FIELDS
# The policy flag each form field needs ("" = every kind): the settings' own, and the
# form's fields that are no setting of their own.
FIELD_NEEDS = {s.name: s.needs for s in AUTOMATION_SETTINGS} | {
    "version": "",
    "team": "assign_rule",  # Team only's one team: edits "teams"
    "call_routing": "calling_hours",  # edits "assign_mode" (Specific or None)
}


def stored_settings(automation: ChannelAutomation) -> dict:
    """Everything `services.save_automation` accepts, as currently saved (defaults when the
    automation is not saved yet); files as None: keep them."""
    data = automation_state(automation)
    data["unanswered_call_audio"] = data["voicemail_greeting"] = None
    return data


class AutomationForm(HoursAndVoicemailFields, SkillFields, RecipientFields, AssignmentFields):
    """The Automation tab of one channel. `automation_data()` (after `is_valid()`) is what
    `services.save_automation` saves and what the routing preview runs on.

    The parts' fields come in page order (the parts listed last come first); `version` first.
    """

    field_order = ["version"]
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)

    def __init__(self, data=None, files=None, *, channel: Channel, automation: ChannelAutomation):
        self.channel, self.kind, self.automation = channel, channel.kind, automation
        self.policy = policy_for(channel.kind)
        self.stored = stored_settings(automation)
        super().__init__(data, files, initial=self._initial())
        self.group_rules = _rules_for(self.kind)
        self._keep_fields_of_kind()
        self._setup_assign_mode()
        self._load_choices()
        self._setup_hours(data)
        self._setup_skills(data)
        self.helper = self._helper()

    # --- setup ------------------------------------------------------------------------

    def _initial(self) -> dict:
        s, a = self.stored, self.automation
        team_only = s["assign_mode"] == AssignMode.TEAM_ONLY
        return {
            **{name: s[name] for name in EDITED},
            "version": a.version,
            "call_routing": s["assign_mode"] == AssignMode.SPECIFIC,
            "team": s["teams"][0] if team_only and s["teams"] else None,
            **self._initial_files(),
        }

    def _keep_fields_of_kind(self) -> None:
        for name in list(self.fields):
            needs = FIELD_NEEDS[name]
            if needs and not getattr(self.policy, needs):
                del self.fields[name]

    # --- state and relevance ----------------------------------------------------------

    def state(self) -> dict[str, str]:
        """The values the group rules read: submitted ones when bound, else the initial."""
        state = {}
        for name in ("assign_mode", "ai_fallback"):
            if name in self.fields:
                value = self[name].value()
                state[name] = str(value) if value is not None else ""
        for name in (*TOGGLE_FIELD.values(), "skill_routing"):
            if name in self.fields:
                state[name] = ON if self[name].value() else ""
        return state

    def groups_in_effect(self) -> set[str]:
        return groups_in_effect(self.group_rules, self.state())

    # --- validation -------------------------------------------------------------------

    def full_clean(self):
        super().full_clean()
        if not self.is_bound:
            return
        self._check_hours()
        self._check_skill_rules(self.groups_in_effect())

    def clean(self):
        cleaned = super().clean()
        in_effect = self.groups_in_effect()
        self.in_effect = in_effect
        for name, group_name in FIELD_GROUPS.items():
            if name in self.fields and group_name not in in_effect:
                self._errors.pop(name, None)  # ignored: kept as saved
                cleaned[name] = self._stored_value(name)
        for setting in AUTOMATION_SETTINGS:
            field = self.fields.get(setting.name)
            if setting.choices and field and not field.required and not cleaned.get(setting.name):
                cleaned[setting.name] = self.stored[setting.name]  # left blank: as saved
        if any(name in self._errors for name in ("assign_mode", *SELECTIONS, "team")):
            return cleaned
        self._validate_recipients(cleaned, self.mode(cleaned))
        return cleaned

    def _stored_value(self, name: str):
        if name == "team":
            return self.initial.get("team")
        return self.stored[name]

    def error_summary(self) -> list[tuple[str, str, str]]:
        """(label, message, id of the element to jump to) for every error, in page order."""
        pseudo = {
            "hours": (gettext("Opening hours"), "cs-hours"),
            "skill_rules": (gettext("Skill rules"), "cs-rules"),
        }
        order = [*self.fields, *pseudo, NON_FIELD_ERRORS]
        summary = []
        for name in sorted(self.errors, key=order.index):
            if name in self.fields:
                label, anchor = (
                    self.fields[name].label,
                    f"div_{self[name].auto_id}",
                )
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
        for name in EDITED:
            if name in self.fields:
                data[name] = cleaned[name]
        mode = self.mode(cleaned)
        data["assign_mode"] = mode
        if self.policy.chat_toggle:
            data["chat_assignment_enabled"] = mode == AssignMode.SPECIFIC
        if mode == AssignMode.TEAM_ONLY:
            data["teams"] = [cleaned["team"]]
        return data | self._hours_and_files_data(cleaned) | self._skill_rules_data()

    # --- layout -----------------------------------------------------------------------

    def _helper(self) -> FormHelper:
        helper = FormHelper()
        helper.form_tag = False
        helper.disable_csrf = True
        helper.layout = Layout(
            Field("version"),
            *self._opening_hours_sections(),
            *self._assignment_sections(),
            self._distribution_section(),
            *self._skill_sections(),
            *self._voicemail_sections(),
        )
        return helper
