from django.apps import AppConfig


class LivechatConfig(AppConfig):
    name = "livechat"
    verbose_name = "Live chat"

    def ready(self) -> None:
        from helpdesk import events
        from livechat import receivers

        events.message_added.connect(
            receivers.on_message_added, dispatch_uid="livechat.on_message_added"
        )

        from helpdesk.outbox import register_sender
        from livechat import webhooks

        register_sender(webhooks.WEBHOOK, retry=webhooks.retry_outbound)  # the thread's Retry

        from channels_cfg.panels import register_details_panel
        from livechat.settings_panel import ChatPanel

        register_details_panel(ChatPanel())  # the chat settings on a channel's Details tab
