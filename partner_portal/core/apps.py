from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "partner_portal.core"
    label = "core"
    verbose_name = "Portal"

    def ready(self) -> None:
        from partner_portal.core import checks  # noqa: F401  (registers the checks)
