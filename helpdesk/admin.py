"""Django admin for the helpdesk's models. Actions go through the services, never raw saves:
tickets, seats and tokens are read here and changed by actions (or the add form) that call
`helpdesk.services`. The Channel admin lives in channels_cfg, whose services write channels."""

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.utils.functional import lazy
from django.utils.translation import gettext, gettext_lazy, ngettext

from helpdesk import jobs, services
from helpdesk.models import (
    AccountSettings,
    AgentSkill,
    ApiToken,
    AssignmentEvent,
    Contact,
    InboundEvent,
    Job,
    Message,
    OutOfOffice,
    Seat,
    Skill,
    Team,
    TeamMembership,
    Ticket,
    User,
    WorkingHours,
)
from helpdesk.models.account import hash_token


class MembershipInline(admin.TabularInline):
    model = TeamMembership
    extra = 0
    autocomplete_fields = ["team"]


class AgentSkillInline(admin.TabularInline):
    model = AgentSkill
    extra = 0


class WorkingHoursInline(admin.TabularInline):
    model = WorkingHours
    extra = 0


class OutOfOfficeInline(admin.TabularInline):
    model = OutOfOffice
    extra = 0


class HasSeatFilter(admin.SimpleListFilter):
    title = gettext_lazy("seat")
    parameter_name = "seat"

    def lookups(self, request, model_admin):
        return [("yes", gettext("Has a seat")), ("no", gettext("No seat"))]

    def queryset(self, request, queryset):
        if self.value() in {"yes", "no"}:
            return queryset.filter(seat__isnull=self.value() == "no")
        return queryset


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = [
        "username",
        "email",
        "full_name",
        "has_seat",
        "status",
        "availability_mode",
        "time_zone",
        "is_staff",
        "is_active",
    ]
    list_filter = [
        HasSeatFilter,
        "status",
        "availability_mode",
        "groups",
        "is_staff",
        "is_superuser",
        "is_active",
    ]
    list_select_related = ["seat"]
    search_fields = ["username", "first_name", "last_name", "email"]
    inlines = [MembershipInline, AgentSkillInline, WorkingHoursInline, OutOfOfficeInline]
    fieldsets = [
        *BaseUserAdmin.fieldsets,
        (
            gettext_lazy("Helpdesk"),
            {"fields": ["time_zone", "status", "availability_mode", "phone"]},
        ),
    ]
    actions = ["give_seat", "remove_seat", "set_available", "set_away"]

    def get_readonly_fields(self, request, obj=None):
        # The status changes through the "Set available" / "Set away" actions (the service).
        fields = super().get_readonly_fields(request, obj)
        return [*fields, "status"] if obj is not None else fields

    @admin.display(description=gettext_lazy("Name"))
    def full_name(self, obj):
        return obj.get_full_name()

    @admin.display(boolean=True, description=gettext_lazy("Seat"))
    def has_seat(self, obj):
        return hasattr(obj, "seat")

    @admin.action(description=gettext_lazy("Give a helpdesk seat"))
    def give_seat(self, request, queryset):
        given = 0
        for user in queryset:
            try:
                services.give_seat(user=user, by=request.user)
                given += 1
            except ValidationError as exc:
                self.message_user(request, f"{user}: {exc.messages[0]}", messages.ERROR)
                break
        if given:
            self.message_user(
                request,
                gettext("Seats given or kept: %(count)s.") % {"count": given},
                messages.SUCCESS,
            )

    @admin.action(description=gettext_lazy("Remove the helpdesk seat"))
    def remove_seat(self, request, queryset):
        removed = sum(services.remove_seat(user=user) for user in queryset)
        self.message_user(
            request, gettext("Seats removed: %(count)s.") % {"count": removed}, messages.SUCCESS
        )

    @admin.action(description=gettext_lazy("Set available"))
    def set_available(self, request, queryset):
        for user in queryset:
            services.set_status(user=user, status=User.Status.AVAILABLE)
        count = queryset.count()
        self.message_user(
            request,
            ngettext(
                "%(count)s user(s) set to available.", "%(count)s user(s) set to available.", count
            )
            % {"count": count},
        )

    @admin.action(description=gettext_lazy("Set away"))
    def set_away(self, request, queryset):
        for user in queryset:
            services.set_status(user=user, status=User.Status.AWAY)
        count = queryset.count()
        self.message_user(
            request,
            ngettext("%(count)s user(s) set to away.", "%(count)s user(s) set to away.", count)
            % {"count": count},
        )


