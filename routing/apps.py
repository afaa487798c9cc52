from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class RoutingConfig(AppConfig):
    name = "routing"
    verbose_name = gettext_lazy("Routing")

    def ready(self) -> None:
        from helpdesk import events
        from routing import receivers

        events.ticket_created.connect(receivers.enqueue_routing, dispatch_uid="routing.enqueue")
