"""The ticket access rule (R8) has one home, `helpdesk.selectors`, in two forms: the ORM's
`annotate_helpdesk_roles` and, for statements written by hand, `ticket_access_sql`. They
must agree for every kind of user."""

import pytest
from django.contrib.auth.models import Permission
from django.db import connection

from helpdesk.access import TICKET_ACCESS, permission_parts
from helpdesk.models import User
from helpdesk.selectors import ticket_access_sql, users_with_ticket_access
from tests.factories import AgentFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_r8_the_sql_form_of_ticket_access_is_the_orms(superadmin, outsider):
    app_label, codename = permission_parts(TICKET_ACCESS)
    direct = UserFactory(username="direct")
    direct.user_permissions.add(
        Permission.objects.get(content_type__app_label=app_label, codename=codename)
    )
    AgentFactory(username="agent")
    AgentFactory(username="inactive", is_active=False)
    UserFactory(username="gone", is_superuser=True, is_active=False)
    UserFactory(username="account_admin", groups=["Account admins"])
    cte, condition = ticket_access_sql("x")
    with connection.cursor() as cursor:
        cursor.execute(f"WITH {cte} SELECT x.id FROM {User._meta.db_table} x WHERE {condition}")
        by_sql = {row[0] for row in cursor.fetchall()}
    by_orm = set(users_with_ticket_access().values_list("pk", flat=True))
    assert by_sql == by_orm
    names = set(User.objects.filter(pk__in=by_sql).values_list("username", flat=True))
    assert names == {superadmin.username, "direct", "agent", "account_admin"}
    assert User.objects.count() == 7  # and three without access
