"""Sign-in throttling (django-axes, configured in settings): the client's address behind
trusted proxies, and what a failed sign-in counts against — the username+address pair (one
password guessed over and over) and, past a higher limit, the address alone (one password
sprayed over many usernames)."""

from axes.attempts import get_cool_off_threshold
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Sum


def client_ip(request) -> str | None:
    """The client address for throttling: the one the outermost trusted proxy saw. Entries
    further left in X-Forwarded-For come from the client and could be anything."""
    count = settings.AXES_TRUSTED_PROXY_COUNT
    forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    if count and len(forwarded) >= count and forwarded[-count]:
        return forwarded[-count]
    return request.META.get("REMOTE_ADDR")


def lockout_parameters(request, credentials=None) -> list:
    """What a failure is counted against. axes has one limit for every parameter, so the
    address joins the username+address pair only once it has AXES_IP_FAILURE_LIMIT failures
    of its own: until then the pair's AXES_FAILURE_LIMIT decides, and a successful sign-in
    (AXES_RESET_ON_SUCCESS) clears its own pair only — never the other usernames' failures
    from a shared address. One summing query per call (axes' database handler)."""
    pair = ["username", "ip_address"]
    address = getattr(request, "axes_ip_address", None)
    if address is None:  # not a request axes has prepared: the pair alone, as before
        return [pair]
    attempts = AccessAttempt.objects.filter(ip_address=address)
    if settings.AXES_COOLOFF_TIME is not None:
        attempts = attempts.filter(attempt_time__gte=get_cool_off_threshold(request))
    failures = attempts.aggregate(n=Sum("failures_since_start"))["n"] or 0
    return [pair, "ip_address"] if failures >= settings.AXES_IP_FAILURE_LIMIT else [pair]
