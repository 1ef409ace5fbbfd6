from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "partner_portal.core"
    label = "core"
    verbose_name = "Portal"
