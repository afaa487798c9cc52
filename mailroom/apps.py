from django.apps import AppConfig


class MailroomConfig(AppConfig):
    name = "mailroom"
    verbose_name = "Email"

    def ready(self) -> None:
        from helpdesk import events
        from mailroom import receivers

        events.message_added.connect(
            receivers.on_message_added, dispatch_uid="mailroom.on_message_added"
        )
