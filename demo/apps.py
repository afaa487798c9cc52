from django.apps import AppConfig


class DemoConfig(AppConfig):
    """`manage.py seed_demo`: the demo data of `make run`. It sits above every app (it may
    import all of them, none imports it), so the core stays free of the others."""

    name = "demo"
    verbose_name = "Demo data"
