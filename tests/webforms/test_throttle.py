"""Rate limits per client address and per typed address, counted in the database so that
they hold across web processes: a 429 page that keeps the text and says when to try
again, and nothing stored for a refused submission."""

import pytest
import time_machine
from django.test import Client

from helpdesk.models import InboundEvent
from tests.support.concurrency import oks_and_errors, run_together
from tests.webforms.conftest import Visitor
from webforms.models import SubmissionCount
from webforms.throttle import prune


@pytest.fixture
def limits(settings):
    settings.FORMS_RATE_PER_IP = 3
    settings.FORMS_RATE_PER_ADDRESS = 2
    settings.FORMS_RATE_WINDOW_SECONDS = 3600
    return settings


@pytest.mark.django_db
@time_machine.travel("2025-03-01 10:15:00Z", tick=False)
def test_one_network_gets_its_limit_then_a_clear_429(visitor, limits):
    for i in range(3):
        assert visitor.send(email=f"person{i}@customer.example").status_code == 303
    response = visitor.send(email="person9@customer.example", message="Still there?")
    assert response.status_code == 429
    assert response["Retry-After"] == str(45 * 60)
    html = response.content.decode()
    assert "Your message was not sent: too many messages" in html
    assert "from your network" in html and "try again in about 45 minutes" in html
    assert "Still there?" in html  # the text is kept
    assert InboundEvent.objects.count() == 3


@pytest.mark.django_db
@time_machine.travel("2025-03-01 10:15:00Z", tick=False)
def test_one_address_gets_its_limit_from_any_network(new_visitor, limits):
    assert new_visitor().send().status_code == 303
    assert new_visitor().send(email="KIM@customer.example ").status_code == 303
    response = new_visitor().send()
    assert response.status_code == 429
    assert "from this email address" in response.content.decode()
    assert new_visitor().send(email="someone.else@customer.example").status_code == 303
    assert InboundEvent.objects.count() == 3


@pytest.mark.django_db
def test_the_next_window_accepts_again_and_old_counters_are_pruned(visitor, limits):
    with time_machine.travel("2025-03-01 10:59:00Z", tick=False):
        for _ in range(2):
            assert visitor.send().status_code == 303
        assert visitor.send().status_code == 429
    with time_machine.travel("2025-03-01 11:00:01Z", tick=False):
        assert visitor.send().status_code == 303
        assert SubmissionCount.objects.count() == 4  # 2 windows × (address, client address)
        assert prune() == 2
    assert set(SubmissionCount.objects.values_list("count", flat=True)) == {1}


@pytest.mark.django_db
def test_a_resubmission_is_not_counted_and_no_address_is_kept(visitor, limits):
    visitor.open()
    for _ in range(4):
        assert visitor.send(token=visitor.token).status_code == 303
    counts = dict(SubmissionCount.objects.values_list("scope", "count"))
    assert counts == {"ip": 1, "address": 1}
    keys = " ".join(SubmissionCount.objects.values_list("key", flat=True))
    assert "kim" not in keys and visitor.ip not in keys


@pytest.mark.django_db
def test_a_limit_of_zero_is_off(visitor, settings):
    settings.FORMS_RATE_PER_IP = settings.FORMS_RATE_PER_ADDRESS = 0
    for _ in range(6):
        assert visitor.send().status_code == 303
    assert SubmissionCount.objects.count() == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_posts_from_one_address_get_exactly_the_limit(form_settings, settings):
    """Eight requests at the same instant, each in its own thread and database connection
    — as eight web processes would run them: the counter admits exactly five."""
    settings.FORMS_RATE_PER_IP = 5
    settings.FORMS_RATE_PER_ADDRESS = 0
    visitors = [Visitor(public_id=form_settings.public_id, client=Client()) for _ in range(8)]
    for v in visitors:
        v.open()
    results = run_together(*[lambda v=v: v.send(token=v.token).status_code for v in visitors])
    statuses, errors = oks_and_errors(results)
    assert errors == []
    assert sorted(statuses) == [303] * 5 + [429] * 3
    assert InboundEvent.objects.count() == 5
    assert SubmissionCount.objects.get(scope="ip").count == 5
