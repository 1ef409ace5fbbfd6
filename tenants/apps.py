from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "tenants"
    verbose_name = "Customer tenants"

    def ready(self) -> None:
        from tenants import account_audit

        account_audit.connect()
