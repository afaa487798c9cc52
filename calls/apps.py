from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class CallsConfig(AppConfig):
    name = "calls"
    verbose_name = gettext_lazy("Calls")

    def ready(self) -> None:
        # Registers `process_call_task`, which the intake sweep publishes by its name
        # (`settings.INTAKE_TASKS["call"]`).
        from calls import tasks  # noqa: F401
        from calls.settings_panel import CallPanel
        from channels_cfg.panels import register_details_panel

        register_details_panel(CallPanel())  # the call settings on a channel's Details tab
