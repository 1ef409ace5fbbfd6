from django.apps import AppConfig


class HuntingConfig(AppConfig):
    name = "partner_portal.hunting"
    label = "hunting"
    verbose_name = "Hunting across customers"
