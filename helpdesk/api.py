"""The JSON API (v1): create a ticket, read a ticket. Token authentication
(`Authorization: Bearer <token>` or `Token <token>`) is `helpdesk.access.token_required`;
a ticket is read from the same "tickets visible to this user" query as the pages."""

import json

from django import forms
from django.core.exceptions import RequestDataTooBig, ValidationError
from django.db import connection
from django.db.models import Prefetch
from django.http import JsonResponse
from django.utils.translation import gettext
from django.views.decorators.http import require_http_methods

from helpdesk.access import api_error, tickets_visible_to, token_required
from helpdesk.models import AssignmentEvent, Channel, Contact, Ticket, User
from helpdesk.services import create_ticket_for_email, normalize_email

MAX_BODY_BYTES = 1024 * 1024
MAX_MESSAGE_CHARS = 100_000
MAX_ID = 2**63 - 1  # bigint
EMAIL_MAX = Contact._meta.get_field("email").max_length


# --- Fields typed as JSON: a value of the wrong JSON type is refused, never coerced ------


def prohibit_surrogates(value: str) -> None:
    """A lone surrogate (a JSON escape such as \\ud800 without its pair) is not text: no
    database stores it (PostgreSQL and SQLite take UTF-8, which cannot encode it)."""
    try:
        value.encode()
    except UnicodeEncodeError as exc:
        raise ValidationError(
            gettext("Lone surrogates are not text: U+%(code)s at character %(position)s.")
            % {"code": f"{ord(value[exc.start]):04X}", "position": exc.start + 1},
            code="surrogate",
        ) from None


class JsonStringMixin:
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.validators.append(prohibit_surrogates)  # CharField already refuses NUL

    def to_python(self, value):
        if value is not None and not isinstance(value, str):
            raise ValidationError(gettext("Must be a string."), code="type")
        return super().to_python(value)


class JsonIntegerMixin:
    def to_python(self, value):
        if value is not None and type(value) is not int:  # a bool is an int to Python only
            raise ValidationError(
                gettext("Must be a JSON integer (not a string, a decimal or a boolean)."),
                code="type",
            )
        return super().to_python(value)


class JsonCharField(JsonStringMixin, forms.CharField):
    pass


class JsonEmailField(JsonStringMixin, forms.EmailField):
    pass


class JsonIntegerField(JsonIntegerMixin, forms.IntegerField):
    pass


class JsonIntegerChoiceField(JsonIntegerMixin, forms.TypedChoiceField):
    pass


class TicketCreateForm(forms.Form):
    """The body of POST /api/v1/tickets/. Text is trimmed; lengths are those of the columns."""

    subject = JsonCharField(max_length=Ticket._meta.get_field("subject").max_length)
    body = JsonCharField(max_length=MAX_MESSAGE_CHARS)
    contact_email = JsonEmailField(max_length=EMAIL_MAX)
    contact_name = JsonCharField(
        max_length=Contact._meta.get_field("name").max_length, required=False
    )
    channel_id = JsonIntegerField(required=False, min_value=1, max_value=MAX_ID)
    priority = JsonIntegerChoiceField(
        choices=Ticket.Priority.choices, coerce=int, required=False, empty_value=None
    )

    def clean_contact_email(self):
        email = normalize_email(self.cleaned_data["contact_email"])
        if len(email) > EMAIL_MAX:  # 'İ'.lower() is two characters
            raise ValidationError(
                gettext(
                    "Ensure this address has at most %(EMAIL_MAX)s "
                    "characters once lower-cased (it has %(len)s)."
                )
                % {"EMAIL_MAX": EMAIL_MAX, "len": len(email)}
            )
        return email

    def clean_channel_id(self):
        channel_id = self.cleaned_data.get("channel_id")
        if channel_id is None:
            return None
        channel = Channel.objects.filter(pk=channel_id).first()
        if channel is None:
            raise ValidationError(
                gettext("No channel has id %(channel_id)s.") % {"channel_id": channel_id}
            )
        if not channel.is_active:
            raise ValidationError(
                gettext("The channel %(name)r is inactive.") % {"name": channel.name}
            )
        return channel

    def errors_by_field(self) -> dict[str, list[str]]:
        """{field: [messages]}, with a field this form does not know as an error too."""
        errors = {
            field: [e["message"] for e in errs]
            for field, errs in self.errors.get_json_data().items()
        }
        for field in sorted(self.data.keys() - self.fields.keys()):
            errors[field] = [
                gettext("Unknown field; the fields are %(fields)s.")
                % {"fields": ", ".join(self.fields)}
            ]
        return errors


def _json_object(request) -> dict | JsonResponse:
    """The request's JSON object, or the 4xx answer that says what is wrong with it."""
    charset = request.content_params.get("charset", "utf-8").lower()
    if request.content_type != "application/json" or charset not in {"utf-8", "utf8"}:
        return api_error(
            415, gettext("Send the ticket as JSON: 'Content-Type: application/json' (UTF-8).")
        )
    try:
        raw = request.body
    except RequestDataTooBig:
        raw = None
    if raw is None or len(raw) > MAX_BODY_BYTES:
        return api_error(413, gettext("The request body is larger than 1 MiB."))
    try:
        payload = json.loads(raw.decode() or "null")
    except RecursionError:
        return api_error(400, gettext("The request body is nested too deeply."))
    except ValueError:  # also an integer of over 4,300 digits, and bytes that are not UTF-8
        return api_error(400, gettext("The request body is not valid JSON in UTF-8."))
    if not isinstance(payload, dict):
        return api_error(400, gettext("The request body must be a JSON object."))
    return payload


