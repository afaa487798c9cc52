"""Who the Automation form routes to and how one is picked (R7–R9, R14–R16): the users and
teams, Team only's team, the customer agent's fallback, the distribution and availability —
with why some users and teams cannot be chosen."""

from crispy_forms.layout import Field
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Count, Exists, OuterRef, Q
from django.utils.translation import gettext, gettext_lazy, ngettext

from channels_cfg.forms.help_texts import (
    AI_FALLBACK_HELP,
    AVAILABLE_HELP,
    DISTRIBUTION_HELP,
    POOL_HELP,
    REROUTE_HELP,
    USERS_HELP,
)
from channels_cfg.forms.layout import NOTHING_TO_DISTRIBUTE, OPTIONS, group, note, section
from channels_cfg.forms.widgets import ObjectField, ObjectsField, described
from channels_cfg.models import AiFallback, AssignMode, Distribution, validate_selection
from helpdesk.models import Team, TeamMembership, User
from helpdesk.selectors import annotate_helpdesk_roles


class RecipientFields(forms.Form):
    """A part of `AutomationForm`."""

    ai_fallback = described(
        AiFallback.choices,
        AI_FALLBACK_HELP,
        label=gettext_lazy("If AI can't answer, assign to"),
        required=False,
    )
    fallback_users = ObjectsField(
        label=gettext_lazy("Users"),
        required=False,
        empty_text=gettext_lazy("No users yet."),
        help_text=USERS_HELP,
    )
    fallback_teams = ObjectsField(
        label=gettext_lazy("Teams"),
        required=False,
        empty_text=gettext_lazy("No teams yet."),
        help_text=POOL_HELP,
    )
    team = ObjectField(
        label=gettext_lazy("Team"),
        required=False,
        empty_text=gettext_lazy(
            "No teams yet: create a team with at least one seated member first."
        ),
        help_text=gettext_lazy("The ticket gets this team and no owner."),
    )
    users = ObjectsField(
        label=gettext_lazy("Users"),
        required=False,
        empty_text=gettext_lazy("No users yet."),
        help_text=USERS_HELP,
    )
    teams = ObjectsField(
        label=gettext_lazy("Teams"),
        required=False,
        empty_text=gettext_lazy("No teams yet."),
        help_text=POOL_HELP,
    )
    distribution = described(
        Distribution.choices, DISTRIBUTION_HELP, label=gettext_lazy("Distribution"), required=False
    )
    available_only = forms.BooleanField(
        label=gettext_lazy("Assign only to available users"),
        required=False,
        help_text=AVAILABLE_HELP,
    )
    reroute_when_available = forms.BooleanField(
        label=gettext_lazy("Route again when an agent becomes available"),
        required=False,
        help_text=REROUTE_HELP,
    )

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
                reasons[str(user.pk)] = gettext("no helpdesk seat")
            elif not user.has_ticket_access_db:
                reasons[str(user.pk)] = gettext("no ticket access")
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
            str(t.pk): ngettext(
                "%(main_members)s main member", "%(main_members)s main members", t.main_members
            )
            % {"main_members": t.main_members}
            for t in teams
        }
        for name in ("users", "fallback_users"):
            if name in self.fields:
                self.fields[name].set_objects(users, reasons=reasons)
        for name in ("teams", "fallback_teams"):
            if name in self.fields:
                self.fields[name].set_objects(teams, details=details)
        if "team" in self.fields:
            unseated = {str(t.pk): gettext("no member with a seat") for t in teams if not t.seated}
            self.fields["team"].set_objects(teams, reasons=unseated, details=details)

    def _validate_recipients(self, cleaned: dict, mode: str) -> None:
        """The chosen users and teams of the mode entered must be routable (R7, R8, R14)."""
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

    def _distribution_section(self):
        return section(
            gettext("Distribution and availability"),
            group(
                "distribution",
                Field("distribution", template=OPTIONS),
                applies=gettext("When tickets go to chosen users and teams."),
            ),
            group("available", "available_only"),
            group("reroute", "reroute_when_available"),
            note(NOTHING_TO_DISTRIBUTE, when_empty=True),
            data_cs_section="distribution",
        )
