"""The ticket workspace: thread, contact, properties, assignment history, the Ticket owner
control (R3, R5), the reply editor (R4), status and priority.

Every change goes through `helpdesk.services` with the `version` the form showed, so when
another agent (or the router) acted first the service raises `TicketChanged` and the page
says so — nothing is overwritten silently. A conflict answers 409 (a plain form) or swaps
the refreshed control in place (htmx).
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from helpdesk.access import agent_required, ticket_for_agent
from helpdesk.forms import OwnerForm, PriorityForm, PropertiesForm, ReplyForm, StatusForm
from helpdesk.models import AssignmentEvent, Ticket
from helpdesk.queues import QUEUES
from helpdesk.selectors import ticket_thread
from helpdesk.services import (
    TicketChanged,
    add_note,
    assign,
    reply,
    set_priority,
    set_properties,
    set_ticket_status,
)
from helpdesk.templatetags.helpdesk_tags import describe_owner
from helpdesk.views.common import queue_nav


def conflict_message(ticket: Ticket) -> str:
    return gettext(
        "This ticket changed while you were looking at it: it is now owned by %(owner)s. "
        "Review and try again."
    ) % {"owner": describe_owner(ticket)}


# What the agent saw when the page was drawn (the reply form carries it), to name what changed
# if their reply meets a newer version: status | priority | owner | team | last message.
def seen_state(ticket: Ticket, thread: list) -> str:
    last = thread[-1].pk if thread else ""
    owner, team = ticket.owner_id or "", ticket.team_id or ""
    return f"{ticket.status}|{ticket.priority}|{owner}|{team}|{last}"


# Changes that do not cost a reply: the reply is sent on the newer version.
HARMLESS = {"status", "priority"}


def what_changed(seen: str, fresh: Ticket) -> list[tuple[str, str]]:
    """(kind, words) of each change since `seen`; [] when `seen` cannot be read."""
    parts = (seen or "").split("|")
    if len(parts) != 5:
        return []
    status, priority, owner_id, team_id, last = parts
    changes = []
    newer = fresh.messages.exclude(direction="note")
    if last.isdigit():
        newer = newer.filter(pk__gt=int(last))
    message = newer.select_related("author").order_by("-pk").first()
    if message is not None:
        who = message.author or message.sender_name or fresh.contact or gettext("someone")
        changes.append(("message", gettext("a new message from %(who)s") % {"who": who}))
    if (owner_id, team_id) != (str(fresh.owner_id or ""), str(fresh.team_id or "")):
        changes.append(
            (
                "owner",
                gettext("the owner is now %(describe_owner)s")
                % {"describe_owner": describe_owner(fresh)},
            )
        )
    if status != fresh.status:
        changes.append(
            (
                "status",
                gettext("the status is now %(status)s") % {"status": fresh.get_status_display()},
            )
        )
    if priority != str(fresh.priority):
        changes.append(
            (
                "priority",
                gettext("the priority is now %(priority)s")
                % {"priority": fresh.get_priority_display()},
            )
        )
    return changes


def _from_queue(request) -> str | None:
    """The queue the agent came from (`?from=unassigned`), allowlisted."""
    slug = request.GET.get("from") or request.POST.get("from")
    return slug if slug in QUEUES else None


def _ticket_url(ticket_id: int, from_queue: str | None) -> str:
    url = reverse("ticket", args=[ticket_id])
    return f"{url}?{urlencode({'from': from_queue})}" if from_queue else url


def accepts_files(ticket: Ticket) -> bool:
    """Files go with replies that leave by email (the channel kind's policy)."""
    return ticket.channel is not None and ticket.channel.policy.outbound == "email"


def _workspace(request, ticket_id: int, **extra) -> dict:
    """Everything the ticket page shows, in a fixed number of queries."""
    ticket = ticket_for_agent(request.user, ticket_id)
    from_queue = _from_queue(request)
    thread = ticket_thread(ticket)
    context = {
        "ticket": ticket,
        "thread": thread,
        "history": list(
            ticket.assignments.select_related(
                "from_owner", "to_owner", "from_team", "to_team", "actor"
            )
        ),
        # The control lists nobody: its picker searches as the agent types (owner_search).
        "owner_form": OwnerForm(ticket=ticket, actor=request.user),
        "reply_form": ReplyForm(initial={"version": ticket.version, "action": ReplyForm.SEND}),
        "seen": seen_state(ticket, thread),
        "accepts_files": accepts_files(ticket),
        # The Properties card's lists (it posts PropertiesForm): the same for every ticket.
        "status_choices": PropertiesForm.base_fields["status"].choices,
        "priority_choices": PropertiesForm.base_fields["priority"].choices,
        "nav": queue_nav(request.user, current=from_queue),
        "from_queue": QUEUES.get(from_queue) if from_queue else None,
        "conflict": None,
    }
    context.update(extra)
    return context


def _render_page(request, ticket_id: int, status: int = 200, **extra):
    context = _workspace(request, ticket_id, **extra)
    return render(request, "helpdesk/ticket.html", context, status=status)


@agent_required
def ticket_detail(request, ticket_id: int):
    return _render_page(request, ticket_id)


def _errors(exc: ValidationError) -> str:
    return " ".join(exc.messages)


@agent_required
@require_POST
def ticket_owner(request, ticket_id: int):
    """Assign, reassign or clear the owner (R3, R5) — htmx swaps the control in place; a
    plain form redirects back to the page. A typed name that is not exact answers 400 with
    the control offering the matches (htmx: the control in place, with them)."""
    ticket = ticket_for_agent(request.user, ticket_id)
    form = OwnerForm(request.POST, ticket=ticket, actor=request.user)
    conflict = error = None
    changed = False
    if form.is_valid():
        owner, team = form.cleaned_data["assignment"]
        try:
            changed = bool(
                assign(
                    ticket=ticket,
                    owner=owner,
                    team=team,
                    actor=request.user,
                    cause=AssignmentEvent.Cause.MANUAL,
                    expected_version=form.cleaned_data["version"],
                )
            )
        except TicketChanged as exc:
            conflict = conflict_message(ticket_for_agent(request.user, exc.ticket.pk))
        except ValidationError as exc:
            error = _errors(exc)
    else:
        error = form.error_text()
    notice = None
    if changed:
        notice = gettext("Ticket owner: %(describe_owner)s.") % {
            "describe_owner": describe_owner(ticket)
        }
    elif not conflict and not error:
        notice = gettext("Nothing changed.")

    kept = {"owner_form": form} if error else {}  # the typed name and the matches stay
    if request.htmx:
        context = _workspace(
            request,
            ticket_id,
            conflict=conflict,
            owner_error=error,
            owner_notice=notice,
            oob=True,
            **kept,
        )
        return render(request, "helpdesk/ticket.html#owner-update", context)
    if conflict or error:
        return _render_page(
            request,
            ticket_id,
            status=409 if conflict else 400,
            conflict=conflict,
            owner_error=error,
            **kept,
        )
    messages.success(request, notice)
    return redirect(_ticket_url(ticket_id, _from_queue(request)))


@agent_required
@require_POST
def ticket_reply(request, ticket_id: int):
    """Send a reply (R4: an unassigned ticket becomes the sender's) or add an internal note."""
    ticket = ticket_for_agent(request.user, ticket_id)
    form = ReplyForm(request.POST, request.FILES, accepts_files=accepts_files(ticket))
    if not form.is_valid():
        return _render_page(request, ticket_id, status=400, reply_form=form)
    body = form.cleaned_data["body"]
    try:
        if form.cleaned_data["action"] == ReplyForm.SEND:
            had_owner = ticket.owner_id is not None
            # Stored as an outbound message here; delivery to the contact through the
            # ticket's channel is done by the receiver of `events.message_added`, which
            # `reply` sends (the channel intake work), not by this view.
            reply(
                ticket=ticket,
                author=request.user,
                body=body,
                expected_version=form.cleaned_data["version"],
                attachments=form.cleaned_data["attachments"],
            )
            notice = (
                gettext("Reply sent.")
                if had_owner
                else gettext("Reply sent. The ticket is now yours.")
            )
        else:
            add_note(ticket=ticket, author=request.user, body=body)
            notice = gettext("Internal note added.")
    except TicketChanged as exc:
        fresh = ticket_for_agent(request.user, exc.ticket.pk)
        changes = what_changed(form.cleaned_data.get("seen", ""), fresh)
        if changes and {kind for kind, _ in changes} <= HARMLESS:
            # Only status or priority moved: that does not change what the reply says.
            try:
                reply(
                    ticket=fresh,
                    author=request.user,
                    body=body,
                    expected_version=fresh.version,
                    attachments=form.cleaned_data["attachments"],
                )
            except TicketChanged:
                changes = [("again", gettext("it changed once more"))]
            else:
                words = "; ".join(text for _, text in changes)
                messages.success(
                    request, gettext("Reply sent. Meanwhile %(words)s.") % {"words": words}
                )
                return redirect(_ticket_url(ticket_id, _from_queue(request)))
        # Keep the draft, with the new version, so the agent can review and send again.
        draft = ReplyForm(
            initial={
                "body": body,
                "version": fresh.version,
                "action": form.cleaned_data["action"],
            }
        )
        conflict = (
            gettext(
                "This ticket changed while you were writing: %(changes)s. "
                "Your text is kept below: review it and send again."
            )
            % {"changes": "; ".join(text for _, text in changes)}
            if changes
            else conflict_message(fresh)
        )
        return _render_page(request, ticket_id, status=409, conflict=conflict, reply_form=draft)
    except ValidationError as exc:
        form.add_error(None, _errors(exc))
        return _render_page(request, ticket_id, status=400, reply_form=form)
    messages.success(request, notice)
    return redirect(_ticket_url(ticket_id, _from_queue(request)))


@agent_required
@require_POST
def ticket_status(request, ticket_id: int):
    """Move between the open states, close, or reopen."""
    ticket = ticket_for_agent(request.user, ticket_id)
    form = StatusForm(request.POST)
    if not form.is_valid():
        messages.error(request, gettext("Choose a status from the list."))
        return redirect(_ticket_url(ticket_id, _from_queue(request)))
    status, version = form.cleaned_data["status"], form.cleaned_data["version"]
    try:
        set_ticket_status(
            ticket=ticket, status=status, actor=request.user, expected_version=version
        )
    except TicketChanged as exc:
        return _conflict_page(request, exc)
    messages.success(
        request, gettext("Status: %(status)s.") % {"status": ticket.get_status_display()}
    )
    return redirect(_ticket_url(ticket_id, _from_queue(request)))


@agent_required
@require_POST
def ticket_priority(request, ticket_id: int):
    ticket = ticket_for_agent(request.user, ticket_id)
    form = PriorityForm(request.POST)
    if not form.is_valid():
        messages.error(request, gettext("Choose a priority from the list."))
        return redirect(_ticket_url(ticket_id, _from_queue(request)))
    try:
        set_priority(
            ticket=ticket,
            priority=form.cleaned_data["priority"],
            actor=request.user,
            expected_version=form.cleaned_data["version"],
        )
    except TicketChanged as exc:
        return _conflict_page(request, exc)
    messages.success(
        request, gettext("Priority: %(priority)s.") % {"priority": ticket.get_priority_display()}
    )
    return redirect(_ticket_url(ticket_id, _from_queue(request)))


@agent_required
@require_POST
def ticket_properties(request, ticket_id: int):
    """Status and priority in one step, one version check."""
    ticket = ticket_for_agent(request.user, ticket_id)
    form = PropertiesForm(request.POST)
    if not form.is_valid():
        messages.error(request, gettext("Choose a status and a priority from the lists."))
        return redirect(_ticket_url(ticket_id, _from_queue(request)))
    try:
        changed = set_properties(
            ticket=ticket,
            status=form.cleaned_data["status"],
            priority=form.cleaned_data["priority"],
            actor=request.user,
            expected_version=form.cleaned_data["version"],
        )
    except TicketChanged as exc:
        return _conflict_page(request, exc)
    if changed:
        messages.success(
            request,
            gettext("Saved: %(status)s, %(priority)s priority.")
            % {"status": ticket.get_status_display(), "priority": ticket.get_priority_display()},
        )
    else:
        messages.info(request, gettext("Nothing changed."))
    return redirect(_ticket_url(ticket_id, _from_queue(request)))


def _conflict_page(request, exc: TicketChanged):
    """409: the ticket page as it is now, saying what changed meanwhile."""
    fresh = ticket_for_agent(request.user, exc.ticket.pk)
    return _render_page(request, fresh.pk, status=409, conflict=conflict_message(fresh))