@require_http_methods(["POST"])
@token_required
def tickets_collection(request):
    payload = _json_object(request)
    if isinstance(payload, JsonResponse):
        return payload
    form = TicketCreateForm(data={k: v for k, v in payload.items() if v is not None})
    if errors := form.errors_by_field():
        return api_error(400, gettext("Some fields are invalid."), errors=errors)
    data = form.cleaned_data
    try:
        ticket, created = create_ticket_for_email(
            email=data["contact_email"],
            name=data["contact_name"],
            subject=data["subject"],
            body=data["body"],
            channel=data["channel_id"],
            source=Ticket.Source.API,
            priority=data["priority"] or Ticket.Priority.NORMAL,
            actor=request.api_user,
        )
    except ValidationError as exc:
        errors = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
        return api_error(400, gettext("Some fields are invalid."), errors=errors)
    ticket, history = _as_now(request.api_user, ticket)
    return JsonResponse(serialize_ticket(ticket, history), status=201 if created else 200)


@require_http_methods(["GET"])
@token_required
def ticket_detail(request, ticket_id: int):
    ticket = _ticket_queryset(request.api_user).filter(pk=ticket_id).first()
    if ticket is None:
        return api_error(404, gettext("No ticket has id %(id)s.") % {"id": ticket_id})
    return JsonResponse(serialize_ticket(ticket))


# What a ticket's row may have changed to since this request created it, short of a change
# that bumps its version (an assignment, a reply: read again in full): the router's
# `mark_routed`, for one, changes only the routing state.
_CHANGING_FIELDS = ("routing_state", "status", "priority", "subject", "assigned_at")
_KEPT_FIELDS = ("version", "owner", "team", "channel", "contact")


def _as_now(user: User, ticket: Ticket) -> tuple[Ticket, list[AssignmentEvent] | None]:
    """The ticket this request created and its assignment history, as they are now: the
    worker (or, with eager Celery, the commit) may have routed it already.

    One narrow read of its row, written out (the ORM took several times as long to build it
    as PostgreSQL to run it). While its version is the one created, nothing was assigned
    (every assignment bumps it: no history), and the channel and contact are still those
    this request read or wrote. Otherwise the ticket is read again in full, as GET reads it
    (from `tickets_visible_to`; history None: prefetched with it)."""
    q, meta = connection.ops.quote_name, Ticket._meta
    kept = [meta.get_field(name).attname for name in _KEPT_FIELDS]
    columns = [meta.pk.column, *(meta.get_field(n).column for n in (*kept, *_CHANGING_FIELDS))]
    rows = Ticket.objects.raw(
        f"SELECT {', '.join(map(q, columns))} FROM {q(meta.db_table)} "
        f"WHERE {q(meta.pk.column)} = %s",
        [ticket.pk],
    )
    now = next(iter(rows), None)
    if now is None or any(getattr(now, name) != getattr(ticket, name) for name in kept):
        return _ticket_queryset(user).get(pk=ticket.pk), None
    for name in _CHANGING_FIELDS:
        setattr(ticket, name, getattr(now, name))
    return ticket, []


def _ticket_queryset(user: User):
    """The tickets `user` may see, with what `serialize_ticket` reads."""
    history = AssignmentEvent.objects.select_related(
        "from_owner", "to_owner", "from_team", "to_team", "actor"
    )
    return (
        tickets_visible_to(user)
        .select_related("owner", "team", "contact", "channel")
        .prefetch_related(Prefetch("assignments", queryset=history))
    )


def _user(user: User | None) -> dict | None:
    return None if user is None else {"id": user.pk, "username": user.username, "name": str(user)}


def _team(team) -> dict | None:
    return None if team is None else {"id": team.pk, "name": team.name}


def serialize_ticket(ticket: Ticket, history: list[AssignmentEvent] | None = None) -> dict:
    """The ticket as the API shows it; `history` is its assignment events when the caller
    knows them (else `ticket.assignments`, prefetched by `_ticket_queryset`)."""
    if history is None:
        history = ticket.assignments.all()
    return {
        "id": ticket.pk,
        "subject": ticket.subject,
        "status": ticket.status,
        "priority": Ticket.Priority(ticket.priority).label.lower(),
        "type": ticket.ticket_type,
        "channel": None
        if ticket.channel is None
        else {"id": ticket.channel_id, "name": ticket.channel.name, "kind": ticket.channel.kind},
        "contact": None
        if ticket.contact is None
        else {"id": ticket.contact_id, "name": ticket.contact.name, "email": ticket.contact.email},
        "owner": _user(ticket.owner),
        "team": _team(ticket.team),
        "assigned_at": ticket.assigned_at.isoformat() if ticket.assigned_at else None,
        "routing_state": ticket.routing_state,
        "created_at": ticket.created_at.isoformat(),
        "assignment_history": [
            {
                "at": event.created_at.isoformat(),
                "cause": event.cause,
                "actor": _user(event.actor),
                "from_owner": _user(event.from_owner),
                "to_owner": _user(event.to_owner),
                "from_team": _team(event.from_team),
                "to_team": _team(event.to_team),
            }
            for event in history
        ],
    }
