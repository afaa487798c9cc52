"""Helpers for the notification tests.

Announcements and deliveries are Celery tasks published after commit. A test's transaction
never commits and unit tests' Celery is not eager, so `committed()` runs what a block
scheduled on commit, as a real commit would, and then does what that published, as a worker
would (`tests.support.services.PublishedTasks`); without it, nothing is announced.
"""

from django.db import connection

from helpdesk import services
from helpdesk.models import AssignmentEvent
from notifications.announce import announce_assignment
from notifications.models import Delivery
from tests.factories import ChannelAutomationFactory, TicketFactory
from tests.support.services import PublishedTasks

Cause = AssignmentEvent.Cause

# What `recipients_for` reads of the preferences, for any number of users: their main teams,
# the defaults that can reach them and their own choices — one statement on PostgreSQL
# (`notifications.sql.preference_rows`), three queries elsewhere.
PREFERENCE_QUERIES = 1 if connection.vendor == "postgresql" else 3


def committed():
    """`with committed():` — run the on-commit callbacks of the block, then every task they
    published (and what those published in turn); the names run are in the yielded list."""
    return PublishedTasks().after_commit()


def deliveries(**filters) -> set[tuple[str, str, str]]:
    """{(event, username, medium)} of the deliveries matching `filters`."""
    return {
        (d.event, d.recipient.username, d.medium)
        for d in Delivery.objects.filter(**filters).select_related("recipient")
    }


def recipients_of(event: str, medium: str = "in_app") -> set[str]:
    return {username for e, username, m in deliveries() if e == event and m == medium}


def open_ticket(**kwargs):
    """A ticket that routing will not look at (no channel, or already routed)."""
    kwargs.setdefault("channel", None)
    return TicketFactory(**kwargs)


def assign(ticket, *, owner=None, team=None, actor=None, cause=Cause.MANUAL):
    """Assign through the service and commit: announced, and delivered (the tasks run)."""
    with committed():
        return services.assign(ticket=ticket, owner=owner, team=team, actor=actor, cause=cause)


def assign_pending(ticket, *, owner, actor):
    """Assign and announce, but deliver nothing yet: the deliveries stay pending."""
    event = services.assign(ticket=ticket, owner=owner, team=None, actor=actor, cause=Cause.MANUAL)
    announce_assignment(assignment_id=event.pk)  # its on-commit enqueues never run
    return event


def routed_channel(*, assign_mode, **kwargs):
    return ChannelAutomationFactory(assign_mode=assign_mode, **kwargs).channel
