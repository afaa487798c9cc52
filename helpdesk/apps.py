from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy


class HelpdeskConfig(AppConfig):
    name = "helpdesk"
    verbose_name = gettext_lazy("Helpdesk")

    def ready(self) -> None:
        from helpdesk.services.groups import ensure_default_groups

        post_migrate.connect(ensure_default_groups, sender=self)
