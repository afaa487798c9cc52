from django.contrib import admin, messages
from django.utils.translation import gettext_lazy, ngettext

from notifications.delivery import retry_failed
from notifications.models import DefaultPreference, Delivery, Notification, Preference, QuietHours
from notifications.services import publish_deliveries


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    """Every notification sent or to send; failed ones keep their error (filter by status)."""

    list_display = ["created_at", "recipient", "medium", "event", "status", "attempts", "sent_at"]
    list_filter = ["status", "medium", "event"]
    search_fields = ["event_key", "recipient__username", "recipient__email", "text"]
    list_select_related = ["recipient"]
    date_hierarchy = "created_at"
    actions = ["retry"]
    readonly_fields = [
        "event_key",
        "event",
        "recipient",
        "medium",
        "ticket",
        "text",
        "detail",
        "status",
        "attempts",
        "last_error",
        "created_at",
        "claimed_at",
        "due_at",
        "sent_at",
        "notification",
    ]

    def has_add_permission(self, request):
        return False

    @admin.action(description=gettext_lazy("Retry the selected failed deliveries"))
    def retry(self, request, queryset):
        ids = retry_failed(ids=queryset.values_list("pk", flat=True))
        publish_deliveries(ids)
        count = len(ids)
        # The English reads the same for one and many ("1 failed deliveries …", as always).
        done = ngettext(
            "%(count)s failed deliveries enqueued again.",
            "%(count)s failed deliveries enqueued again.",
            count,
        )
        self.message_user(request, done % {"count": count}, messages.SUCCESS)


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["created_at", "recipient", "event", "text", "read_at"]
    list_filter = ["event", ("read_at", admin.EmptyFieldListFilter)]
    search_fields = ["recipient__username", "text"]
    list_select_related = ["recipient"]
    raw_id_fields = ["recipient", "ticket"]


@admin.register(Preference)
class PreferenceAdmin(admin.ModelAdmin):
    list_display = ["user", "event", "medium", "enabled", "updated_at"]
    list_filter = ["event", "medium", "enabled"]
    search_fields = ["user__username"]
    list_select_related = ["user"]
    raw_id_fields = ["user"]


@admin.register(DefaultPreference)
class DefaultPreferenceAdmin(admin.ModelAdmin):
    """Read-only here: superadmins change the defaults on /notifications/defaults/."""

    list_display = ["event", "medium", "enabled", "team", "user", "updated_by", "updated_at"]
    list_filter = ["event", "medium", "enabled"]
    list_select_related = ["team", "user", "updated_by"]

    def has_module_permission(self, request):
        return request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(QuietHours)
class QuietHoursAdmin(admin.ModelAdmin):
    list_display = ["user", "enabled", "updated_at"]
    list_filter = ["enabled"]
    raw_id_fields = ["user"]
