from django.apps import AppConfig


class WebformsConfig(AppConfig):
    name = "webforms"
    verbose_name = "Web forms"

    def ready(self) -> None:
        from channels_cfg.panels import register_details_panel
        from webforms import tasks  # noqa: F401
        from webforms.settings_panel import FormPanel

        # `tasks`: registered in every process (web processes publish them by name, through
        # settings.INTAKE_TASKS, and never import them otherwise).
        register_details_panel(FormPanel())  # the form's page on its channel's Details tab
