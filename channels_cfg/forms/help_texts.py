"""What each Automation option does, in the spec's terms (shown under each option)."""

from django.utils.translation import gettext_lazy

from channels_cfg.models import AiFallback, AssignMode, Distribution, SkillFallback

MODE_HELP = {
    AssignMode.CUSTOMER_AGENT: gettext_lazy(
        "An AI customer agent answers first. Tickets it can't answer "
        "follow “If AI can't answer, assign to”."
    ),
    AssignMode.SPECIFIC: gettext_lazy(
        "Route each ticket to one of the chosen users or to a main member "
        "of the chosen teams, by the distribution below."
    ),
    AssignMode.TEAM_ONLY: gettext_lazy(
        "Set the team and leave the owner empty: tickets show in the "
        "team's My team's unassigned and My team's open views. Only teams with at least one "
        "seated user can be chosen."
    ),
    AssignMode.CONTACT_OWNER: gettext_lazy(
        "Assign to the owner of the contact. The contact must have an "
        "owner and be identified (tracked by a cookie, or known by email or phone); otherwise "
        "the ticket waits in Unassigned."
    ),
    AssignMode.NONE: gettext_lazy(
        "Nobody is assigned: tickets go to the Unassigned view for triage."
    ),
}
FORM_OWNER_HELP = gettext_lazy(
    "If the owner is offline (with “Assign only to available users” ticked), the form "
    "submission is sent to the owner by email."
)
AI_FALLBACK_HELP = {
    AiFallback.NONE: gettext_lazy("The ticket goes to the Unassigned view."),
    AiFallback.SPECIFIC: gettext_lazy("Route it to the users and teams chosen below."),
}
DISTRIBUTION_HELP = {
    Distribution.LOAD_BALANCED: gettext_lazy(
        "To whoever has the fewest open tickets of the same type "
        "(calls, messages or email/other) assigned in the last 30 days."
    ),
    Distribution.ROUND_ROBIN: gettext_lazy(
        "In a rotating, sequential order: whoever's turn is oldest gets the next ticket."
    ),
    Distribution.RANDOM: gettext_lazy("To an eligible user picked at random."),
}
SKILL_FALLBACK_HELP = {
    SkillFallback.LEAVE_UNASSIGNED: gettext_lazy("Nobody gets the ticket; it waits in Unassigned."),
    SkillFallback.UNSKILLED: gettext_lazy("Route it among the eligible users who lack the skill."),
}
AVAILABLE_HELP = gettext_lazy(
    "Tickets go only to available agents (working hours, out of office, or the status they "
    "set). When none is available the ticket stays unassigned. Untick to route regardless "
    "of availability."
)
REROUTE_HELP = gettext_lazy(
    "A ticket left unassigned because nobody was available (or everyone was at capacity) is "
    "routed again as soon as one of these agents becomes available."
)
POOL_HELP = gettext_lazy("Teams route only to their main members; additional members are skipped.")
USERS_HELP = gettext_lazy("Only users with a helpdesk seat and ticket access can receive tickets.")
