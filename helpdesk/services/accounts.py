from datetime import timedelta

from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import connection, transaction
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


# A token's last use is written at most this often: busy clients send many requests a
# second with one token, and a write per request (one row, so one lock, for all of them)
# would cost more than the request itself. "Last used" is kept to the minute.
TOKEN_USE_GRANULARITY = timedelta(minutes=1)


def user_for_token(raw: str) -> User | None:
    """The active user of this token, or None; records the token's use
    (`TOKEN_USE_GRANULARITY`). The user comes with their permissions loaded — the cache of
    Django's `ModelBackend`, which `has_perm` reads, filled as it fills it — so the API's
    access check costs no query of its own.

    Every API request starts here: the two reads are written out (the ORM took several times
    as long to build them as PostgreSQL to run them)."""
    q, token = connection.ops.quote_name, ApiToken._meta
    last_used = f"t.{q(token.get_field('last_used_at').column)}"
    cutoff = connection.ops.adapt_datetimefield_value(timezone.now() - TOKEN_USE_GRANULARITY)
    found = User.objects.raw(
        f"SELECT u.*, t.{q(token.pk.column)} AS token_id, "
        f"({last_used} IS NULL OR {last_used} < %s) AS token_use_unrecorded "
        f"FROM {q(token.db_table)} t JOIN {q(User._meta.db_table)} u "
        f"ON u.{q(User._meta.pk.column)} = t.{q(token.get_field('user').column)} "
        f"WHERE t.{q(token.get_field('key_hash').column)} = %s",
        [cutoff, hash_token(raw)],
    )
    user = next(iter(found), None)
    if user is None or not user.is_active:
        return None
    if user.token_use_unrecorded:
        ApiToken.objects.filter(pk=user.token_id).update(last_used_at=timezone.now())
    return load_permissions(user)


def load_permissions(user: User) -> User:
    """Fill the permission cache of Django's `ModelBackend` — which `has_perm` reads, filled
    as it fills it — in one query instead of its two, unless filled already. Nothing for a
    superuser or an inactive user: their `has_perm` answers before the backends read it."""
    if user.is_active and not user.is_superuser and not hasattr(user, "_perm_cache"):
        user._perm_cache = _permissions_of(user.pk)
    return user


def _permissions_of(user_id: int) -> set[str]:
    """`"app_label.codename"` of every permission the user has, their own and their
    groups' — what `ModelBackend.get_all_permissions` reads in two queries — in one."""
    q = connection.ops.quote_name
    own, groups = User._meta.get_field("user_permissions"), User._meta.get_field("groups")
    of_group = Group._meta.get_field("permissions")
    permission, content_type = Permission._meta, ContentType._meta
    sql = (
        f"SELECT ct.{q('app_label')}, p.{q('codename')} FROM {q(permission.db_table)} p "
        f"JOIN {q(content_type.db_table)} ct ON ct.{q('id')} = p.{q('content_type_id')} "
        f"WHERE p.{q('id')} IN ("
        f"SELECT {q(own.m2m_reverse_name())} FROM {q(own.m2m_db_table())} "
        f"WHERE {q(own.m2m_column_name())} = %s "
        f"UNION SELECT gp.{q(of_group.m2m_reverse_name())} "
        f"FROM {q(of_group.m2m_db_table())} gp JOIN {q(groups.m2m_db_table())} ug "
        f"ON ug.{q(groups.m2m_reverse_name())} = gp.{q(of_group.m2m_column_name())} "
        f"WHERE ug.{q(groups.m2m_column_name())} = %s)"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [user_id, user_id])
        return {f"{app}.{codename}" for app, codename in cursor.fetchall()}
