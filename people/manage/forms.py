"""The People settings forms: validation only; the services write and refuse."""

import json

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext, gettext_lazy, pgettext_lazy

from helpdesk.models import Skill, Team, TeamMembership, User

Role = TeamMembership.Role


class StateField(forms.CharField):
    """The state the page showed (JSON), sent back so the service can tell whether someone
    changed it meanwhile (`helpdesk.services.people_log`)."""

    widget = forms.HiddenInput

    def to_python(self, value):
        value = super().to_python(value)
        if not value:
            return None
        try:
            state = json.loads(value)
        except ValueError:
            state = None
        if not isinstance(state, dict):
            raise ValidationError(gettext("The page was damaged; reload it and try again."))
        return state

    def prepare_value(self, value):
        return value if isinstance(value, str) else json.dumps(value)


def checkboxes(queryset, label: str) -> forms.ModelMultipleChoiceField:
    return forms.ModelMultipleChoiceField(
        queryset=queryset,
        required=False,
        label=label,
        widget=forms.CheckboxSelectMultiple(attrs={"class": "form-check-input"}),
    )


class InviteForm(forms.Form):
    first_name = forms.CharField(max_length=150, label=gettext_lazy("First name"))
    last_name = forms.CharField(max_length=150, required=False, label=gettext_lazy("Last name"))
    email = forms.EmailField(label=gettext_lazy("Email"))
    username = forms.CharField(
        max_length=150,
        label=gettext_lazy("Username"),
        help_text=gettext_lazy("They sign in with it."),
    )
    ticket_access = forms.BooleanField(
        required=False, initial=True, label=gettext_lazy("Ticket access (the Agents group)")
    )
    seat = forms.BooleanField(
        required=False,
        initial=True,
        label=gettext_lazy("Give a seat (needed to receive routed tickets)"),
    )


class UserEditForm(forms.Form):
    first_name = forms.CharField(max_length=150, required=False, label=gettext_lazy("First name"))
    last_name = forms.CharField(max_length=150, required=False, label=gettext_lazy("Last name"))
    email = forms.EmailField(required=False, label=gettext_lazy("Email"))
    ticket_access = forms.BooleanField(
        required=False,
        label=gettext_lazy("Ticket access"),
        help_text=gettext_lazy("The Agents group: sees and works tickets (R8)."),
    )
    seat = forms.BooleanField(
        required=False,
        label=gettext_lazy("Seat"),
        help_text=gettext_lazy("Only users with a seat receive routed tickets (R7)."),
    )
    main_team = forms.ModelChoiceField(
        queryset=Team.objects.all(),
        required=False,
        label=gettext_lazy("Main team"),
        empty_label=gettext_lazy("(none)"),
        help_text=gettext_lazy(
            "Rules naming a team route only to its main members (R9). Choosing "
            "another team moves them."
        ),
    )
    additional_teams = checkboxes(Team.objects.all(), gettext_lazy("Additional teams"))
    skills = checkboxes(Skill.objects.all(), gettext_lazy("Skills"))
    shown = StateField()

    @classmethod
    def for_state(cls, user: User, state: dict) -> "UserEditForm":
        main = state["main_team"]
        return cls(
            initial={
                "first_name": user.first_name,
                "last_name": user.last_name,
                "email": user.email,
                "ticket_access": state["ticket_access"],
                "seat": state["seat"],
                "main_team": main[0][0] if main else None,
                "additional_teams": [t[0] for t in state["additional_teams"]],
                "skills": [s[0] for s in state["skills"]],
                "shown": state,
            }
        )


class NameForm(forms.Form):
    name = forms.CharField(max_length=80, label=gettext_lazy("Name"))


ROLE_CHOICES = [
    ("", gettext_lazy("Not a member")),
    (Role.MAIN, pgettext_lazy("team role", "Main")),
    (Role.ADDITIONAL, pgettext_lazy("team role", "Additional")),
]


class TeamEditForm(forms.Form):
    """The name and one role choice per user: `role_<user id>`."""

    name = forms.CharField(max_length=120, label=gettext_lazy("Name"))
    shown = StateField()

    def __init__(self, *args, users, state: dict, **kwargs):
        roles = {m[0]: Role.MAIN for m in state["main"]}
        roles |= {m[0]: Role.ADDITIONAL for m in state["additional"]}
        initial = {"name": state["name"], "shown": state}
        initial |= {f"role_{u.pk}": roles.get(u.pk, "") for u in users}
        super().__init__(*args, initial=initial, **kwargs)
        self.users = list(users)
        for user in self.users:
            self.fields[f"role_{user.pk}"] = forms.ChoiceField(
                choices=ROLE_CHOICES, required=False, label=str(user)
            )

    def member_fields(self):
        return [(user, self[f"role_{user.pk}"]) for user in self.users]

    def members(self) -> dict[int, str]:
        return {
            user.pk: self.cleaned_data[f"role_{user.pk}"]
            for user in self.users
            if self.cleaned_data.get(f"role_{user.pk}")
        }


class SkillEditForm(forms.Form):
    name = forms.CharField(max_length=80, label=gettext_lazy("Name"))
    holders = checkboxes(User.objects.none(), gettext_lazy("Users with the skill"))
    shown = StateField()

    def __init__(self, *args, users, state: dict, **kwargs):
        initial = {"name": state["name"], "holders": [h[0] for h in state["holders"]]}
        super().__init__(*args, initial=initial | {"shown": state}, **kwargs)
        self.fields["holders"].queryset = users
