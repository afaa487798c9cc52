from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class ChannelsCfgConfig(AppConfig):
    name = "channels_cfg"
    verbose_name = gettext_lazy("Channels and automation")
