from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class RoutingConfig(AppConfig):
    name = "routing"
    verbose_name = gettext_lazy("Routing")

    def ready(self) -> None:
        from helpdesk import events
        from helpdesk.owner_search import owner_marks
        from routing import receivers

        events.ticket_created.connect(receivers.enqueue_routing, dispatch_uid="routing.enqueue")
        # The ticket page's owner picker marks who is at capacity for the ticket's type.
        owner_marks.connect(receivers.mark_at_capacity, dispatch_uid="routing.at_capacity")
