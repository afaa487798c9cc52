from django.contrib import admin

from routing.models import CapacityLimit, RoundRobinTurn, RoutingDecision, WaitingTicket


@admin.register(RoutingDecision)
class RoutingDecisionAdmin(admin.ModelAdmin):
    """Every automatic decision with its explanation; read-only."""

    list_display = [
        "ticket",
        "created_at",
        "channel",
        "outcome",
        "strategy",
        "owner",
        "team",
        "duration_ms",
        "summary",
    ]
    list_filter = ["outcome", "strategy", "mode", "channel", "created_at"]
    list_select_related = ["ticket", "channel", "owner", "team"]
    search_fields = ["ticket__subject", "summary", "owner__username"]
    date_hierarchy = "created_at"
    show_full_result_count = False
    readonly_fields = [f.name for f in RoutingDecision._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(CapacityLimit)
class CapacityLimitAdmin(admin.ModelAdmin):
    list_display = ["__str__", "user", "ticket_type", "max_open"]
    list_filter = ["ticket_type"]
    list_select_related = ["user"]
    autocomplete_fields = ["user"]


class EngineStateAdmin(admin.ModelAdmin):
    """Rows the routing engine writes as it decides; read-only here."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(RoundRobinTurn)
class RoundRobinTurnAdmin(EngineStateAdmin):
    list_display = ["channel", "user", "last_assigned_at"]
    list_filter = ["channel"]
    list_select_related = ["channel", "user"]


@admin.register(WaitingTicket)
class WaitingTicketAdmin(EngineStateAdmin):
    list_display = ["ticket", "since"]
    list_select_related = ["ticket"]
