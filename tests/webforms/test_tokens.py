"""The form token: one submission id per rendered page, for one form, bound to one visitor,
and not forever."""

import pytest
import time_machine
from django.core import signing

from webforms import tokens


def test_a_token_carries_a_fresh_submission_id_for_its_form_and_visitor():
    visitor = tokens.new_visitor_token()
    first = tokens.read_form_token(
        tokens.issue_form_token(public_id="form1", visitor_token=visitor), public_id="form1"
    )
    second = tokens.read_form_token(
        tokens.issue_form_token(public_id="form1", visitor_token=visitor), public_id="form1"
    )
    assert first.submission_id != second.submission_id
    assert first.issued_for(visitor)
    assert not first.issued_for(tokens.new_visitor_token())
    assert not first.issued_for(None)


def test_a_token_of_another_form_or_forged_is_refused():
    token = tokens.issue_form_token(public_id="form1", visitor_token=None)
    for bad, public_id in [
        (token, "form2"),
        (token[:-2] + "xx", "form1"),
        ("", "form1"),
        (signing.dumps({"f": "form1", "s": "short", "v": ""}, salt=tokens.FORM_SALT), "form1"),
        (signing.dumps({"f": "form1"}, salt="another salt"), "form1"),
    ]:
        with pytest.raises(tokens.BadToken) as refused:
            tokens.read_form_token(bad, public_id=public_id)
        assert not refused.value.expired


def test_a_token_expires(settings):
    settings.FORMS_TOKEN_MAX_AGE_SECONDS = 3600
    with time_machine.travel("2025-03-01 10:00:00Z", tick=False):
        token = tokens.issue_form_token(public_id="form1", visitor_token=None)
    with time_machine.travel("2025-03-01 10:59:00Z", tick=False):
        assert tokens.read_form_token(token, public_id="form1").visitor_hash == ""
    with time_machine.travel("2025-03-01 11:01:00Z", tick=False):
        with pytest.raises(tokens.BadToken) as refused:
            tokens.read_form_token(token, public_id="form1")
        assert refused.value.expired
