"""What the People pages share: the access check with its own 403 page, the refusals of the
services shown on the form, and the 409 page when someone saved first."""

from django.core.exceptions import ValidationError
from django.shortcuts import render

from helpdesk.access import account_admin_required
from helpdesk.services import PeopleChanged

# Account admins (`helpdesk.manage_helpdesk`, the Account admins group) and superusers; the
# refusal says what is missing and who can help.
people_admin = account_admin_required(forbidden_template="people/manage/forbidden.html")


def service_errors(form, exc: ValidationError) -> None:
    """A refusal of the service on the field it names (else above the form)."""
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc)
        return
    for name, errors in exc.message_dict.items():
        form.add_error(name if name in form.fields else None, errors)


def conflict(request, template: str, context: dict, exc: PeopleChanged):
    """Nothing of the admin's was saved: the page again with the current values and what
    the other change was."""
    context = context | {"conflict": exc}
    return render(request, template, context, status=409)