@admin.register(AccountSettings)
class AccountSettingsAdmin(admin.ModelAdmin):
    list_display = ["__str__", "purchased_seats", "seats_in_use"]

    @admin.display(description=gettext_lazy("Seats in use"))
    def seats_in_use(self, obj):
        return Seat.objects.count()

    def has_add_permission(self, request):
        return not AccountSettings.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Seat)
class SeatAdmin(admin.ModelAdmin):
    list_display = ["user", "given_at", "given_by"]
    list_select_related = ["user", "given_by"]
    search_fields = ["user__username", "user__email"]
    autocomplete_fields = ["user"]
    readonly_fields = ["given_by"]

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        if obj is not None:
            return form

        class NewSeatForm(form):
            def clean(self):
                services.check_seat_free()  # a clear form error instead of a failed save
                return super().clean()

        return NewSeatForm

    def has_change_permission(self, request, obj=None):
        return False  # a seat is given (the add form) or removed, never moved

    def save_model(self, request, obj, form, change):
        seat = services.give_seat(user=obj.user, by=request.user)
        obj.pk, obj.given_at, obj.given_by = seat.pk, seat.given_at, seat.given_by

    def delete_model(self, request, obj):
        services.remove_seat(user=obj.user)

    def delete_queryset(self, request, queryset):
        for seat in queryset.select_related("user"):
            services.remove_seat(user=seat.user)


class TeamMembershipInline(admin.TabularInline):
    model = TeamMembership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "main_members", "all_members"]
    search_fields = ["name"]
    inlines = [TeamMembershipInline]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                n_main=Count("memberships", filter=Q(memberships__role=TeamMembership.Role.MAIN)),
                n_all=Count("memberships"),
            )
        )

    @admin.display(description=gettext_lazy("Main members"), ordering="n_main")
    def main_members(self, obj):
        return obj.n_main

    @admin.display(description=gettext_lazy("All members"), ordering="n_all")
    def all_members(self, obj):
        return obj.n_all


@admin.register(TeamMembership)
class TeamMembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "team", "role"]
    list_filter = ["role", "team"]
    list_select_related = ["user", "team"]
    search_fields = ["user__username", "team__name"]
    autocomplete_fields = ["user", "team"]


