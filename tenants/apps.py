from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "tenants"
    verbose_name = "Customer tenants"

    def ready(self) -> None:
        from partner_portal.core.signin_throttle import PASSWORD_REFUSALS
        from tenants import account_audit
        from tenants.staff_signin import signs_in_with_microsoft

        account_audit.connect()
        if signs_in_with_microsoft not in PASSWORD_REFUSALS:
            PASSWORD_REFUSALS.append(signs_in_with_microsoft)
