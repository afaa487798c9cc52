"""How the Automation form decides assignment, as the kind's policy says (R14, R18, R19):
“Assign incoming tickets to” (team email, forms, WhatsApp), the chat's assignment switch, or
calling's routing during business hours — and the section that holds it with its pickers."""

from crispy_bootstrap5.bootstrap5 import Switch
from crispy_forms.layout import Field
from django import forms
from django.utils.translation import gettext, gettext_lazy

from channels_cfg.forms.groups import TOGGLE_FIELD
from channels_cfg.forms.help_texts import FORM_OWNER_HELP, MODE_HELP
from channels_cfg.forms.layout import OPTIONS, OWNER_NOTE, PICKER, group, note, pickers, section
from channels_cfg.forms.widgets import described
from channels_cfg.models import AssignMode


class AssignmentFields(forms.Form):
    """A part of `AutomationForm`, which sets `self.policy` (the channel kind's)."""

    assign_mode = described([], {}, label=gettext_lazy("Assign incoming tickets to"))
    chat_assignment_enabled = forms.BooleanField(
        label=gettext_lazy("Assign conversations automatically"),
        required=False,
        help_text=gettext_lazy(
            "On: each new conversation is assigned to one of the users and teams below. "
            "Off: conversations wait in Unassigned."
        ),
    )
    call_routing = forms.BooleanField(
        label=gettext_lazy("Route calls during business hours"),
        required=False,
        help_text=gettext_lazy(
            "On: calls inside the opening hours go to the users and teams below. "
            "Off: every call waits in Unassigned."
        ),
    )

    def _setup_assign_mode(self) -> None:
        """Offer exactly the kind's modes, each with what it does."""
        if "assign_mode" not in self.fields:
            return
        help_ = dict(MODE_HELP)
        if self.policy.emails_offline_contact_owner:
            help_[AssignMode.CONTACT_OWNER] = f"{help_[AssignMode.CONTACT_OWNER]} {FORM_OWNER_HELP}"
        field = self.fields["assign_mode"]
        field.choices = [(m.value, m.label) for m in self.policy.modes]
        field.widget.descriptions = {str(k): v for k, v in help_.items()}

    def mode(self, cleaned: dict) -> str:
        """The assign-to mode entered: chosen, or Specific/None from the kind's switch."""
        if self.policy.assign_rule:
            return cleaned.get("assign_mode") or ""
        switched_on = cleaned.get(TOGGLE_FIELD[self.policy.assignment])
        return AssignMode.SPECIFIC if switched_on else AssignMode.NONE

    # --- layout -----------------------------------------------------------------------

    def _assignment_sections(self) -> list:
        if self.policy.assign_rule:
            return [self._assign_rule_section()]
        if self.policy.chat_toggle:
            return [
                section(
                    gettext("Chat assignment"),
                    Switch("chat_assignment_enabled"),
                    group(
                        "pool",
                        pickers("users", "teams"),
                        css_class="cs-nested",
                        applies=gettext("When conversations are assigned automatically."),
                    ),
                )
            ]
        return [
            section(
                gettext("Routing during business hours"),
                Switch("call_routing"),
                group(
                    "pool",
                    pickers("users", "teams"),
                    css_class="cs-nested",
                    applies=gettext("When calls are routed during business hours."),
                ),
            )
        ]

    def _assign_rule_section(self):
        customer_agent = []
        if "ai_fallback" in self.fields:
            customer_agent = [
                group(
                    "ai",
                    Field("ai_fallback", template=OPTIONS),
                    group(
                        "fallback",
                        pickers("fallback_users", "fallback_teams"),
                        applies=gettext("If AI can't answer: Specific users and teams."),
                    ),
                    css_class="cs-nested",
                    applies=gettext("For “Customer agent”."),
                )
            ]
        return section(
            gettext("Assignment"),
            Field("assign_mode", template=OPTIONS),
            group("owner_note", note(OWNER_NOTE)),
            *customer_agent,
            group(
                "team",
                Field("team", template=PICKER),
                css_class="cs-nested",
                applies=gettext("For “Team only”."),
            ),
            group(
                "pool",
                pickers("users", "teams"),
                css_class="cs-nested",
                applies=gettext("For “Specific users and teams”."),
            ),
        )
