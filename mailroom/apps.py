from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class MailroomConfig(AppConfig):
    name = "mailroom"
    verbose_name = gettext_lazy("Email")

    def ready(self) -> None:
        from helpdesk import events
        from mailroom import receivers

        events.message_added.connect(
            receivers.on_message_added, dispatch_uid="mailroom.on_message_added"
        )

        from helpdesk.outbox import register_sender
        from mailroom import outbound

        register_sender("email", retry=outbound.retry_outbound)  # the thread's Retry

        from channels_cfg.panels import register_details_panel
        from mailroom.settings_panel import MailPanel

        register_details_panel(MailPanel())  # the mail settings on a channel's Details tab
