from django.apps import AppConfig


class RedPacketsConfig(AppConfig):
    name = "redpackets"
    verbose_name = "Red packets"
