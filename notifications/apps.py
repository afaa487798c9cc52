from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = gettext_lazy("Notifications")

    def ready(self) -> None:
        from helpdesk import events
        from notifications import receivers

        connections = [
            (events.ticket_created, receivers.on_ticket_created),
            (events.ticket_routed, receivers.on_ticket_routed),
            (events.ticket_assigned, receivers.on_ticket_assigned),
            (events.message_added, receivers.on_message_added),
        ]
        for signal, receiver in connections:
            signal.connect(receiver, dispatch_uid=f"notifications.{receiver.__name__}")
