"""The admin keeps failed deliveries visible with their error, filterable, and retries them."""

import pytest
from django.core import mail
from django.test import Client

from notifications.models import Delivery
from tests.notifications.conftest import assign_pending, committed, open_ticket

pytestmark = pytest.mark.django_db

URL = "/admin/notifications/delivery/"


@pytest.fixture
def failed(agent, other_agent):
    assign_pending(open_ticket(), owner=agent, actor=other_agent)
    delivery = Delivery.objects.get(medium="email")
    Delivery.objects.filter(pk=delivery.pk).update(
        status=Delivery.Status.FAILED,
        attempts=6,
        last_error="Gave up after 6 attempts: SMTPRecipientsRefused: 550 No such user",
    )
    return delivery


def test_failed_deliveries_are_filterable_with_their_error(superadmin, failed):
    client = Client()
    client.force_login(superadmin)
    listing = client.get(URL, {"status__exact": "failed"}).content.decode()
    assert f"{URL}{failed.pk}/change/" in listing
    assert listing.count("/change/") == 1  # the in-app one (pending) is filtered out
    detail = client.get(f"{URL}{failed.pk}/change/").content.decode()
    assert "550 No such user" in detail


def test_admin_retries_failed_deliveries(superadmin, failed):
    client = Client()
    client.force_login(superadmin)
    with committed():
        response = client.post(
            URL, {"action": "retry", "_selected_action": [failed.pk]}, follow=True
        )
    assert "1 failed deliveries enqueued again." in response.content.decode()
    failed.refresh_from_db()
    assert failed.status == Delivery.Status.SENT and len(mail.outbox) == 1


def test_account_admins_see_deliveries_only_with_permission(admin_user, failed):
    client = Client()
    client.force_login(admin_user)
    assert client.get(URL).status_code == 403
    assert client.get("/admin/notifications/defaultpreference/").status_code == 403
