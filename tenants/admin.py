"""Django admin views of the onboarding records: for looking, not for changing.

Every change to a customer, a consent link or a scope goes through the portal's own
pages and services, which validate it and write the audit trail; the admin shows the
records read-only so that nothing can skip either.
"""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from tenants.models import AnalystScope, AuditEvent, ConsentRequest, Customer


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Customer)
class CustomerAdmin(ReadOnlyAdmin):
    """Customers are registered, edited, offboarded and deleted on the Customers pages."""

    list_display = ("display_name", "status", "tenant_id", "cloud", "last_verified_at")
    list_filter = ("status", "cloud")
    search_fields = ("display_name", "tenant_id", "contact_email")


@admin.register(ConsentRequest)
class ConsentRequestAdmin(ReadOnlyAdmin):
    list_display = ("customer", "flow", "outcome", "created_at", "expires_at", "used_at")
    list_filter = ("outcome", "flow")
    exclude = ("state_hash",)


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    """The audit trail is append-only, also here."""

    list_display = ("created_at", "actor_label", "action", "customer_name", "summary")
    list_filter = ("action",)
    search_fields = ("summary", "customer_name", "actor_label")


@admin.register(AnalystScope)
class AnalystScopeAdmin(ReadOnlyAdmin):
    """Grants of customers to analysts; granted and revoked, audited, on the Scopes page."""

    list_display = ("__str__", "user", "group", "customer", "all_customers", "granted_at")
    list_filter = ("all_customers", "group")
    search_fields = ("user__username", "group__name", "customer__display_name")
