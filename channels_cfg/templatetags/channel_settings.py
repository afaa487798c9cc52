"""Template helpers of the channel settings pages: the one-line routing summary of a channel
(read from prefetched rows, so a list of channels costs a fixed number of queries)."""

from datetime import timedelta

from django import template
from django.utils import timezone
from django.utils.timesince import timesince
from django.utils.translation import gettext, gettext_lazy, ngettext

from channels_cfg.models import AiFallback, AssignMode, ChannelAutomation, Distribution
from helpdesk.channel_kinds import policy_for
from helpdesk.models import Channel

register = template.Library()

NAMES_SHOWN = 3
UNASSIGNED = gettext_lazy("None: tickets wait in Unassigned")


def _names(users, teams) -> str:
    names = [gettext("%(t)s (main members)") % {"t": t} for t in sorted(teams, key=str)]
    names += sorted(str(u) for u in users)
    if not names:
        return gettext("nobody yet")
    if len(names) > NAMES_SHOWN:
        return gettext("%(names)s and %(more)s more") % {
            "names": ", ".join(names[:NAMES_SHOWN]),
            "more": len(names) - NAMES_SHOWN,
        }
    return ", ".join(names)


def _availability(automation: ChannelAutomation) -> str:
    return (
        gettext("available users only")
        if automation.available_only
        else gettext("whether available or not")
    )


def _routed(automation: ChannelAutomation, users, teams) -> str:
    values = {
        "distribution": Distribution(automation.distribution).label,
        "names": _names(users, teams),
        "availability": _availability(automation),
    }
    if automation.skill_routing:
        return gettext("%(distribution)s to %(names)s, %(availability)s, by skills") % values
    return gettext("%(distribution)s to %(names)s, %(availability)s") % values


def _hours(automation: ChannelAutomation) -> str:
    count = len(automation.opening_hours.all())  # prefetched
    if not count:
        return gettext("always open")
    return ngettext(
        "%(count)s opening-hour range, %(time_zone)s",
        "%(count)s opening-hour ranges, %(time_zone)s",
        count,
    ) % {"count": count, "time_zone": automation.opening_hours_time_zone}


@register.filter
def routing_summary(channel: Channel) -> str:
    """“Load balanced to Support (main members), available users only”."""
    automation = getattr(channel, "automation", None)
    if automation is None:
        return UNASSIGNED
    users, teams = automation.users.all(), automation.teams.all()
    mode, policy = automation.assign_mode, policy_for(channel.kind)
    if policy.chat_toggle:
        if not automation.chat_assignment_enabled:
            return gettext("Assignment off: conversations wait in Unassigned")
        return _routed(automation, users, teams)
    if policy.calling_hours:
        during = (
            _routed(automation, users, teams)
            if mode == AssignMode.SPECIFIC
            else gettext("calls wait in Unassigned")
        )
        return gettext("Business hours (%(hours)s): %(during)s; after hours: voicemail") % {
            "hours": _hours(automation),
            "during": during,
        }
    if mode == AssignMode.SPECIFIC:
        return _routed(automation, users, teams)
    if mode == AssignMode.TEAM_ONLY:
        team = next(iter(sorted(teams, key=str)), None)
        return gettext("Team only: %(team)s, no owner") % {
            "team": team or gettext("no team chosen")
        }
    if mode == AssignMode.CONTACT_OWNER:
        values = {"availability": _availability(automation)}
        if policy.emails_offline_contact_owner and automation.available_only:
            return gettext("Contact owner, %(availability)s; emailed to an offline owner") % values
        return gettext("Contact owner, %(availability)s") % values
    if mode == AssignMode.CUSTOMER_AGENT:
        if automation.ai_fallback == AiFallback.SPECIFIC:
            fallback = _routed(
                automation, automation.fallback_users.all(), automation.fallback_teams.all()
            )
            return gettext("Customer agent; if AI can't answer: %(fallback)s") % {
                "fallback": fallback[0].lower() + fallback[1:]  # "load balanced to …"
            }
        return gettext("Customer agent; if AI can't answer: Unassigned")
    return UNASSIGNED


@register.filter
def ago(moment) -> str:
    """“just now”, “5 minutes ago”, “2 days, 3 hours ago”."""
    if moment is None:
        return ""
    if timezone.now() - moment < timedelta(minutes=1):
        return gettext("just now")
    return gettext("%(timesince)s ago") % {"timesince": timesince(moment)}
