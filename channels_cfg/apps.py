from django.apps import AppConfig


class ChannelsCfgConfig(AppConfig):
    name = "channels_cfg"
    verbose_name = "Channels and automation"
