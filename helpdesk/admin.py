"""Django admin for the helpdesk's models. Actions go through the services, never raw saves."""

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.core.exceptions import ValidationError
from django.db.models import Count, Q

from helpdesk import jobs, services
from helpdesk.models import (
    AccountSettings,
    AgentSkill,
    ApiToken,
    AssignmentEvent,
    Channel,
    Contact,
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
    title = "seat"
    parameter_name = "seat"

    def lookups(self, request, model_admin):
        return [("yes", "Has a seat"), ("no", "No seat")]

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
        ("Helpdesk", {"fields": ["time_zone", "status", "availability_mode"]}),
    ]
    actions = ["give_seat", "remove_seat", "set_available", "set_away"]

    @admin.display(description="Name")
    def full_name(self, obj):
        return obj.get_full_name()

    @admin.display(boolean=True, description="Seat")
    def has_seat(self, obj):
        return hasattr(obj, "seat")

    @admin.action(description="Give a helpdesk seat")
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
            self.message_user(request, f"Seats given or kept: {given}.", messages.SUCCESS)

    @admin.action(description="Remove the helpdesk seat")
    def remove_seat(self, request, queryset):
        removed = sum(services.remove_seat(user=user) for user in queryset)
        self.message_user(request, f"Seats removed: {removed}.", messages.SUCCESS)

    @admin.action(description="Set available")
    def set_available(self, request, queryset):
        for user in queryset:
            services.set_status(user=user, status=User.Status.AVAILABLE)
        self.message_user(request, f"{queryset.count()} user(s) set to available.")

    @admin.action(description="Set away")
    def set_away(self, request, queryset):
        for user in queryset:
            services.set_status(user=user, status=User.Status.AWAY)
        self.message_user(request, f"{queryset.count()} user(s) set to away.")


@admin.register(AccountSettings)
class AccountSettingsAdmin(admin.ModelAdmin):
    list_display = ["__str__", "purchased_seats", "seats_in_use"]

    @admin.display(description="Seats in use")
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

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        seat = services.give_seat(user=obj.user, by=request.user)
        obj.pk, obj.given_at, obj.given_by = seat.pk, seat.given_at, seat.given_by


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

    @admin.display(description="Main members", ordering="n_main")
    def main_members(self, obj):
        return obj.n_main

    @admin.display(description="All members", ordering="n_all")
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


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "address", "is_active", "ticket_type_label"]
    list_filter = ["kind", "is_active"]
    search_fields = ["name", "address"]

    @admin.display(description="Ticket type")
    def ticket_type_label(self, obj):
        return obj.TICKET_TYPE_BY_KIND[obj.kind].label


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


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    """Tickets are read here; owner, team and status change in the helpdesk (services)."""

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
    readonly_fields = [
        "owner",
        "team",
        "assigned_at",
        "status",
        "closed_at",
        "routing_state",
        "ticket_type",
        "source",
        "version",
        "created_at",
        "updated_at",
        "last_activity_at",
    ]
    autocomplete_fields = ["contact"]
    inlines = [MessageInline, AssignmentEventInline]

    def has_add_permission(self, request):
        return False


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
    """A new token's raw value is shown once, in the confirmation message."""

    list_display = ["name", "user", "prefix", "created_at", "last_used_at"]
    list_select_related = ["user"]
    search_fields = ["name", "user__username"]
    autocomplete_fields = ["user"]
    fields = ["user", "name"]

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        raw = ApiToken.generate_key()
        obj.set_key(raw)
        super().save_model(request, obj, form, change)
        self.message_user(
            request,
            f"Copy this token now, it will not be shown again: {raw}",
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

    @admin.action(description="Retry the selected failed jobs")
    def retry(self, request, queryset):
        count = jobs.retry_failed(ids=queryset.values_list("pk", flat=True))
        self.message_user(
            request, f"{count} failed jobs will run again with the next sweep.", messages.SUCCESS
        )