@admin.register(Skill)
class SkillAdmin(admin.ModelAdmin):
    list_display = ["name"]
    search_fields = ["name"]
    inlines = [AgentSkillInline]


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = ["__str__", "email", "phone", "whatsapp_id", "owner", "created_at"]
    list_select_related = ["owner"]
    list_filter = [("owner", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["name", "email", "phone", "whatsapp_id"]
    autocomplete_fields = ["owner"]


class MessageInline(admin.TabularInline):
    model = Message
    extra = 0
    fields = ["created_at", "direction", "author", "body", "external_id"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


class AssignmentEventInline(admin.TabularInline):
    model = AssignmentEvent
    fk_name = "ticket"
    extra = 0
    fields = ["created_at", "cause", "actor", "from_owner", "to_owner", "from_team", "to_team"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


def _priority_action(priority: Ticket.Priority):
    """An admin action that sets the selected tickets' priority through the service."""

    def describe() -> str:
        return gettext("Set priority: %(priority)s") % {"priority": str(priority.label).lower()}

    @admin.action(description=lazy(describe, str)(), permissions=["change"])
    def action(modeladmin, request, queryset):
        changed = 0
        for ticket in queryset.order_by("pk"):
            before = ticket.priority
            services.set_priority(ticket=ticket, priority=priority, actor=request.user)
            changed += ticket.priority != before
        modeladmin.message_user(
            request,
            ngettext(
                "Priority %(priority)s: %(count)s ticket(s) changed.",
                "Priority %(priority)s: %(count)s ticket(s) changed.",
                changed,
            )
            % {"priority": str(priority.label).lower(), "count": changed},
        )

    action.__name__ = f"set_priority_{priority.name.lower()}"
    return action


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    """Tickets are read here (the change page is read-only); the actions change them through
    the services, as the helpdesk pages do — with a version bump, an assignment event and
    the domain events the other apps listen to."""

    list_display = [
        "id",
        "subject",
        "status",
        "priority",
        "ticket_type",
        "channel",
        "owner",
        "team",
        "routing_state",
        "created_at",
    ]
    list_filter = ["status", "ticket_type", "priority", "routing_state", "channel", "team"]
    list_select_related = ["channel", "owner", "team"]
    search_fields = ["subject", "contact__email", "contact__name"]
    date_hierarchy = "created_at"
    show_full_result_count = False
    inlines = [MessageInline, AssignmentEventInline]
    actions = [
        "assign_to_me",
        "close_tickets",
        "reopen_tickets",
        *(_priority_action(priority) for priority in Ticket.Priority),
    ]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        # The list (obj None) keeps the permission, for the actions; a ticket's page is
        # read-only, so nothing saves a ticket without its service.
        return obj is None and super().has_change_permission(request)

    @admin.action(description=gettext_lazy("Assign to me"), permissions=["change"])
    def assign_to_me(self, request, queryset):
        """As the ticket page's "Assign to me": the ticket keeps its team when I am a member
        of it, else it loses it."""
        my_teams = set(request.user.memberships.values_list("team_id", flat=True))
        changed = 0
        for ticket in queryset.select_related("team").order_by("pk"):
            team = ticket.team if ticket.team_id in my_teams else None
            try:
                event = services.assign(
                    ticket=ticket,
                    owner=request.user,
                    team=team,
                    actor=request.user,
                    cause=AssignmentEvent.Cause.MANUAL,
                )
            except ValidationError as exc:
                self.message_user(request, " ".join(exc.messages), messages.ERROR)
                return
            changed += event is not None
        self.message_user(
            request,
            ngettext(
                "Assigned to you: %(count)s ticket(s).",
                "Assigned to you: %(count)s ticket(s).",
                changed,
            )
            % {"count": changed},
            messages.SUCCESS,
        )

    @admin.action(description=gettext_lazy("Close"), permissions=["change"])
    def close_tickets(self, request, queryset):
        closed = 0
        for ticket in queryset.exclude(status=Ticket.Status.CLOSED).order_by("pk"):
            services.close(ticket=ticket, actor=request.user)
            closed += ticket.status == Ticket.Status.CLOSED
        self.message_user(
            request,
            ngettext("Closed: %(count)s ticket(s).", "Closed: %(count)s ticket(s).", closed)
            % {"count": closed},
            messages.SUCCESS,
        )

    @admin.action(description=gettext_lazy("Reopen"), permissions=["change"])
    def reopen_tickets(self, request, queryset):
        reopened = 0
        for ticket in queryset.filter(status=Ticket.Status.CLOSED).order_by("pk"):
            services.reopen(ticket=ticket, actor=request.user)
            reopened += ticket.status != Ticket.Status.CLOSED
        self.message_user(
            request,
            ngettext("Reopened: %(count)s ticket(s).", "Reopened: %(count)s ticket(s).", reopened)
            % {"count": reopened},
            messages.SUCCESS,
        )


@admin.register(AssignmentEvent)
class AssignmentEventAdmin(admin.ModelAdmin):
    list_display = ["ticket", "cause", "actor", "from_owner", "to_owner", "to_team", "created_at"]
    list_filter = ["cause"]
    list_select_related = ["ticket", "actor", "from_owner", "to_owner", "to_team"]
    search_fields = ["ticket__subject"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are created by the token service; the raw value is shown once, in the
    confirmation message. A token is then read or deleted, never edited."""

    list_display = ["name", "user", "prefix", "created_at", "last_used_at"]
    list_select_related = ["user"]
    search_fields = ["name", "user__username"]
    autocomplete_fields = ["user"]
    fields = ["user", "name"]

    def has_change_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        raw = services.create_api_token(user=obj.user, name=obj.name)
        obj.pk = ApiToken.objects.values_list("pk", flat=True).get(key_hash=hash_token(raw))
        obj.refresh_from_db()
        self.message_user(
            request,
            gettext("Copy this token now, it will not be shown again: %(token)s") % {"token": raw},
            messages.WARNING,
        )


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    """Background work recorded in PostgreSQL (the broker only rings the bell): pending
    jobs are published again by the sweep, failed ones keep their error."""

    list_display = ["created_at", "key", "task", "state", "attempts", "due_at", "done_at"]
    list_filter = ["state", "task"]
    search_fields = ["key"]
    date_hierarchy = "created_at"
    actions = ["retry"]
    readonly_fields = [
        "key",
        "task",
        "kwargs",
        "state",
        "attempts",
        "created_at",
        "due_at",
        "done_at",
        "last_error",
    ]

    def has_add_permission(self, request):
        return False

    @admin.action(description=gettext_lazy("Retry the selected failed jobs"))
    def retry(self, request, queryset):
        count = jobs.retry_failed(ids=queryset.values_list("pk", flat=True))
        self.message_user(
            request,
            ngettext(
                "%(count)s failed jobs will run again with the next sweep.",
                "%(count)s failed jobs will run again with the next sweep.",
                count,
            )
            % {"count": count},
            messages.SUCCESS,
        )


@admin.register(InboundEvent)
class InboundEventAdmin(admin.ModelAdmin):
    """Every input a channel delivered, stored raw before it was processed
    (helpdesk/services/intake.py). Failed and quarantined events keep their error and raw
    bytes; **Retry** sets them back to received and hands them to a worker again."""

    list_display = ["received_at", "kind", "channel", "short_source", "status", "attempts"]
    list_filter = ["status", "kind", "channel"]
    list_select_related = ["channel"]
    search_fields = ["source_id", "error"]
    date_hierarchy = "received_at"
    actions = ["retry"]
    exclude = ["raw"]
    readonly_fields = [
        "channel",
        "kind",
        "source_id",
        "received_at",
        "processed_at",
        "status",
        "attempts",
        "error",
        "ticket",
        "message",
        "headers",
        "payload",
        "raw_size",
        "raw_preview",
        "raw_download",
    ]

    def get_queryset(self, request):
        # The list never loads the raw bytes (megabytes per mail); one page loads them once.
        return super().get_queryset(request).defer("raw")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description=gettext_lazy("source id"))
    def short_source(self, obj):
        return obj.source_id[:60]

    @admin.display(description=gettext_lazy("raw size (bytes)"))
    def raw_size(self, obj):
        return len(obj.raw or b"")

    @admin.display(description=gettext_lazy("raw (first 8 KiB, as text)"))
    def raw_preview(self, obj):
        # Escaped by the admin like every readonly value: shown as text, never as HTML.
        return bytes(obj.raw or b"")[:8192].decode("utf-8", "replace")

    @admin.display(description=gettext_lazy("download"))
    def raw_download(self, obj):
        from django.urls import reverse
        from django.utils.html import format_html

        url = reverse("admin:helpdesk_inboundevent_raw", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, gettext("raw bytes"))

    def get_urls(self):
        from django.urls import path

        return [
            path(
                "<int:event_id>/raw/",
                self.admin_site.admin_view(self.raw_view),
                name="helpdesk_inboundevent_raw",
            ),
            *super().get_urls(),
        ]

    def raw_view(self, request, event_id):
        from django.core.exceptions import PermissionDenied
        from django.http import HttpResponse
        from django.shortcuts import get_object_or_404

        if not self.has_view_permission(request):
            raise PermissionDenied
        event = get_object_or_404(InboundEvent, pk=event_id)
        suffix = ".eml" if event.kind == "email" else ".bin"
        response = HttpResponse(bytes(event.raw or b""), content_type="application/octet-stream")
        response["Content-Disposition"] = f'attachment; filename="inbound-{event.pk}{suffix}"'
        response["X-Content-Type-Options"] = "nosniff"
        return response

    @admin.action(description=gettext_lazy("Retry the selected failed or quarantined events"))
    def retry(self, request, queryset):
        from helpdesk.services.intake import retry_failed_inbound

        retried = retry_failed_inbound(queryset.values_list("pk", flat=True))
        self.message_user(
            request,
            ngettext(
                "%(count)s events will be processed again.",
                "%(count)s events will be processed again.",
                len(retried),
            )
            % {"count": len(retried)},
            messages.SUCCESS,
        )
