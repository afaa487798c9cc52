"""The JSON API (v1): create a ticket, read a ticket. Token authentication:
`Authorization: Bearer <token>` (or `Token <token>`)."""

import json
from functools import wraps

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from helpdesk.models import AssignmentEvent, Channel, Ticket, User
from helpdesk.services import contact_for_email, create_ticket, user_for_token

MAX_BODY_BYTES = 1024 * 1024


def _error(status: int, message: str, **extra) -> JsonResponse:
    return JsonResponse({"error": message, **extra}, status=status)


def token_required(view):
    """401 without a valid token, 403 without ticket access; sets request.api_user."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        scheme, _, raw = request.headers.get("Authorization", "").partition(" ")
        user = user_for_token(raw.strip()) if scheme in {"Bearer", "Token"} and raw else None
        if user is None:
            response = _error(401, "Authentication required: send 'Authorization: Bearer <token>'.")
            response["WWW-Authenticate"] = 'Bearer realm="api"'
            return response
        if not user.has_ticket_access:
            return _error(403, "This token's user has no ticket access.")
        request.api_user = user
        return view(request, *args, **kwargs)

    return csrf_exempt(wrapped)


class TicketCreateForm(forms.Form):
    subject = forms.CharField(max_length=255)
    body = forms.CharField(max_length=100_000)
    contact_email = forms.EmailField()
    contact_name = forms.CharField(max_length=200, required=False)
    channel_id = forms.IntegerField(required=False, min_value=1)
    priority = forms.TypedChoiceField(
        choices=Ticket.Priority.choices, coerce=int, required=False, empty_value=None
    )

    def clean_channel_id(self):
        channel_id = self.cleaned_data.get("channel_id")
        if channel_id is None:
            return None
        channel = Channel.objects.filter(pk=channel_id).first()
        if channel is None:
            raise ValidationError(f"No channel has id {channel_id}.")
        if not channel.is_active:
            raise ValidationError(f"The channel {channel.name!r} is inactive.")
        return channel


@require_http_methods(["POST"])
@token_required
def tickets_collection(request):
    if len(request.body) > MAX_BODY_BYTES:
        return _error(413, "The request body is larger than 1 MiB.")
    try:
        payload = json.loads(request.body or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError):
        return _error(400, "The request body is not valid JSON.")
    if not isinstance(payload, dict):
        return _error(400, "The request body must be a JSON object.")
    form = TicketCreateForm(data={k: v for k, v in payload.items() if v is not None})
    if not form.is_valid():
        errors = {
            field: [e["message"] for e in errs]
            for field, errs in form.errors.get_json_data().items()
        }
        return _error(400, "Some fields are invalid.", errors=errors)
    data = form.cleaned_data
    try:
        ticket, created = create_ticket(
            subject=data["subject"],
            body=data["body"],
            channel=data["channel_id"],
            contact=contact_for_email(email=data["contact_email"], name=data["contact_name"]),
            source=Ticket.Source.API,
            priority=data["priority"] or Ticket.Priority.NORMAL,
            actor=request.api_user,
        )
    except ValidationError as exc:
        return _error(400, "Some fields are invalid.", errors=exc.message_dict)
    ticket = _ticket_queryset().get(pk=ticket.pk)
    return JsonResponse(serialize_ticket(ticket), status=201 if created else 200)


@require_http_methods(["GET"])
@token_required
def ticket_detail(request, ticket_id: int):
    ticket = _ticket_queryset().filter(pk=ticket_id).first()
    if ticket is None:
        return _error(404, f"No ticket has id {ticket_id}.")
    return JsonResponse(serialize_ticket(ticket))


def _ticket_queryset():
    history = AssignmentEvent.objects.select_related(
        "from_owner", "to_owner", "from_team", "to_team", "actor"
    )
    return Ticket.objects.select_related("owner", "team", "contact", "channel").prefetch_related(
        Prefetch("assignments", queryset=history)
    )


def _user(user: User | None) -> dict | None:
    return None if user is None else {"id": user.pk, "username": user.username, "name": str(user)}


def _team(team) -> dict | None:
    return None if team is None else {"id": team.pk, "name": team.name}


def serialize_ticket(ticket: Ticket) -> dict:
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
            for event in ticket.assignments.all()
        ],
    }
