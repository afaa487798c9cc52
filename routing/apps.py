from django.apps import AppConfig


class RoutingConfig(AppConfig):
    name = "routing"
    verbose_name = "Routing"

    def ready(self) -> None:
        from helpdesk import events
        from routing import receivers

        events.ticket_created.connect(receivers.enqueue_routing, dispatch_uid="routing.enqueue")
