"""Skill-based routing on the Automation form (R17), for the kinds whose policy has it: the
switch, the rules (a formset) and what happens when nobody eligible has the skill."""

from crispy_bootstrap5.bootstrap5 import Switch
from crispy_forms.layout import HTML, Field
from django import forms
from django.utils.translation import gettext, gettext_lazy

from channels_cfg.forms.formsets import SkillRuleFormSet, report_formset_errors
from channels_cfg.forms.help_texts import SKILL_FALLBACK_HELP
from channels_cfg.forms.layout import OPTIONS, SKILLS_NOT_USED, group, note, section
from channels_cfg.forms.widgets import described
from channels_cfg.models import SkillFallback
from helpdesk.models import Skill


class SkillFields(forms.Form):
    """A part of `AutomationForm`, which sets `self.policy` and `self.stored`."""

    skill_routing = forms.BooleanField(
        label=gettext_lazy("Route by skills"),
        required=False,
        help_text=gettext_lazy(
            "Tickets that match a rule go only to users who have its skill. "
            "Skills are created and given to users in the admin."
        ),
    )
    skill_fallback = described(
        SkillFallback.choices,
        SKILL_FALLBACK_HELP,
        label=gettext_lazy("When no eligible user has the skill"),
        required=False,
    )

    def _setup_skills(self, data) -> None:
        self.rules = None
        if not self.policy.skill_routing:
            return
        skills = list(Skill.objects.order_by("name"))
        self.skills = skills
        self.rules = SkillRuleFormSet(
            data,
            prefix="rules",
            initial=[{**r, "skill": str(r["skill"].pk)} for r in self.stored["skill_rules"]],
            form_kwargs={"skills": skills},
        )

    def _check_skill_rules(self, in_effect: set[str]) -> None:
        """The rules count only while skill routing applies; then at least one is needed."""
        if self.rules is None or "skill_rules" not in in_effect:
            return
        report_formset_errors(self, "skill_rules", self.rules)
        if not self.errors.get("skill_rules") and not self.rules.rows():
            self.add_error(
                "skill_routing", gettext("Add at least one rule, or turn skill routing off.")
            )

    def _skill_rules_data(self) -> dict:
        if self.rules is None or "skill_rules" not in self.in_effect:
            return {}  # kept as saved
        return {"skill_rules": self.rules.rows()}

    def _skill_sections(self) -> list:
        if not self.policy.skill_routing:
            return []
        return [
            section(
                gettext("Skill-based routing"),
                group("skills", Switch("skill_routing")),
                group(
                    "skill_rules",
                    HTML('{% include "channels_cfg/_rules.html" %}'),
                    Field("skill_fallback", template=OPTIONS),
                    css_class="cs-nested",
                    applies=gettext("When “Route by skills” is on."),
                ),
                note(SKILLS_NOT_USED, when_empty=True),
            )
        ]
