from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from helpdesk.models import AccountSettings, ApiToken, PeopleChange, Seat, User
from helpdesk.models.account import hash_token
from helpdesk.services.people_log import record_people_change


def give_seat(*, user: User, by: User | None = None) -> Seat:
    """Give `user` a seat, never more seats than the account purchased (R7). With `by` (an
    admin's action) the People audit log records it."""
    with transaction.atomic():
        # Lock the account row so two admins cannot both take the last seat.
        account = AccountSettings.objects.select_for_update().get(pk=AccountSettings.load().pk)
        existing = Seat.objects.filter(user=user).first()
        if existing is not None:
            return existing
        check_seat_free(account)
        seat = Seat.objects.create(user=user, given_by=by)
        if by is not None:
            _record_seat(user=user, by=by, given=True)
        return seat


def check_seat_free(account: AccountSettings | None = None) -> None:
    """Raise a clear ValidationError when every purchased seat is taken."""
    account = account or AccountSettings.load()
    if Seat.objects.count() >= account.purchased_seats:
        raise ValidationError(
            gettext(
                "All %(purchased_seats)s purchased seats are in use. Remove a seat from "
                "someone or raise the number of purchased seats first."
            )
            % {"purchased_seats": account.purchased_seats},
            code="seat_limit",
        )


def remove_seat(*, user: User, by: User | None = None) -> bool:
    """Take `user`'s seat; routing skips them from the next ticket on (R7). With `by` the
    People audit log records it."""
    with transaction.atomic():
        deleted, _ = Seat.objects.filter(user=user).delete()
        if deleted and by is not None:
            _record_seat(user=user, by=by, given=False)
    return bool(deleted)


def _record_seat(*, user: User, by: User, given: bool) -> None:
    yes, no = gettext("Yes"), gettext("No")
    before, after = (no, yes) if given else (yes, no)
    record_people_change(
        kind=PeopleChange.Subject.SEAT,
        subject_id=user.pk,
        label=str(user),
        actor=by,
        summary=gettext("Seat given") if given else gettext("Seat taken"),
        changes=[{"field": gettext("Seat"), "before": before, "after": after}],
    )


def create_api_token(*, user: User, name: str = "API token", raw: str | None = None) -> str:
    """Create a token and return its raw value, which is not stored and shown only now."""
    raw = raw or ApiToken.generate_key()
    token = ApiToken(user=user, name=name)
    token.set_key(raw)
    token.save()
    return raw


def user_for_token(raw: str) -> User | None:
    token = ApiToken.objects.select_related("user").filter(key_hash=hash_token(raw)).first()
    if token is None or not token.user.is_active:
        return None
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
    return token.user
