from django.apps import AppConfig


class WhatsAppConfig(AppConfig):
    name = "whatsapp"
    verbose_name = "WhatsApp"

    def ready(self) -> None:
        from helpdesk import events
        from whatsapp import receivers

        events.message_added.connect(
            receivers.on_message_added, dispatch_uid="whatsapp.on_message_added"
        )

        from helpdesk.outbox import register_sender
        from whatsapp import outbound

        register_sender(outbound.OUTBOUND, retry=outbound.retry_outbound)  # the thread's Retry

        from channels_cfg.panels import register_details_panel
        from whatsapp.settings_panel import WhatsAppPanel

        register_details_panel(WhatsAppPanel())  # the settings on a channel's Details tab
