"""Opening hours and skill rules: one form per row, and the formsets that check the rows
together."""

from itertools import pairwise

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext, gettext_lazy

from channels_cfg.forms.widgets import ObjectField
from channels_cfg.models import SkillRule
from helpdesk.models import Ticket
from helpdesk.models.availability import Weekday

SMALL_SELECT = {"class": "form-select form-select-sm"}
SMALL_INPUT = {"class": "form-control form-control-sm"}


class OpeningHoursForm(forms.Form):
    weekday = forms.TypedChoiceField(
        label=gettext_lazy("Day"),
        choices=[("", gettext_lazy("Day…")), *Weekday.choices],
        coerce=int,
        widget=forms.Select(attrs=SMALL_SELECT),
    )
    start = forms.TimeField(
        label=gettext_lazy("From"),
        widget=forms.TimeInput(attrs={**SMALL_INPUT, "type": "time"}, format="%H:%M"),
    )
    end = forms.TimeField(
        label=gettext_lazy("To"),
        widget=forms.TimeInput(attrs={**SMALL_INPUT, "type": "time"}, format="%H:%M"),
    )

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end and end <= start:
            self.add_error(
                "end",
                gettext(
                    "The end must be after the start (a range ending at midnight ends at 23:59)."
                ),
            )
        return cleaned


class RowsFormSet(forms.BaseFormSet):
    def add_fields(self, form, index):
        super().add_fields(form, index)
        form.fields["DELETE"].label = gettext("Remove")
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
                        gettext("%(day)s: %(first)s overlaps %(second)s. Merge them or change one.")
                        % {
                            "day": Weekday(day).label,
                            "first": f"{a['start']:%H:%M}–{a['end']:%H:%M}",
                            "second": f"{b['start']:%H:%M}–{b['end']:%H:%M}",
                        }
                    )


OpeningHoursFormSet = forms.formset_factory(
    OpeningHoursForm, formset=BaseOpeningHoursFormSet, extra=1, can_delete=True
)

PRIORITY_WORDS = {str(p.value) for p in Ticket.Priority} | {
    p.label.casefold() for p in Ticket.Priority
}


class SkillRuleForm(forms.Form):
    condition = forms.ChoiceField(
        label=gettext_lazy("Condition"),
        choices=[("", gettext_lazy("Condition…")), *SkillRule.Condition.choices],
        widget=forms.Select(attrs=SMALL_SELECT),
    )
    value = forms.CharField(
        label=gettext_lazy("Value"),
        max_length=120,
        widget=forms.TextInput(
            attrs={**SMALL_INPUT, "placeholder": gettext_lazy("e.g. no, refund, Urgent")}
        ),
    )
    skill = ObjectField(
        label=gettext_lazy("Skill"),
        widget=forms.Select(attrs=SMALL_SELECT),
        choices=[("", gettext_lazy("Skill…"))],
    )

    def __init__(self, *args, skills=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["skill"].objects = {str(s.pk): s for s in skills}
        self.fields["skill"].choices = [("", gettext("Skill…"))] + [
            (str(s.pk), str(s)) for s in skills
        ]

    def clean(self):
        cleaned = super().clean()
        condition, value = cleaned.get("condition"), (cleaned.get("value") or "").strip()
        if not condition or not value:
            return cleaned
        cleaned["value"] = value
        if condition == SkillRule.Condition.PRIORITY_IS and value.casefold() not in PRIORITY_WORDS:
            self.add_error("value", gettext("A priority is Low, Normal, High or Urgent."))
        elif condition == SkillRule.Condition.LANGUAGE_IS and not (
            len(value) <= 16 and value.replace("-", "").isalpha()
        ):
            self.add_error("value", gettext("A language is a code such as no, es or pt-BR."))
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
                    gettext("The rule “%(label)s %(value)s → %(skill)s” is listed twice.")
                    % {
                        "label": SkillRule.Condition(row["condition"]).label,
                        "value": row["value"],
                        "skill": row["skill"],
                    }
                )
            seen.add(key)


SkillRuleFormSet = forms.formset_factory(
    SkillRuleForm, formset=BaseSkillRuleFormSet, extra=1, can_delete=True
)


def report_formset_errors(form: forms.Form, name: str, formset: RowsFormSet) -> None:
    """A formset's errors as one error of `form` under `name` (the rows show their own)."""
    if not formset.is_valid():
        form._errors.setdefault(name, form.error_class()).append(
            gettext("Check the highlighted rows below.")
            if any(formset.errors)
            else formset.non_form_errors()[0]
        )
