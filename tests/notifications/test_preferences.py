"""Preferences: own > superadmin default > built-in (R27), managed by each user (R25) and by
superadmins (R26); recipients of one event resolved in a fixed number of queries whatever
their number. The defaults aimed at a team or a user: tests/notifications/test_audiences.py."""

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test.utils import CaptureQueriesContext

from helpdesk.models import User
from helpdesk.selectors import users_with_ticket_access
from notifications import services
from notifications.catalog import BUILT_IN, CELLS, Event, Medium
from notifications.models import DefaultPreference, Preference
from notifications.services import Effective, Source
from tests.factories import AgentFactory

pytestmark = pytest.mark.django_db

ASSIGNED_EMAIL = (Event.ASSIGNED_TO_ME, Medium.EMAIL)
UNASSIGNED_EMAIL = (Event.TICKET_UNASSIGNED, Medium.EMAIL)


def test_r27_built_in_defaults_apply_when_nobody_chose(agent):
    effective = services.effective_preferences(agent)
    assert set(effective) == set(CELLS)
    assert effective == {cell: Effective(BUILT_IN[cell], Source.BUILT_IN) for cell in CELLS}


def test_r26_r27_superadmin_default_overrides_the_built_in_one(agent, superadmin):
    services.update_default_preferences(actor=superadmin, changes={UNASSIGNED_EMAIL: True})
    effective = services.effective_preferences(agent)
    assert effective[UNASSIGNED_EMAIL] == Effective(True, Source.ACCOUNT_DEFAULT)
    assert effective[ASSIGNED_EMAIL] == Effective(True, Source.BUILT_IN)


def test_r27_own_choice_overrides_default_and_built_in(agent, superadmin):
    services.update_default_preferences(actor=superadmin, changes={UNASSIGNED_EMAIL: True})
    services.update_preferences(
        user=agent, changes={UNASSIGNED_EMAIL: False, ASSIGNED_EMAIL: False}
    )
    effective = services.effective_preferences(agent)
    assert effective[UNASSIGNED_EMAIL] == Effective(False, Source.OWN)
    assert effective[ASSIGNED_EMAIL] == Effective(False, Source.OWN)


def test_r27_own_choice_that_equals_the_default_still_wins_when_the_default_changes(
    agent, superadmin
):
    services.update_preferences(user=agent, changes={ASSIGNED_EMAIL: True})
    services.update_default_preferences(actor=superadmin, changes={ASSIGNED_EMAIL: False})
    assert services.effective_preferences(agent)[ASSIGNED_EMAIL] == Effective(True, Source.OWN)
    assert services.effective_preferences(superadmin)[ASSIGNED_EMAIL] == Effective(
        False, Source.ACCOUNT_DEFAULT
    )


def test_r25_reset_brings_the_defaults_back(agent, superadmin):
    services.update_default_preferences(actor=superadmin, changes={UNASSIGNED_EMAIL: True})
    services.update_preferences(
        user=agent, changes={UNASSIGNED_EMAIL: False, ASSIGNED_EMAIL: False}
    )
    services.reset_preferences(user=agent, event=Event.TICKET_UNASSIGNED)
    effective = services.effective_preferences(agent)
    assert effective[UNASSIGNED_EMAIL] == Effective(True, Source.ACCOUNT_DEFAULT)
    assert effective[ASSIGNED_EMAIL].source == Source.OWN
    services.reset_preferences(user=agent)
    assert not Preference.objects.filter(user=agent).exists()


def test_r26_only_superadmins_set_defaults(agent, admin_user, superadmin):
    for user in (agent, admin_user):
        with pytest.raises(PermissionDenied):
            services.update_default_preferences(actor=user, changes={UNASSIGNED_EMAIL: True})
        with pytest.raises(PermissionDenied):
            services.reset_default_preferences(actor=user)
    services.update_default_preferences(actor=superadmin, changes={UNASSIGNED_EMAIL: True})
    row = DefaultPreference.objects.get()
    assert (row.event, row.medium, row.enabled, row.updated_by) == (
        *UNASSIGNED_EMAIL,
        True,
        superadmin,
    )
    services.reset_default_preferences(actor=superadmin)
    assert services.effective_preferences(agent)[UNASSIGNED_EMAIL].source == Source.BUILT_IN


def test_r27_bulk_resolution_agrees_with_effective_preferences(superadmin):
    """The sender's bulk form and the page's one-user form are the same rule."""
    users = [AgentFactory() for _ in range(6)]
    services.update_default_preferences(
        actor=superadmin,
        changes={UNASSIGNED_EMAIL: True, (Event.TICKET_UNASSIGNED, "in_app"): False},
    )
    services.update_preferences(user=users[0], changes={UNASSIGNED_EMAIL: False})
    services.update_preferences(user=users[1], changes={(Event.TICKET_UNASSIGNED, "in_app"): True})
    for event in Event.values:
        wanted = services.recipients_by_medium(
            event, User.objects.filter(pk__in=[u.pk for u in users])
        )
        for medium in Medium.values:
            expected = {
                u.pk for u in users if services.effective_preferences(u)[(event, medium)].enabled
            }
            assert {u.pk for u in wanted[medium]} == expected, (event, medium)


def _queries(func) -> int:
    with CaptureQueriesContext(connection) as ctx:
        func()
    return len(ctx.captured_queries)


@pytest.mark.parametrize("n", [3, 30])
def test_r27_recipient_resolution_costs_fixed_queries(n, superadmin, django_assert_max_num_queries):
    users = [AgentFactory() for _ in range(n)]
    services.update_default_preferences(actor=superadmin, changes={UNASSIGNED_EMAIL: True})
    for user in users[::2]:
        services.update_preferences(user=user, changes={UNASSIGNED_EMAIL: False})
    # The users, their main teams, the defaults of the event, their own choices: four queries.
    with django_assert_max_num_queries(4):
        wanted = services.recipients_by_medium(Event.TICKET_UNASSIGNED, users_with_ticket_access())
    assert len(wanted[Medium.EMAIL]) == n // 2 + 1  # odd ones + the superadmin


def test_r27_recipient_resolution_3_vs_30_users_same_query_count(superadmin):
    def resolve():
        return services.recipients_by_medium(Event.TICKET_UNASSIGNED, users_with_ticket_access())

    for _ in range(3):
        AgentFactory()
    few = _queries(resolve)
    for _ in range(27):
        services.update_preferences(user=AgentFactory(), changes={UNASSIGNED_EMAIL: True})
    assert _queries(resolve) == few <= 4
